"""Wiring: builds the aiohttp app and Socket.IO server and owns every resource's lifecycle."""

from server.app import create_app, runner_options

__all__ = ["create_app", "runner_options"]
