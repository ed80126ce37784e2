"""Tokens: verifying them into an Identity, and minting them for `run.py token`."""
