"""Shared test helpers, one module per thing they support."""
