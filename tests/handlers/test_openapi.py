"""The OpenAPI document names every route the server has, and no route it does not have."""

from __future__ import annotations

from openapi_spec_validator import validate

from config import load_settings
from handlers.api.openapi import DOCUMENT
from server import create_app

# The Engine.IO transport of Socket.IO: its contract is the README's, not an HTTP API.
NOT_DOCUMENTED = {"/socket.io/"}


def served_routes() -> set[tuple[str, str]]:
    app = create_app(load_settings({}))
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.method not in ("HEAD", "OPTIONS")
        and route.resource.canonical not in NOT_DOCUMENTED
    }


def documented_routes() -> set[tuple[str, str]]:
    return {(method, path) for path, item in DOCUMENT["paths"].items() for method in item}


def test_every_route_is_documented_and_every_documented_route_is_served() -> None:
    served, documented = served_routes(), documented_routes()
    assert served - documented == set(), "routes missing from /api/openapi.json"
    assert documented - served == set(), "documented routes the server does not have"


def test_the_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    validate(DOCUMENT)
