"""Every setting of the server, read once from the environment into a frozen Settings."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting in the environment has a value we cannot use."""


class RetentionMode(StrEnum):
    """What the purge does to sessions older than the retention period."""

    ANONYMISE = "anonymise"
    DELETE = "delete"


class EventLoop(StrEnum):
    """The asyncio event loop `serve` runs on."""

    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


class IpStorage(StrEnum):
    """How much of a client's IP address is written to the attendance record."""

    FULL = "full"
    TRUNCATED = "truncated"
    NONE = "none"


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected on/off, got {raw!r}")


def _whole_number_from(minimum: int) -> Callable[[str], int]:
    """A parser of whole numbers no smaller than `minimum`."""

    def parse(raw: str) -> int:
        value = int(raw)
        if value < minimum:
            raise ValueError(f"expected a whole number >= {minimum}, got {raw!r}")
        return value

    return parse


_parse_positive_int = _whole_number_from(1)
_parse_non_negative_int = _whole_number_from(0)
# A lone write never waits for company.
_parse_wait_min_rows = _whole_number_from(2)


def _parse_positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError(f"expected a number > 0, got {raw!r}")
    return value


def _parse_non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0:
        raise ValueError(f"expected a number >= 0, got {raw!r}")
    return value


def _parse_origins(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())


