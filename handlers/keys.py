"""Every app key: the typed names under which `server/` hands resources to the handlers.

Each key is set by one resource of `server.app` (its cleanup context), which also names the
keys it needs; `create_app` refuses an order in which a resource comes before what it needs.
"""

from __future__ import annotations

import asyncpg
import redis.asyncio as redis
import socketio
from aiohttp import web

from config import Settings
from geo import Enricher
from handlers.socket.broadcast import PresenceBroadcaster
from handlers.socket.cluster import ClusterCommands
from models.auth.tokens import TokenAuthority
from models.cluster.bus import Bus
from models.cluster.nodes import NodeRegistry
from models.evidence.certificates import Certificates
from models.evidence.corrections import Corrections
from models.evidence.webhooks import Webhooks
from models.live.chat import Chat
from models.live.desk import Attendance
from models.live.engagement import Engagement
from models.live.presence import KeptPresence
from models.reports.breakouts import BreakoutReports
from models.reports.schools import SchoolReports
from models.runtime.metrics import Metrics
from models.schools.checkins import CheckIns
from models.schools.directory import Schools
from models.store.breakouts import BreakoutDirectory
from models.store.replica import ReportsDatabase
from models.store.rules import RuleVersion
from models.writes.writer import SessionWriter

# Set by create_app itself, before any resource.
SETTINGS = web.AppKey("settings", Settings)
NODE_ID = web.AppKey("node_id", str)
METRICS = web.AppKey("metrics", Metrics)
TOKENS = web.AppKey("tokens", TokenAuthority)
# Emits reach sockets on every node (python-socketio's client manager fans them out).
SIO = web.AppKey("sio", socketio.AsyncServer)

# Set by the resources (cleanup contexts) of server.app.
POOL = web.AppKey("pool", asyncpg.Pool)
REPORTS_DATABASE = web.AppKey("reports_database", ReportsDatabase)
ENRICHER = web.AppKey("enricher", Enricher)
# Only when Settings.uses_redis.
REDIS: web.AppKey[redis.Redis] = web.AppKey("redis")
PRESENCE = web.AppKey("presence", KeptPresence)
# Every node's heartbeat (None without Redis: one node, nobody else to know of).
NODES: web.AppKey[NodeRegistry | None] = web.AppKey("nodes")
BUS: web.AppKey[Bus] = web.AppKey("bus")
WRITER = web.AppKey("writer", SessionWriter)
BREAKOUTS = web.AppKey("breakouts", BreakoutDirectory)
ATTENDANCE = web.AppKey("attendance", Attendance)
SCHOOLS = web.AppKey("schools", Schools)
CHECKINS = web.AppKey("checkins", CheckIns)
SCHOOL_REPORTS = web.AppKey("school_reports", SchoolReports)
BREAKOUT_REPORTS = web.AppKey("breakout_reports", BreakoutReports)
BROADCASTER = web.AppKey("broadcaster", PresenceBroadcaster)
COMMANDS = web.AppKey("commands", ClusterCommands)
CHAT = web.AppKey("chat", Chat)
ENGAGEMENT = web.AppKey("engagement", Engagement)
CERTIFICATES = web.AppKey("certificates", Certificates)
CORRECTIONS = web.AppKey("corrections", Corrections)
WEBHOOKS = web.AppKey("webhooks", Webhooks)
# The server's default presence rules as recorded (a version) when this node started.
SERVER_RULES = web.AppKey("server_rules", RuleVersion)
