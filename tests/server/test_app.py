"""create_app's wiring: every resource comes after the ones it needs, whatever the settings."""

from __future__ import annotations

import pytest
from aiohttp import web

from config import load_settings
from server.app import add_resources, resources


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:1/0"])
def test_every_resource_comes_after_what_it_needs(redis_url: str) -> None:
    settings = load_settings({"REDIS_URL": redis_url, "RETENTION_DAYS": "30"})
    app = web.Application()
    add_resources(app, resources(settings))
    assert len(app.cleanup_ctx) == 1  # one context starts them in order, stops them in reverse


def test_redis_is_used_exactly_when_a_url_is_set() -> None:
    alone = resources(load_settings({}))
    clustered = resources(load_settings({"REDIS_URL": "redis://127.0.0.1:1/0"}))
    names = {r.context.__name__ for r in clustered} - {r.context.__name__ for r in alone}
    assert names == {"_redis", "_heartbeats"}


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:1/0"])
def test_a_resource_moved_before_what_it_needs_is_refused(redis_url: str) -> None:
    chosen = resources(load_settings({"REDIS_URL": redis_url}))
    names = [r.context.__name__ for r in chosen]
    attendance = chosen.pop(names.index("_attendance"))
    chosen.insert(names.index("_presence"), attendance)
    with pytest.raises(RuntimeError, match="_attendance needs"):
        add_resources(web.Application(), chosen)
