"""create_app: the aiohttp application, its Socket.IO server, routes and resource lifecycles."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import engineio
import redis.asyncio as redis
import socketio
from aiohttp import web

from config import Settings
from geo import DeviceParser, Enricher, Locator, default_resolver, open_city_reader
from handlers.api import (
    attendances,
    breakouts,
    health,
    metrics,
    presence,
    reports,
    schools,
    sessions,
)
from handlers.http.cors import cors_middleware, socketio_origins
from handlers.http.problems import problem_middleware
from handlers.keys import (
    ATTENDANCE,
    BREAKOUTS,
    BROADCASTER,
    CHECKINS,
    COMMANDS,
    ENRICHER,
    METRICS,
    NODE_ID,
    POOL,
    REPORTS,
    SCHOOLS,
    SETTINGS,
    SIO,
    TOKENS,
    WRITER,
)
from handlers.socket.audience import AudienceNamespace
from handlers.socket.broadcast import PresenceBroadcaster
from handlers.socket.cluster import ClusterCommands
from handlers.socket.protocol import GuardedServer
from models.auth.tokens import TokenAuthority
from models.cluster.bus import Bus, MemoryBus, RedisBus
from models.cluster.nodes import NodeRegistry, keep_heartbeating
from models.domain.records import ExitReason, now_ms
from models.jobs.retention import purge_daily
from models.live.desk import Attendance
from models.live.presence import MemoryPresence, PresenceStore
from models.live.redis_presence import RedisPresence, connect_redis
from models.reports.report import BreakoutRules, Reports
from models.reports.rollups import keep_rolling_up
from models.runtime.loops import stop_task
from models.runtime.metrics import Metrics
from models.schools.checkins import CheckIns
from models.schools.directory import Schools
from models.store.breakouts import BreakoutDirectory
from models.writes.journal import Journal
from models.writes.writer import SessionWriter
from server.database import database_url, open_pool

logger = logging.getLogger(__name__)

PRESENCE: web.AppKey[PresenceStore] = web.AppKey("presence")
REDIS: web.AppKey[redis.Redis] = web.AppKey("redis")
BUS: web.AppKey[Bus] = web.AppKey("bus")


def new_node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        # CORS outermost, so refusals (problem JSON) carry its headers too.
        middlewares=[cors_middleware(settings.cors_origins), problem_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[NODE_ID] = new_node_id()
    app[METRICS] = Metrics()
    app[TOKENS] = TokenAuthority.from_settings(settings)

    sio = GuardedServer(
        async_mode="aiohttp",
        # With Redis, emits to rooms and sockets reach them on whichever node they are.
        client_manager=(
            socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
        ),
        ping_interval=settings.ping_interval_s,
        ping_timeout=settings.ping_timeout_s,
        max_http_buffer_size=settings.max_message_bytes,
        transports=["websocket"] if settings.websocket_only else ["polling", "websocket"],
        cors_allowed_origins=socketio_origins(settings.cors_origins),
        logger=False,
        engineio_logger=False,
    )
    sio.register_namespace(AudienceNamespace(app))
    sio.attach(app)
    app[SIO] = sio

    health.add_routes(app)
    sessions.add_routes(app)
    presence.add_routes(app)
    breakouts.add_routes(app)
    metrics.add_routes(app)
    schools.add_routes(app)
    attendances.add_routes(app)
    reports.add_routes(app)

    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_enrichment)
    app.cleanup_ctx.append(_presence)
    app.cleanup_ctx.append(_attendance)
    app.cleanup_ctx.append(_schools)
    app.cleanup_ctx.append(_rollups)
    app.cleanup_ctx.append(_bus)
    app.cleanup_ctx.append(_broadcasts)
    app.cleanup_ctx.append(_cluster)
    app.cleanup_ctx.append(_heartbeats)
    if settings.retention_days > 0:
        app.cleanup_ctx.append(_retention)
    app.on_shutdown.append(_close_sessions)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with database_url(settings) as url:
        pool = await open_pool(url, settings.db_pool_size)
        app[POOL] = pool
        yield
        await pool.close()


async def _enrichment(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    reader = open_city_reader(settings.geoip_db)
    locator = Locator(reader, settings.geoip_cache_size)
    devices = DeviceParser(default_resolver(), settings.ua_cache_size)
    app[ENRICHER] = Enricher(locator, devices, settings.trusted_proxies)
    metrics = app[METRICS]
    for name, cache in (("geoip", locator.locate), ("user_agent", devices.cache)):
        metrics.observe(metrics.cache_hit_ratio.labels(cache=name), _hit_ratio(cache))
    yield
    reader.close()


def _hit_ratio(cache: Any) -> Callable[[], float]:
    def ratio() -> float:
        info = cache.cache_info()
        lookups = info.hits + info.misses
        return float(info.hits / lookups) if lookups else 0.0

    return ratio


async def _presence(app: web.Application) -> AsyncIterator[None]:
    url = app[SETTINGS].redis_url
    if url is None:
        app[PRESENCE] = MemoryPresence()
        yield
        return
    client = connect_redis(url, app[SETTINGS].redis_pool_size)
    await client.ping()
    app[REDIS] = client
    app[PRESENCE] = RedisPresence(client)
    yield
    await client.aclose()


async def _attendance(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = app[POOL]
    journal = Journal(settings.journal_path)
    await asyncio.to_thread(journal.open)
    writer = SessionWriter(
        pool,
        batch_max_rows=settings.writer_batch_max_rows,
        batch_max_wait_s=settings.writer_batch_max_wait_ms / 1000,
        batch_wait_min_rows=settings.writer_batch_wait_min_rows,
        queue_max=settings.writer_queue_max,
        journal=journal,
        retry_s=settings.db_retry_s,
        commit_timeout_s=settings.writer_commit_timeout_s,
        metrics=app[METRICS],
    )
    app[WRITER] = writer
    breakouts = BreakoutDirectory(
        pool, auto_create=settings.auto_create_breakouts, cache_s=settings.breakout_cache_s
    )
    app[BREAKOUTS] = breakouts
    app[ATTENDANCE] = Attendance(
        writer=writer,
        breakouts=breakouts,
        presence=app[PRESENCE],
        node_id=app[NODE_ID],
        device_limit=settings.playback_device_limit,
        metrics=app[METRICS],
    )
    metrics = app[METRICS]
    metrics.observe(metrics.connected_sockets, lambda: app[ATTENDANCE].connections)
    metrics.observe(metrics.writer_queue, lambda: writer.depth)
    metrics.observe(metrics.journal_backlog, lambda: writer.journal_backlog)
    writer.start()
    yield
    await writer.close()
    journal.close()


async def _schools(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = app[POOL]
    app[SCHOOLS] = Schools(pool, default_school_days=settings.school_days)
    app[CHECKINS] = CheckIns(
        pool,
        fever_threshold_c=settings.fever_threshold_c,
        max_future_s=settings.checkin_max_future_s,
    )
    app[REPORTS] = Reports(
        pool,
        app[BREAKOUTS],
        day_min_seconds=settings.present_day_min_hours * 3600,
        period_min_ratio=settings.present_period_min_percent / 100,
        breakout_rules=BreakoutRules(
            min_minutes=settings.breakout_present_min_minutes,
            min_percent=settings.breakout_present_min_percent,
        ),
    )
    yield


async def _rollups(app: web.Application) -> AsyncIterator[None]:
    """Keep the daily-presence rollups current (every node may run it; days are claimed)."""
    stopping = asyncio.Event()
    task = asyncio.create_task(
        keep_rolling_up(app[POOL], every_s=app[SETTINGS].rollup_interval_s, stopping=stopping),
        name="rollups",
    )
    yield
    await stop_task(task, stopping)


async def _bus(app: web.Application) -> AsyncIterator[None]:
    bus: Bus = RedisBus(app[REDIS]) if REDIS in app else MemoryBus()
    app[BUS] = bus
    await bus.start()
    yield
    await bus.close()


async def _broadcasts(app: web.Application) -> AsyncIterator[None]:
    sio = app[SIO]
    manager = sio.manager

    async def emit_here(event: str, data: dict[str, Any], rooms: list[str]) -> None:
        # This process's sockets only: every node gets the updates on the bus and sends them
        # to its own. Most rooms have nobody here to send to (no host watching): nothing is
        # encoded for them. The packet is encoded once, without the manager's binary scan
        # (presence is plain JSON) and without its task per recipient.
        recipients = [eio_sid for _, eio_sid in manager.get_participants("/", rooms)]
        if not recipients:
            return
        packet = sio.packet_class(socketio.packet.EVENT, data=[event, data], binary=False)
        message = engineio.packet.Packet(engineio.packet.MESSAGE, packet.encode())
        for eio_sid in recipients:
            await sio.eio.send_packet(eio_sid, message)

    broadcaster = PresenceBroadcaster(
        emit_here, app[BUS], app[PRESENCE], app[SETTINGS].presence_interval_ms / 1000
    )
    app[BROADCASTER] = broadcaster
    broadcaster.start()
    yield
    await broadcaster.close()


async def _cluster(app: web.Application) -> AsyncIterator[None]:
    app[COMMANDS] = ClusterCommands(app[SIO], app[ATTENDANCE], app[BROADCASTER], app[BUS])
    yield


async def _heartbeats(app: web.Application) -> AsyncIterator[None]:
    """With Redis: beat, and close the sessions of nodes that stopped beating (node_lost)."""
    if REDIS not in app:
        yield
        return
    settings = app[SETTINGS]
    registry = NodeRegistry(app[REDIS], app[NODE_ID])
    await registry.beat(now_ms())
    stopping = asyncio.Event()
    task = asyncio.create_task(
        keep_heartbeating(
            registry,
            app[POOL],
            app[ATTENDANCE],
            interval_s=settings.heartbeat_interval_s,
            ttl_s=settings.heartbeat_ttl_s,
            clock=now_ms,
            on_exit=app[BROADCASTER].left,
            stopping=stopping,
        ),
        name="heartbeats",
    )
    yield
    await stop_task(task, stopping)
    await registry.forget(app[NODE_ID])  # a graceful stop closed its sessions already


async def _retention(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    stopping = asyncio.Event()
    task = asyncio.create_task(
        purge_daily(
            app[POOL],
            older_than_days=settings.retention_days,
            mode=settings.retention_mode,
            stopping=stopping,
        ),
        name="retention-purge",
    )
    yield
    await stop_task(task, stopping)


async def _close_sessions(app: web.Application) -> None:
    """Graceful stop: close every open session (reason `shutdown`), then the sockets.

    Sockets are closed here because aiohttp waits for open websocket handlers before it runs
    the cleanup contexts, and the writer must still be running when the sessions close.
    """
    if ATTENDANCE in app:
        closed = await app[ATTENDANCE].close_all(ExitReason.SHUTDOWN)
        logger.info("closed %d open sessions for shutdown", len(closed))
        broadcaster = app[BROADCASTER]
        for outcome in closed:
            broadcaster.left(outcome)
        await broadcaster.flush()  # hosts on other nodes learn of these exits now
    sio = app[SIO]
    # Not sio.eio.disconnect(): it waits for each socket's send queue to drain, forever when the
    # client closed its end a moment before (python-engineio 4.x). Closing without waiting
    # still sends CLOSE and ends each websocket handler.
    for engine_socket in list(sio.eio.sockets.values()):
        await engine_socket.close(wait=False, reason=sio.eio.reason.SERVER_DISCONNECT)
    sio.eio.sockets.clear()
    await sio.shutdown()