def _parse_port(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= 65535:
        raise ValueError(f"expected a port 0-65535, got {raw!r}")
    return value


def _parse_networks(raw: str) -> tuple[IpNetwork, ...]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    return tuple(ipaddress.ip_network(part, strict=False) for part in parts)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_weekdays(raw: str) -> tuple[int, ...]:
    """`mon,tue,wed` or ISO numbers `1,2,3` (1 = Monday) into sorted ISO numbers."""
    days = set()
    for part in (part.strip().lower() for part in raw.split(",") if part.strip()):
        if part[:3] in _WEEKDAYS:
            days.add(_WEEKDAYS.index(part[:3]) + 1)
        elif part.isdigit() and 1 <= int(part) <= 7:
            days.add(int(part))
        else:
            raise ValueError(f"{part!r} is not a weekday (mon..sun or 1..7)")
    if not days:
        raise ValueError("name at least one weekday")
    return tuple(sorted(days))


def _parse_percent(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 100:
        raise ValueError(f"expected a percentage 0-100, got {raw!r}")
    return value


def _parse_optional_str(raw: str) -> str | None:
    return raw.strip() or None


def _parse_optional_path(raw: str) -> Path | None:
    return Path(raw).expanduser() if raw.strip() else None


@dataclass(frozen=True, slots=True)
class Settings:
    """The server's whole configuration; built by `load_settings`, never mutated."""

    host: str
    port: int
    reuse_port: bool
    websocket_only: bool
    database_url: str | None
    redis_url: str | None
    redis_pool_size: int
    var_dir: Path
    auth_secret: str | None
    auth_public_key: Path | None
    auth_jwks_file: Path | None
    auth_issuer: str | None
    auth_audience: str | None
    auth_leeway_s: int
    auto_create_breakouts: bool
    playback_device_limit: int
    geoip_db: Path | None
    trusted_proxies: tuple[IpNetwork, ...]
    ip_storage: IpStorage
    retention_days: int
    retention_mode: RetentionMode
    cors_origins: tuple[str, ...]
    max_message_bytes: int
    max_body_bytes: int
    event_rate_per_s: float
    event_burst: int
    flood_disconnect_after: int
    connect_rate_per_min: float
    connect_burst: int
    connect_limit_exempt: tuple[IpNetwork, ...]
    db_pool_size: int
    writer_batch_max_rows: int
    writer_batch_max_wait_ms: float
    writer_batch_wait_min_rows: int
    writer_queue_max: int
    writer_commit_timeout_s: float
    journal_dir: Path | None
    db_retry_s: float
    ua_cache_size: int
    geoip_cache_size: int
    breakout_cache_s: float
    presence_interval_ms: float
    heartbeat_interval_s: float
    heartbeat_ttl_s: float
    ping_interval_s: float
    ping_timeout_s: float
    event_loop: EventLoop
    gc_gen0_threshold: int
    present_day_min_hours: float
    present_period_min_percent: float
    school_days: tuple[int, ...]
    fever_threshold_c: float
    checkin_max_future_s: float
    breakout_present_min_minutes: float
    breakout_present_min_percent: float
    rollup_interval_s: float
    log_level: str

    @property
    def uses_redis(self) -> bool:
        """Presence, fan-out, heartbeats and the cluster bus go through Redis (REDIS_URL set);
        otherwise this process is alone and keeps them in memory."""
        return self.redis_url is not None

    @property
    def journal_path(self) -> Path:
        """Where the writer journals while PostgreSQL is away: JOURNAL_DIR, else in VAR_DIR."""
        return self.journal_dir or self.var_dir / "journal"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (command-line flags, tests)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One environment variable: its field, default (as text) and meaning."""

    env: str
    field: str
    default: str
    parse: Callable[[str], Any]
    help: str


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("HOST", "host", "127.0.0.1", str, "address to listen on (0.0.0.0 for all)"),
    SettingSpec("PORT", "port", "8080", _parse_port, "TCP port to listen on"),
    SettingSpec(
        "REUSE_PORT",
        "reuse_port",
        "off",
        _parse_bool,
        "SO_REUSEPORT: several processes share the port (`serve --workers` sets it)",
    ),
    SettingSpec(
        "WEBSOCKET_ONLY",
        "websocket_only",
        "off",
        _parse_bool,
        "refuse long-polling: needed when requests of one client may reach different processes",
    ),
    SettingSpec(
        "DATABASE_URL",
        "database_url",
        "",
        _parse_optional_str,
        "PostgreSQL URL; empty starts an embedded PostgreSQL under VAR_DIR",
    ),
    SettingSpec(
        "REDIS_URL",
        "redis_url",
        "",
        _parse_optional_str,
        "Redis URL: live presence and Socket.IO fan-out across processes; empty: this process only",
    ),
    SettingSpec(
        "REDIS_POOL_SIZE",
        "redis_pool_size",
        "32",
        _parse_positive_int,
        "Redis connections per process (callers wait for a free one)",
    ),
    SettingSpec(
        "VAR_DIR", "var_dir", "./var", Path, "local state: embedded database, generated secret"
    ),
    SettingSpec(
        "AUTH_SECRET",
        "auth_secret",
        "",
        _parse_optional_str,
        "HS256 secret for tokens; empty generates one once into VAR_DIR/auth_secret",
    ),
    SettingSpec(
        "AUTH_PUBLIC_KEY",
        "auth_public_key",
        "",
        _parse_optional_path,
        "PEM public key file: verify RS256/ES256 tokens with it instead of AUTH_SECRET",
    ),
    SettingSpec(
        "AUTH_JWKS_FILE",
        "auth_jwks_file",
        "",
        _parse_optional_path,
        "local JWKS file: verify RS256/ES256 tokens by their kid instead of AUTH_SECRET",
    ),
    SettingSpec(
        "AUTH_ISSUER", "auth_issuer", "", _parse_optional_str, "required `iss` of tokens, if set"
    ),
    SettingSpec(
        "AUTH_AUDIENCE",
        "auth_audience",
        "",
        _parse_optional_str,
        "required `aud` of tokens, if set",
    ),
    SettingSpec(
        "AUTH_LEEWAY_S",
        "auth_leeway_s",
        "30",
        _parse_non_negative_int,
        "clock skew allowed on exp/nbf/iat",
    ),
    SettingSpec(
        "AUTO_CREATE_BREAKOUTS",
        "auto_create_breakouts",
        "on",
        _parse_bool,
        "create an unknown breakout on first join (off: unknown ids get not_found)",
    ),
    SettingSpec(
        "PLAYBACK_DEVICE_LIMIT",
        "playback_device_limit",
        "1",
        _parse_non_negative_int,
        "open sessions per user per breakout (a breakout's own limit wins); over it the oldest "
        "is expelled; 0: unlimited",
    ),
    SettingSpec(
        "GEOIP_DB",
        "geoip_db",
        "",
        _parse_optional_path,
        "MaxMind/DB-IP City .mmdb file; empty uses the GeoLite2 file of maxminddb-geolite2",
    ),
    SettingSpec(
        "TRUSTED_PROXIES",
        "trusted_proxies",
        "127.0.0.0/8,::1/128",
        _parse_networks,
        "CIDR list of proxies whose X-Forwarded-For is believed",
    ),
    SettingSpec(
        "IP_STORAGE",
        "ip_storage",
        "truncated",
        IpStorage,
        "client IP kept in the record: full, truncated (/24, /48) or none",
    ),
    SettingSpec(
        "RETENTION_DAYS",
        "retention_days",
        "0",
        _parse_non_negative_int,
        "sessions older than this are purged daily (0: kept forever; see `run.py purge`)",
    ),
    SettingSpec(
        "RETENTION_MODE",
        "retention_mode",
        "anonymise",
        RetentionMode,
        "what the purge does: anonymise (drop name, IP, UA, place) or delete",
    ),
    SettingSpec(
        "CORS_ORIGINS",
        "cors_origins",
        "",
        _parse_origins,
        "browser origins allowed cross-site (comma list, * for any); empty: same origin only",
    ),
    SettingSpec(
        "MAX_MESSAGE_BYTES",
        "max_message_bytes",
        "16384",
        _parse_positive_int,
        "largest Engine.IO message accepted from a client",
    ),
    SettingSpec(
        "MAX_BODY_BYTES",
        "max_body_bytes",
        "65536",
        _parse_positive_int,
        "largest HTTP request body accepted",
    ),
    SettingSpec(
        "EVENT_RATE_PER_S",
        "event_rate_per_s",
        "20",
        _parse_positive_float,
        "sustained events per second a socket may send; beyond: `rate_limited`",
    ),
    SettingSpec(
        "EVENT_BURST", "event_burst", "40", _parse_positive_int, "events a socket may send at once"
    ),
    SettingSpec(
        "FLOOD_DISCONNECT_AFTER",
        "flood_disconnect_after",
        "100",
        _parse_positive_int,
        "rate-limited events in a row after which the socket is disconnected",
    ),
    SettingSpec(
        "CONNECT_RATE_PER_MIN",
        "connect_rate_per_min",
        "60",
        _parse_positive_float,
        "sustained Socket.IO connections per minute from one client address",
    ),
    SettingSpec(
        "CONNECT_BURST",
        "connect_burst",
        "30",
        _parse_positive_int,
        "connections one client address may open at once",
    ),
    SettingSpec(
        "CONNECT_LIMIT_EXEMPT",
        "connect_limit_exempt",
        "127.0.0.0/8,::1/128",
        _parse_networks,
        "CIDRs not connection-limited (TRUSTED_PROXIES are always exempt)",
    ),
    SettingSpec("DB_POOL_SIZE", "db_pool_size", "8", _parse_positive_int, "PostgreSQL connections"),
    SettingSpec(
        "WRITER_BATCH_MAX_ROWS",
        "writer_batch_max_rows",
        "1000",
        _parse_positive_int,
        "most session writes committed in one transaction",
    ),
    SettingSpec(
        "WRITER_BATCH_MAX_WAIT_MS",
        "writer_batch_max_wait_ms",
        "2",
        _parse_non_negative_float,
        "longest a write waits for others to join its batch (0: never waits)",
    ),
    SettingSpec(
        "WRITER_BATCH_WAIT_MIN_ROWS",
        "writer_batch_wait_min_rows",
        "4",
        _parse_wait_min_rows,
        "the writer waits for company only after a batch at least this big (2 or more)",
    ),
    SettingSpec(
        "WRITER_QUEUE_MAX",
        "writer_queue_max",
        "20000",
        _parse_positive_int,
        "queued writes beyond which joins and leaves get `unavailable`",
    ),
    SettingSpec(
        "WRITER_COMMIT_TIMEOUT_S",
        "writer_commit_timeout_s",
        "10",
        _parse_positive_float,
        "a commit taking longer counts as the database being away (its writes are journaled)",
    ),
    SettingSpec(
        "JOURNAL_DIR",
        "journal_dir",
        "",
        _parse_optional_path,
        "fsynced journal of writes taken while PostgreSQL is away; empty: VAR_DIR/journal",
    ),
    SettingSpec(
        "DB_RETRY_S",
        "db_retry_s",
        "1",
        _parse_positive_float,
        "while PostgreSQL is away, how often the writer tries it again",
    ),
    SettingSpec(
        "UA_CACHE_SIZE", "ua_cache_size", "10000", _parse_positive_int, "parsed User-Agents kept"
    ),
    SettingSpec(
        "GEOIP_CACHE_SIZE",
        "geoip_cache_size",
        "100000",
        _parse_positive_int,
        "IP locations kept",
    ),
    SettingSpec(
        "BREAKOUT_CACHE_S",
        "breakout_cache_s",
        "5",
        _parse_positive_float,
        "how long a looked-up breakout is reused before reading it again",
    ),
    SettingSpec(
        "PRESENCE_INTERVAL_MS",
        "presence_interval_ms",
        "250",
        _parse_positive_float,
        "viewer-count and presence-diff are sent at most this often per breakout",
    ),
    SettingSpec(
        "HEARTBEAT_INTERVAL_S",
        "heartbeat_interval_s",
        "5",
        _parse_positive_float,
        "with Redis: how often a node says it is alive and looks for dead ones",
    ),
    SettingSpec(
        "HEARTBEAT_TTL_S",
        "heartbeat_ttl_s",
        "10",
        _parse_positive_float,
        "a node silent this long is dead: its open sessions close at its last heartbeat",
    ),
    SettingSpec(
        "PING_INTERVAL_S",
        "ping_interval_s",
        "25",
        _parse_positive_float,
        "Engine.IO ping interval",
    ),
    SettingSpec(
        "PING_TIMEOUT_S",
        "ping_timeout_s",
        "20",
        _parse_positive_float,
        "Engine.IO ping timeout; a silent client's exit is stamped when it was last heard",
    ),
    SettingSpec(
        "EVENT_LOOP",
        "event_loop",
        "uvloop",
        EventLoop,
        "uvloop (libuv, faster sockets) or asyncio (the standard library's loop)",
    ),
    SettingSpec(
        "GC_GEN0_THRESHOLD",
        "gc_gen0_threshold",
        "50000",
        _parse_non_negative_int,
        "allocations between young-generation GC passes (Python's default: 700; 0 keeps it)",
    ),
    SettingSpec(
        "PRESENT_DAY_MIN_HOURS",
        "present_day_min_hours",
        "4",
        _parse_positive_float,
        "school reports: hours in school that make a user present on a day",
    ),
    SettingSpec(
        "PRESENT_PERIOD_MIN_PERCENT",
        "present_period_min_percent",
        "80",
        _parse_percent,
        "school reports: share of a week's or month's school days present to count as present",
    ),
    SettingSpec(
        "SCHOOL_DAYS",
        "school_days",
        "mon,tue,wed,thu,fri",
        _parse_weekdays,
        "school days of a new school unless it sets its own (names or ISO numbers 1-7)",
    ),
    SettingSpec(
        "FEVER_THRESHOLD_C",
        "fever_threshold_c",
        "38.0",
        float,
        "a check-in or check-out at this body temperature or above raises a fever alert",
    ),
    SettingSpec(
        "CHECKIN_MAX_FUTURE_S",
        "checkin_max_future_s",
        "300",
        _parse_non_negative_int,
        "how far ahead of the server's clock a check event's timestamp may be",
    ),
    SettingSpec(
        "BREAKOUT_PRESENT_MIN_MINUTES",
        "breakout_present_min_minutes",
        "10",
        _parse_non_negative_int,
        "breakout reports: minutes that make a user present at an unscheduled breakout",
    ),
    SettingSpec(
        "BREAKOUT_PRESENT_MIN_PERCENT",
        "breakout_present_min_percent",
        "75",
        _parse_percent,
        "breakout reports: share of a scheduled breakout that makes a user present",
    ),
    SettingSpec(
        "ROLLUP_INTERVAL_S",
        "rollup_interval_s",
        "60",
        _parse_positive_float,
        "how often the daily-presence rollups are brought up to date",
    ),
    SettingSpec("LOG_LEVEL", "log_level", "INFO", str.upper, "DEBUG, INFO, WARNING or ERROR"),
)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from `environ` (default: the process environment)."""
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        raw = source.get(spec.env, spec.default)
        try:
            values[spec.field] = spec.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{spec.env}={raw!r} is not valid: {exc}") from None
    return Settings(**values)


def describe_settings() -> str:
    """The settings as a table for `--help`."""
    width = max(len(spec.env) for spec in SETTINGS)
    lines = ["environment settings (default in brackets):"]
    for spec in SETTINGS:
        default = spec.default or "empty"
        lines.append(f"  {spec.env.ljust(width)}  {spec.help} [{default}]")
    return "\n".join(lines)
