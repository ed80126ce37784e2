"""The typed keys under which `server/` hands resources to the handlers."""

from __future__ import annotations

import asyncpg
import socketio
from aiohttp import web

from config import Settings
from geo import Enricher
from handlers.socket.broadcast import PresenceBroadcaster
from handlers.socket.cluster import ClusterCommands
from models.auth.tokens import TokenAuthority
from models.live.desk import Attendance
from models.reports.report import Reports
from models.runtime.metrics import Metrics
from models.schools.checkins import CheckIns
from models.schools.directory import Schools
from models.store.breakouts import BreakoutDirectory
from models.writes.writer import SessionWriter

SETTINGS = web.AppKey("settings", Settings)
NODE_ID = web.AppKey("node_id", str)
METRICS = web.AppKey("metrics", Metrics)
POOL = web.AppKey("pool", asyncpg.Pool)
TOKENS = web.AppKey("tokens", TokenAuthority)
ENRICHER = web.AppKey("enricher", Enricher)
BREAKOUTS = web.AppKey("breakouts", BreakoutDirectory)
ATTENDANCE = web.AppKey("attendance", Attendance)
BROADCASTER = web.AppKey("broadcaster", PresenceBroadcaster)
COMMANDS = web.AppKey("commands", ClusterCommands)
WRITER = web.AppKey("writer", SessionWriter)
REPORTS = web.AppKey("reports", Reports)
SCHOOLS = web.AppKey("schools", Schools)
CHECKINS = web.AppKey("checkins", CheckIns)
# Emits reach sockets on every node (python-socketio's client manager fans them out).
SIO = web.AppKey("sio", socketio.AsyncServer)
