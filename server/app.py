"""create_app: the aiohttp application, its Socket.IO server, routes and resource lifecycles."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import engineio
import socketio
from aiohttp import web

from config import Settings
from geo import DeviceParser, Enricher, Locator, default_resolver, open_city_reader
from handlers.api import (
    attendances,
    breakouts,
    certificates,
    comments,
    corrections,
    health,
    metrics,
    openapi,
    presence,
    reports,
    rules,
    schools,
    sessions,
    webhooks,
)
from handlers.http.cors import cors_middleware, socketio_origins
from handlers.http.logs import AccessLog, quiet_malformed_requests
from handlers.http.problems import problem_middleware
from handlers.keys import (
    ATTENDANCE,
    BREAKOUT_REPORTS,
    BREAKOUTS,
    BROADCASTER,
    BUS,
    CERTIFICATES,
    CHAT,
    CHECKINS,
    COMMANDS,
    CORRECTIONS,
    ENGAGEMENT,
    ENRICHER,
    METRICS,
    NODE_ID,
    NODES,
    POOL,
    PRESENCE,
    REDIS,
    REPORTS_DATABASE,
    SCHOOL_REPORTS,
    SCHOOLS,
    SERVER_RULES,
    SETTINGS,
    SIO,
    TOKENS,
    WEBHOOKS,
    WRITER,
)
from handlers.outbound.events import render_event
from handlers.outbound.webhooks import HttpTransport
from handlers.pages import certificate, dashboard
from handlers.socket.audience import AudienceNamespace
from handlers.socket.broadcast import PresenceBroadcaster
from handlers.socket.cluster import ClusterCommands
from handlers.socket.codec import packet_codec
from handlers.socket.fanout import LocalFanOut, RedisFanOut
from handlers.socket.protocol import GuardedServer
from handlers.wire.names import COMMENT_DELETED, NEW_COMMENT, place_of_chat_room
from models.auth.tokens import TokenAuthority
from models.cluster.bus import Bus, MemoryBus, RedisBus
from models.cluster.nodes import Heartbeat, NodeRegistry
from models.domain.records import ExitReason, ids_of_place, now_ms
from models.evidence.certificates import Certificates
from models.evidence.corrections import Corrections
from models.evidence.signing import load_signing_key
from models.evidence.webhooks import AddressPolicy, Webhooks, WebhookSender
from models.jobs.partitions import MAINTAIN_EVERY_S, maintain_partitions
from models.jobs.retention import RETENTION_EVERY_S, purge_round
from models.live.chat import Chat
from models.live.desk import Attendance
from models.live.engagement import Engagement
from models.live.presence import KeptPresence, MemoryPresence
from models.live.redis_presence import RedisPresence, connect_redis
from models.reports.breakouts import BreakoutReports
from models.reports.rollups import roll_up_round
from models.reports.rules import BreakoutRules
from models.reports.schools import SchoolReports
from models.runtime.loops import Loop
from models.runtime.metrics import Metrics
from models.schools.checkins import CheckIns
from models.schools.directory import Schools
from models.store.breakouts import BreakoutDirectory
from models.store.replica import ReportsDatabase
from models.store.rules import record_server_rules
from models.writes.journal import Journal
from models.writes.writer import SessionWriter
from server.database import database_url, open_pool, open_replica_pool

logger = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]
# Set by create_app before any resource runs.
_GIVEN: frozenset[web.AppKey[Any]] = frozenset({SETTINGS, NODE_ID, METRICS, TOKENS, SIO})


@dataclass(frozen=True, slots=True)
class Resource:
    """One long-lived resource: its cleanup context, the app keys it sets and those it reads.

    Contexts start in order and stop in reverse, so a resource must come after every one whose
    key it needs: `create_app` checks that, instead of a reordering failing at run time.
    """

    context: CleanupContext
    sets: tuple[web.AppKey[Any], ...]
    needs: tuple[web.AppKey[Any], ...] = ()


def new_node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def create_app(settings: Settings) -> web.Application:
    quiet_malformed_requests()
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
        # Frames (events, acks, anything) get twice the events' budget: for a client that
        # sends events, the events' own limit (rate_limited acks, then a clean disconnect)
        # comes first.
        frame_rate_per_s=2 * settings.event_rate_per_s,
        frame_burst=2 * settings.event_burst,
        flood_disconnect_after=2 * settings.flood_disconnect_after,
        max_queued_bytes=settings.max_queued_bytes,
        websocket_compression=settings.websocket_compression,
        async_mode="aiohttp",
        json=packet_codec(settings.json_codec),
        # With Redis, emits to rooms and sockets reach them on whichever node they are.
        client_manager=(RedisFanOut(settings.redis_url) if settings.uses_redis else LocalFanOut()),
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

    for api in (
        health,
        sessions,
        presence,
        breakouts,
        metrics,
        schools,
        attendances,
        reports,
        comments,
        corrections,
        certificates,
        rules,
        webhooks,
        openapi,
    ):
        api.add_routes(app)
    dashboard.add_routes(app)
    certificate.add_routes(app)

    add_resources(app, resources(settings))
    app.on_shutdown.append(_close_sessions)
    return app


def runner_options(settings: Settings) -> dict[str, Any]:
    """How the HTTP server around the app runs (`web.run_app`, and the tests' AppRunner): the
    access log with secrets redacted, and a connection that sends no whole request within
    HTTP_READ_TIMEOUT_S (a stalled request line or headers, an idle keep-alive) is closed."""
    return {"access_log_class": AccessLog, "keepalive_timeout": settings.http_read_timeout_s}


def resources(settings: Settings) -> list[Resource]:
    """Every resource of the app, in the order they start."""
    chosen = [
        Resource(_database, sets=(POOL,)),
        Resource(_enrichment, sets=(ENRICHER,)),
    ]
    if settings.uses_redis:
        chosen.append(Resource(_redis, sets=(REDIS,)))
    redis_needed = (REDIS,) if settings.uses_redis else ()
    chosen += [
        Resource(_presence, sets=(PRESENCE,), needs=redis_needed),
        Resource(_bus, sets=(BUS,), needs=redis_needed),
        Resource(_nodes, sets=(NODES,), needs=redis_needed),
        Resource(_partitions, sets=(), needs=(POOL,)),
        Resource(_writer, sets=(WRITER,), needs=(POOL,)),
        Resource(_breakouts, sets=(BREAKOUTS,), needs=(POOL,)),
        Resource(_attendance, sets=(ATTENDANCE,), needs=(WRITER, BREAKOUTS, PRESENCE)),
        Resource(_chat, sets=(CHAT,), needs=(POOL, WRITER, ATTENDANCE, BREAKOUTS)),
        Resource(_engagement, sets=(ENGAGEMENT,), needs=(WRITER, ATTENDANCE, PRESENCE)),
        Resource(_schools, sets=(SCHOOLS,), needs=(POOL,)),
        Resource(_checkins, sets=(CHECKINS,), needs=(POOL,)),
        Resource(_server_rules, sets=(SERVER_RULES,), needs=(POOL,)),
        Resource(_reports_database, sets=(REPORTS_DATABASE,), needs=(POOL,)),
        Resource(_school_reports, sets=(SCHOOL_REPORTS,), needs=(REPORTS_DATABASE, SERVER_RULES)),
        Resource(
            _breakout_reports,
            sets=(BREAKOUT_REPORTS,),
            needs=(REPORTS_DATABASE, BREAKOUTS, SERVER_RULES),
        ),
        Resource(
            _certificates,
            sets=(CERTIFICATES,),
            needs=(POOL, BREAKOUTS, BREAKOUT_REPORTS, SCHOOL_REPORTS),
        ),
        Resource(_corrections, sets=(CORRECTIONS,), needs=(POOL, BREAKOUTS, CERTIFICATES)),
        Resource(_webhooks, sets=(WEBHOOKS,), needs=(POOL, BREAKOUT_REPORTS, CORRECTIONS)),
        Resource(_rollups, sets=(), needs=(POOL,)),
        Resource(_broadcasts, sets=(BROADCASTER,), needs=(BUS, PRESENCE)),
        Resource(_cluster, sets=(COMMANDS,), needs=(ATTENDANCE, CHAT, BROADCASTER, BUS, NODES)),
        Resource(_away_sweeps, sets=(), needs=(ATTENDANCE, BROADCASTER)),
    ]
    if settings.uses_redis:
        chosen.append(Resource(_heartbeats, sets=(), needs=(NODES, POOL, ATTENDANCE, BROADCASTER)))
    if settings.retention_days > 0:
        chosen.append(Resource(_retention, sets=(), needs=(POOL,)))
    return chosen


def add_resources(app: web.Application, chosen: list[Resource]) -> None:
    """Start the resources in order and stop them in reverse, refusing an order in which one
    comes before what it needs.

    They run as one cleanup context: when one fails to start, those already started are
    stopped at once (aiohttp itself would leave them to the event loop's final clean-up, which
    cannot, and a half-started server would leave, say, its database's lock behind)."""
    available = set(_GIVEN)
    for resource in chosen:
        missing = [repr(key) for key in resource.needs if key not in available]
        if missing:
            raise RuntimeError(
                f"resource {resource.context.__name__} needs {', '.join(missing)}, "
                "which no resource before it sets"
            )
        available.update(resource.sets)

    async def every_resource(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as started:
            for resource in chosen:
                context = contextlib.asynccontextmanager(resource.context)
                await started.enter_async_context(context(app))
            yield

    app.cleanup_ctx.append(every_resource)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with database_url(settings, metrics=app[METRICS], keep_up=True) as url:
        pool = await open_pool(url, settings.db_pool_size, settings.db_pool_reset)
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


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    assert settings.redis_url is not None  # noqa: S101 - only chosen when uses_redis
    client = connect_redis(settings.redis_url, settings.redis_pool_size)
    await client.ping()
    app[REDIS] = client
    yield
    await client.aclose()


async def _presence(app: web.Application) -> AsyncIterator[None]:
    """Live presence (Redis with several nodes), kept: its failures never fail a join, and a
    loop puts this node's viewers back when Redis returns or forgot them."""
    settings = app[SETTINGS]
    store: RedisPresence | MemoryPresence = (
        RedisPresence(app[REDIS]) if settings.uses_redis else MemoryPresence()
    )
    kept = KeptPresence(store, store.lost)
    app[PRESENCE] = kept

    async def restore() -> None:
        restored = await kept.restore(now_ms())
        if restored:
            logger.info("live presence: put back %d viewers of this node", restored)

    loop = Loop(
        "presence-restore", restore, every_s=settings.heartbeat_interval_s, metrics=app[METRICS]
    )
    async for _ in _running(loop):
        yield


async def _bus(app: web.Application) -> AsyncIterator[None]:
    clustered = app[SETTINGS].uses_redis
    bus: Bus = RedisBus(app[REDIS], metrics=app[METRICS]) if clustered else MemoryBus()
    app[BUS] = bus
    await bus.start()
    yield
    await bus.close()


async def _nodes(app: web.Application) -> AsyncIterator[None]:
    uses_redis = app[SETTINGS].uses_redis
    app[NODES] = NodeRegistry(app[REDIS], app[NODE_ID]) if uses_redis else None
    yield


async def _writer(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    journal = Journal(settings.journal_path)
    await asyncio.to_thread(journal.open)
    writer = SessionWriter(
        app[POOL],
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
    metrics = app[METRICS]
    metrics.observe(metrics.writer_queue, lambda: writer.depth)
    metrics.observe(metrics.journal_backlog, lambda: writer.journal_backlog)
    writer.start()
    yield
    await writer.close()
    journal.close()


async def _breakouts(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[BREAKOUTS] = BreakoutDirectory(
        app[POOL], auto_create=settings.auto_create_breakouts, cache_s=settings.breakout_cache_s
    )
    yield


async def _attendance(app: web.Application) -> AsyncIterator[None]:
    attendance = Attendance(
        writer=app[WRITER],
        breakouts=app[BREAKOUTS],
        presence=app[PRESENCE],
        node_id=app[NODE_ID],
        device_limit=app[SETTINGS].playback_device_limit,
        reconnect_grace_s=app[SETTINGS].reconnect_grace_s,
        # A killed node is taken for silent after three missed beats (ClusterCommands).
        resume_wait_s=SILENT_BEATS * app[SETTINGS].heartbeat_interval_s + 1,
        metrics=app[METRICS],
    )
    app[ATTENDANCE] = attendance
    metrics = app[METRICS]
    metrics.observe(metrics.connected_sockets, lambda: attendance.connections)
    yield


async def _chat(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    chat = app[CHAT] = Chat(
        app[POOL],
        app[WRITER],
        app[ATTENDANCE],
        app[BREAKOUTS],
        on_join=settings.comments_on_join,
        rate_per_min=settings.comment_rate_per_min,
    )

    def seen(room: str) -> None:  # a post or delete, from whichever node, as this one sends it
        place = place_of_chat_room(room)
        if place is not None:
            chat.comments_changed(*ids_of_place(place))

    for event in (NEW_COMMENT, COMMENT_DELETED):
        app[SIO].manager.watch(event, seen)
    yield


async def _engagement(app: web.Application) -> AsyncIterator[None]:
    app[ENGAGEMENT] = Engagement(
        app[WRITER],
        app[ATTENDANCE],
        app[PRESENCE],
        rate_per_min=app[SETTINGS].activity_rate_per_min,
    )
    yield


async def _schools(app: web.Application) -> AsyncIterator[None]:
    app[SCHOOLS] = Schools(app[POOL], default_school_days=app[SETTINGS].school_days)
    yield


async def _checkins(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[CHECKINS] = CheckIns(
        app[POOL],
        fever_threshold_c=settings.fever_threshold_c,
        max_future_s=settings.checkin_max_future_s,
        own_skew_s=settings.checkin_own_skew_s,
        max_past_days=settings.checkin_max_past_days,
    )
    yield


async def _reports_database(app: web.Application) -> AsyncIterator[None]:
    """Reports read a replica when REPORTS_DATABASE_URL names one, and it is current."""
    settings, metrics = app[SETTINGS], app[METRICS]
    url = settings.reports_database_url
    replica = None if url is None else await open_replica_pool(url, settings.db_pool_size)
    app[REPORTS_DATABASE] = ReportsDatabase(
        app[POOL],
        replica,
        wait_s=settings.reports_replica_wait_ms / 1000,
        served=lambda served_by, reason: metrics.report_reads.labels(
            served_by=served_by, reason=reason
        ).inc(),
    )
    yield
    if replica is not None:
        await replica.close()


async def _school_reports(app: web.Application) -> AsyncIterator[None]:
    app[SCHOOL_REPORTS] = SchoolReports(app[REPORTS_DATABASE], server=app[SERVER_RULES])
    yield


async def _breakout_reports(app: web.Application) -> AsyncIterator[None]:
    rules = BreakoutRules(server=app[SERVER_RULES])
    app[BREAKOUT_REPORTS] = BreakoutReports(app[REPORTS_DATABASE], app[BREAKOUTS], rules=rules)
    yield


async def _server_rules(app: web.Application) -> AsyncIterator[None]:
    """The server's default rules (settings), recorded as a new version when they changed."""
    settings = app[SETTINGS]
    app[SERVER_RULES] = await record_server_rules(
        app[POOL],
        breakout_min_minutes=settings.breakout_present_min_minutes,
        breakout_min_percent=settings.breakout_present_min_percent,
        day_min_hours=settings.present_day_min_hours,
        period_min_percent=settings.present_period_min_percent,
    )
    yield


async def _certificates(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    certificates = Certificates(
        app[POOL],
        app[BREAKOUTS],
        app[BREAKOUT_REPORTS],
        app[SCHOOL_REPORTS],
        load_signing_key(settings),
        issuer=settings.own_url,
    )
    await certificates.register_key()
    app[CERTIFICATES] = certificates
    yield


async def _webhooks(app: web.Application) -> AsyncIterator[None]:
    """The org's webhook endpoints, and this node's share of sending the outbox."""
    settings = app[SETTINGS]
    policy = AddressPolicy(settings.webhook_allow_networks)
    app[WEBHOOKS] = Webhooks(app[POOL], policy)
    transport = HttpTransport(policy, settings.webhook_timeout_s)
    sender = WebhookSender(
        app[POOL],
        transport,
        lambda event, must: render_event(app, event, must),
        policy,
        timeout_s=settings.webhook_timeout_s,
        retry_base_s=settings.webhook_retry_base_s,
        retry_for=timedelta(seconds=settings.webhook_retry_for_s),
    )
    loop = Loop("webhooks", sender.round, every_s=settings.webhook_poll_s, metrics=app[METRICS])
    try:
        async for _ in _running(loop):
            yield
    finally:
        await transport.close()


async def _corrections(app: web.Application) -> AsyncIterator[None]:
    app[CORRECTIONS] = Corrections(app[POOL], app[BREAKOUTS], app[CERTIFICATES])
    yield


async def _running(loop: Loop) -> AsyncIterator[None]:
    loop.start()
    yield
    await loop.stop()


async def _partitions(app: web.Application) -> AsyncIterator[None]:
    """The record's time partitions are made ahead: once before serving, then hourly."""
    settings, pool, metrics = app[SETTINGS], app[POOL], app[METRICS]

    async def maintain() -> None:
        async with pool.acquire() as connection:
            done = await maintain_partitions(
                connection, settings.partition_interval, settings.partitions_ahead, now_ms()
            )
        for table, rows in done.default_rows.items():
            metrics.partition_default_rows.labels(table=table).set(rows)

    # Before the first write if it can (else the default partition holds the first rows until
    # a round makes their partition); the loop's own first round then finds nothing to do.
    try:
        await maintain()
    except Exception:
        logger.exception("partitions: could not make the partitions ahead at start")
    loop = Loop("partitions", maintain, every_s=MAINTAIN_EVERY_S, metrics=metrics)
    async for _ in _running(loop):
        yield


async def _rollups(app: web.Application) -> AsyncIterator[None]:
    """Keep the daily-presence rollups current (every node may run it; days are claimed)."""
    pool = app[POOL]
    loop = Loop(
        "rollups",
        lambda: roll_up_round(pool),
        every_s=app[SETTINGS].rollup_interval_s,
        metrics=app[METRICS],
    )
    async for _ in _running(loop):
        yield


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
        emit_here,
        app[BUS],
        app[PRESENCE],
        app[SETTINGS].presence_interval_ms / 1000,
        metrics=app[METRICS],
    )
    app[BROADCASTER] = broadcaster
    broadcaster.start()
    yield
    await broadcaster.close()


async def _cluster(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    commands = ClusterCommands(
        app[SIO],
        app[ATTENDANCE],
        app[BROADCASTER],
        app[BUS],
        chat=app[CHAT],
        registry=app[NODES],
        silent_after_s=SILENT_BEATS * settings.heartbeat_interval_s,
    )
    app[COMMANDS] = commands
    app[ATTENDANCE].holders = commands  # a resume asks the other nodes through the cluster
    loop = Loop(
        "cluster-resend",
        commands.resend,
        every_s=settings.heartbeat_interval_s,
        metrics=app[METRICS],
    )
    async for _ in _running(loop):
        yield


# Missed beats after which a resume takes a node for stopped (a kill) rather than a moment late.
SILENT_BEATS = 3

# How often a node looks for viewers whose window to resume ran out: they leave the hosts'
# views at most this late.
AWAY_SWEEP_EVERY_S = 1.0


async def _away_sweeps(app: web.Application) -> AsyncIterator[None]:
    """Viewers whose window to resume ran out (on whichever node) leave the hosts' views."""
    attendance, broadcaster = app[ATTENDANCE], app[BROADCASTER]

    async def sweep() -> None:
        for away in await attendance.sweep_away():
            broadcaster.gone(away)

    loop = Loop("away-sweep", sweep, every_s=AWAY_SWEEP_EVERY_S, metrics=app[METRICS])
    async for _ in _running(loop):
        yield


async def _heartbeats(app: web.Application) -> AsyncIterator[None]:
    """Beat, and close the sessions of nodes that stopped beating (node_lost)."""
    settings = app[SETTINGS]
    registry = app[NODES]
    assert registry is not None  # noqa: S101 - this resource runs only with Redis
    await registry.beat(now_ms())
    heartbeat = Heartbeat(
        registry,
        app[POOL],
        app[ATTENDANCE],
        ttl_s=settings.heartbeat_ttl_s,
        clock=now_ms,
        on_exit=app[BROADCASTER].left,
    )
    loop = Loop(
        "heartbeats", heartbeat.round, every_s=settings.heartbeat_interval_s, metrics=app[METRICS]
    )
    async for _ in _running(loop):
        yield
    try:
        await registry.forget(app[NODE_ID])  # a graceful stop closed its sessions already
    except Exception as exc:  # Redis away: its beat goes stale, the reaper finds nothing open
        logger.warning("could not take this node off the heartbeats: %s", exc)


async def _retention(app: web.Application) -> AsyncIterator[None]:
    settings, pool = app[SETTINGS], app[POOL]

    async def purge() -> None:
        await purge_round(
            pool, older_than_days=settings.retention_days, mode=settings.retention_mode
        )

    loop = Loop("retention", purge, every_s=RETENTION_EVERY_S, metrics=app[METRICS])
    async for _ in _running(loop):
        yield


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
