"""The typed keys under which `server/` hands resources to the handlers."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from config import Settings
from geo import Enricher
from handlers.broadcast import PresenceBroadcaster
from handlers.cluster import ClusterCommands
from models.attendance import Attendance
from models.breakouts import BreakoutDirectory
from models.metrics import Metrics
from models.tokens import TokenAuthority
from models.writer import SessionWriter

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
