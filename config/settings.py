"""Every setting of the server, read once from the environment into a frozen Settings."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")


class SettingsError(ValueError):
    """A setting in the environment has a value we cannot use."""


class RetentionMode(StrEnum):
    """What the purge does to sessions older than the retention period."""

    ANONYMISE = "anonymise"
    DELETE = "delete"


class PartitionInterval(StrEnum):
    """How much time one partition of the record holds (UTC days, ISO weeks, months)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class PoolReset(StrEnum):
    """What returning a connection to the pool costs."""

    FULL = "full"
    ROLLBACK = "rollback"


class JsonCodec(StrEnum):
    """How Socket.IO packets are encoded and decoded."""

    JSON = "json"
    ORJSON = "orjson"


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


E = TypeVar("E", bound=StrEnum)


def _choice(enum: type[E]) -> Callable[[str], E]:
    """A parser of one of an enum's values, naming them all when the text is none of them."""

    def parse(raw: str) -> E:
        try:
            return enum(raw.strip().lower())
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise ValueError(f"expected one of {allowed}") from None

    return parse


def _url_of(*schemes: str) -> Callable[[str], str | None]:
    """A parser of an optional URL with one of `schemes`, a host or socket and a valid port."""

    def parse(raw: str) -> str | None:
        url = raw.strip()
        if not url:
            return None
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError("not a URL with a numeric port") from None
        if parts.scheme not in schemes:
            raise ValueError(f"expected a {' or '.join(schemes)} URL")
        return url

    return parse


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def _parse_log_level(raw: str) -> str:
    return _choice(LogLevel)(raw).value.upper()


def _parse_optional_path(raw: str) -> Path | None:
    return Path(raw).expanduser() if raw.strip() else None


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One environment variable: its name, default (as text), parser and meaning."""

    env: str
    field: str
    default: str
    parse: Callable[[str], Any]
    help: str
    # Never repeated in an error message (a password in a URL, a signing secret).
    secret: bool = False


def setting(
    env: str, default: str, parse: Callable[[str], T], help: str, *, secret: bool = False
) -> T:
    """Declare a field of Settings: the variable that sets it, its default as one would write
    it in the environment, the parser, and the help text that --help and README show."""
    spec = SettingSpec(env, "", default, parse, help, secret)
    return field(default=parse(default), metadata={"setting": spec})


@dataclass(frozen=True, slots=True)
class Settings:
    """The server's whole configuration; built by `load_settings`, never mutated.

    Each field is declared once, here: `--help`, README's settings table and its parity test
    all come from these declarations.
    """

    host: str = setting("HOST", "127.0.0.1", str, "address to listen on (`0.0.0.0` for all)")
    port: int = setting("PORT", "8080", _parse_port, "TCP port (also `run.py serve --port`)")
    public_url: str | None = setting(
        "PUBLIC_URL",
        "",
        _url_of("http", "https"),
        "the URL people open the server at: the links `run.py token --link` prints, and the "
        "issuer and verification links of certificates; empty: `http://HOST:PORT`",
    )
    reuse_port: bool = setting(
        "REUSE_PORT",
        "off",
        _parse_bool,
        "SO_REUSEPORT, so several processes share the port (`serve --workers` sets it)",
    )
    websocket_only: bool = setting(
        "WEBSOCKET_ONLY",
        "off",
        _parse_bool,
        "refuse long-polling; needed when one client's requests may reach different processes",
    )
    websocket_compression: bool = setting(
        "WS_COMPRESSION",
        "off",
        _parse_bool,
        "accept the per-message deflate browsers offer on websockets: less bandwidth, but each "
        "frame is compressed per recipient and each connection holds its own zlib state (~160 KB "
        "more RSS a socket, bench.chat --deflate)",
    )
    database_url: str | None = setting(
        "DATABASE_URL",
        "",
        _url_of("postgresql", "postgres"),
        "PostgreSQL URL; empty starts an embedded PostgreSQL under `VAR_DIR`",
        secret=True,
    )
    reports_database_url: str | None = setting(
        "REPORTS_DATABASE_URL",
        "",
        _url_of("postgresql", "postgres"),
        'a streaming replica of `DATABASE_URL` for report and export reads (README "Reports '
        'from a replica"); empty: reports read the primary',
        secret=True,
    )
    reports_replica_wait_ms: float = setting(
        "REPORTS_REPLICA_WAIT_MS",
        "500",
        _parse_non_negative_float,
        "longest a report waits for the replica to replay what the primary had committed when "
        "it was asked for; past it, it reads the primary",
    )
    redis_url: str | None = setting(
        "REDIS_URL",
        "",
        _url_of("redis", "rediss", "unix", "redis+sentinel"),
        "Redis for live presence and Socket.IO fan-out across processes and machines "
        "(`redis+sentinel://host:port,host:port/db/service` follows a Sentinel-managed master); "
        "empty: this process only",
        secret=True,
    )
    redis_pool_size: int = setting(
        "REDIS_POOL_SIZE",
        "32",
        _parse_positive_int,
        "Redis connections per process; callers wait for a free one",
    )
    var_dir: Path = setting(
        "VAR_DIR", "./var", Path, "local state: embedded database, generated secret, journal"
    )
    auth_secret: str | None = setting(
        "AUTH_SECRET",
        "",
        _parse_optional_str,
        "HS256 token secret; empty generates one once into `VAR_DIR/auth_secret`",
        secret=True,
    )
    auth_public_key: Path | None = setting(
        "AUTH_PUBLIC_KEY",
        "",
        _parse_optional_path,
        "PEM public key file: verify RS256/ES256 tokens with it instead of `AUTH_SECRET`",
    )
    auth_jwks_file: Path | None = setting(
        "AUTH_JWKS_FILE",
        "",
        _parse_optional_path,
        "local JWKS file: verify RS256/ES256 tokens by their `kid` instead of `AUTH_SECRET`",
    )
    auth_issuer: str | None = setting(
        "AUTH_ISSUER", "", _parse_optional_str, "required `iss` of tokens, when set"
    )
    auth_audience: str | None = setting(
        "AUTH_AUDIENCE", "", _parse_optional_str, "required `aud` of tokens, when set"
    )
    signing_key: str | None = setting(
        "SIGNING_KEY",
        "",
        _parse_optional_str,
        "PEM Ed25519 private key that signs certificates (before `SIGNING_KEY_FILE`)",
        secret=True,
    )
    signing_key_file: Path | None = setting(
        "SIGNING_KEY_FILE",
        "",
        _parse_optional_path,
        "PEM Ed25519 private key file that signs certificates; neither set: one is generated "
        "once into `VAR_DIR/signing_key.pem`",
    )
    auth_leeway_s: int = setting(
        "AUTH_LEEWAY_S",
        "30",
        _parse_non_negative_int,
        "clock skew allowed on `exp`, `nbf`, `iat`",
    )
    auto_create_breakouts: bool = setting(
        "AUTO_CREATE_BREAKOUTS",
        "on",
        _parse_bool,
        "create unknown breakouts on first join (off: `not_found`)",
    )
    playback_device_limit: int = setting(
        "PLAYBACK_DEVICE_LIMIT",
        "1",
        _parse_non_negative_int,
        "open sessions per user per breakout (a breakout's `device_limit` wins); a join over "
        "it expels the user's oldest session; `0`: unlimited",
    )
    comments_on_join: int = setting(
        "COMMENTS_ON_JOIN",
        "50",
        _parse_non_negative_int,
        "the newest comments a socket is sent (`last-comments`) when it joins a breakout; `0`: "
        "none, and no read on join",
    )
    comment_rate_per_min: float = setting(
        "COMMENT_RATE_PER_MIN",
        "20",
        _parse_positive_float,
        "comments one user may post per minute on one node (a burst of 5); past it `rate_limited`",
    )
    activity_rate_per_min: float = setting(
        "ACTIVITY_RATE_PER_MIN",
        "30",
        _parse_positive_float,
        "`activity` reports one socket may make per minute (a burst of 10); past it they are "
        "refused (`rate_limited`) and its last accepted state holds",
    )
    geoip_db: Path | None = setting(
        "GEOIP_DB",
        "",
        _parse_optional_path,
        "a current MaxMind/DB-IP City `.mmdb`; empty uses the (2018) GeoLite2 file of "
        "`maxminddb-geolite2`",
    )
    trusted_proxies: tuple[IpNetwork, ...] = setting(
        "TRUSTED_PROXIES",
        "",
        _parse_networks,
        "CIDRs of the proxies whose `X-Forwarded-For` is believed; empty: none, the TCP peer is "
        "the client (a proxy on this machine: `127.0.0.1/32`)",
    )
    ip_storage: IpStorage = setting(
        "IP_STORAGE",
        "truncated",
        _choice(IpStorage),
        "client IP kept in the record: `full`, `truncated` (/24, /48) or `none`",
    )
    retention_days: int = setting(
        "RETENTION_DAYS",
        "0",
        _parse_non_negative_int,
        "purge closed sessions older than this, daily (`0`: keep forever; see `run.py purge`)",
    )
    retention_mode: RetentionMode = setting(
        "RETENTION_MODE",
        "anonymise",
        _choice(RetentionMode),
        "`anonymise` (drop name, IP, User-Agent, city, region, coordinates) or `delete`",
    )
    partition_interval: PartitionInterval = setting(
        "PARTITION_INTERVAL",
        "month",
        _choice(PartitionInterval),
        "time one partition of sessions, interruptions, activity, comments, check events and "
        'breakout rollups holds: `day`, `week` or `month` (README "Partitions")',
    )
    partitions_ahead: int = setting(
        "PARTITIONS_AHEAD",
        "2",
        _parse_positive_int,
        "partitions kept made beyond the current one (each node checks at start and hourly)",
    )
    cors_origins: tuple[str, ...] = setting(
        "CORS_ORIGINS",
        "",
        _parse_origins,
        "browser origins allowed cross-site (comma list, `*` for any); empty: same origin only",
    )
    max_message_bytes: int = setting(
        "MAX_MESSAGE_BYTES",
        "16384",
        _parse_positive_int,
        "largest Engine.IO message from a client (larger closes the socket)",
    )
    http_read_timeout_s: float = setting(
        "HTTP_READ_TIMEOUT_S",
        "15",
        _parse_positive_float,
        "longest an HTTP client may take to send a request's headers (or sit idle between "
        "requests), and, separately, its body; past it the connection is closed (body: 408)",
    )
    max_queued_bytes: int = setting(
        "MAX_QUEUED_BYTES",
        "1048576",
        _parse_positive_int,
        "bytes of acks and broadcasts that may wait for a socket that reads slowly; past it the "
        "socket is disconnected",
    )
    max_body_bytes: int = setting(
        "MAX_BODY_BYTES", "65536", _parse_positive_int, "largest HTTP request body (larger: 413)"
    )
    event_rate_per_s: float = setting(
        "EVENT_RATE_PER_S",
        "20",
        _parse_positive_float,
        "sustained events per second a socket may send; beyond: `rate_limited`",
    )
    event_burst: int = setting(
        "EVENT_BURST", "40", _parse_positive_int, "events a socket may send at once"
    )
    flood_disconnect_after: int = setting(
        "FLOOD_DISCONNECT_AFTER",
        "100",
        _parse_positive_int,
        "rate-limited events in a row after which the socket is disconnected",
    )
    connect_rate_per_min: float = setting(
        "CONNECT_RATE_PER_MIN",
        "60",
        _parse_positive_float,
        "sustained Socket.IO connections per minute from one client address",
    )
    connect_burst: int = setting(
        "CONNECT_BURST",
        "30",
        _parse_positive_int,
        "connections one client address may open at once",
    )
    connect_limit_exempt: tuple[IpNetwork, ...] = setting(
        "CONNECT_LIMIT_EXEMPT",
        "127.0.0.0/8,::1/128",
        _parse_networks,
        "addresses not connection-limited (`TRUSTED_PROXIES` always are)",
    )
    db_pool_size: int = setting(
        "DB_POOL_SIZE", "8", _parse_positive_int, "PostgreSQL connections per process"
    )
    db_pool_reset: PoolReset = setting(
        "DB_POOL_RESET",
        "rollback",
        _choice(PoolReset),
        "what a connection's return to the pool does: `full` (asyncpg's RESET ALL, UNLISTEN, "
        "unlock: a round trip each time) or `rollback` (only an open transaction is rolled "
        "back; our code keeps no session state)",
    )
    writer_batch_max_rows: int = setting(
        "WRITER_BATCH_MAX_ROWS",
        "1000",
        _parse_positive_int,
        "most session writes in one transaction",
    )
    writer_batch_max_wait_ms: float = setting(
        "WRITER_BATCH_MAX_WAIT_MS",
        "5",
        _parse_non_negative_float,
        "longest a write waits for others to join its batch (only under load, see the next); "
        "`0` never waits: more commits and a worse tail near saturation. At 1,500 events/s, 5 "
        "against 2 (with the next at 2 against 4) cut the server's CPU per event by 27% and "
        "PostgreSQL's by 48%, for a p50 of 8.5 instead of 5 ms (`bench/load.py --lever`)",
    )
    writer_batch_wait_min_rows: int = setting(
        "WRITER_BATCH_WAIT_MIN_ROWS",
        "2",
        _parse_wait_min_rows,
        "the writer waits for company only after a batch of at least this many writes (2 or "
        "more): below it commits keep up with arrivals and a wait would only add latency "
        "(PostgreSQL's `commit_siblings` idea). A higher value waits less often: lower latency "
        "at moderate rates, more commits (a commit of one write costs PostgreSQL 0.4-1 ms of CPU)",
    )
    writer_queue_max: int = setting(
        "WRITER_QUEUE_MAX",
        "20000",
        _parse_positive_int,
        "queued writes beyond which joins and leaves get `unavailable`",
    )
    writer_commit_timeout_s: float = setting(
        "WRITER_COMMIT_TIMEOUT_S",
        "10",
        _parse_positive_float,
        "a commit taking longer counts as the database being away (its writes are journaled)",
    )
    journal_dir: Path | None = setting(
        "JOURNAL_DIR",
        "",
        _parse_optional_path,
        "fsynced journal of writes taken while PostgreSQL is away; empty: `VAR_DIR/journal` "
        "(with `--workers`, one `worker-N` directory each)",
    )
    db_retry_s: float = setting(
        "DB_RETRY_S",
        "1",
        _parse_positive_float,
        "while PostgreSQL is away, how often the writer tries it again (and replays the journal)",
    )
    ua_cache_size: int = setting(
        "UA_CACHE_SIZE", "10000", _parse_positive_int, "parsed User-Agents kept"
    )
    geoip_cache_size: int = setting(
        "GEOIP_CACHE_SIZE", "100000", _parse_positive_int, "located addresses kept"
    )
    breakout_cache_s: float = setting(
        "BREAKOUT_CACHE_S",
        "5",
        _parse_positive_float,
        "how long a looked-up breakout is reused before reading it again",
    )
    presence_interval_ms: float = setting(
        "PRESENCE_INTERVAL_MS",
        "250",
        _parse_positive_float,
        "`viewer-count` and `presence-diff` are sent at most this often per breakout (joins "
        "and leaves in between are gathered, none dropped)",
    )
    heartbeat_interval_s: float = setting(
        "HEARTBEAT_INTERVAL_S",
        "0.5",
        _parse_positive_float,
        "with Redis: how often a node says it is alive and looks for dead ones (one round trip, "
        "two commands); a dead node's sessions end at its last beat, so within this of the truth",
    )
    heartbeat_ttl_s: float = setting(
        "HEARTBEAT_TTL_S",
        "10",
        _parse_positive_float,
        "a node silent this long is dead: a survivor closes its open sessions at its last "
        "heartbeat (`node_lost`)",
    )
    reconnect_grace_s: float = setting(
        "RECONNECT_GRACE_S",
        "30",
        _parse_non_negative_float,
        "a client whose connection was lost may resume its session (`resumeSessionId`) this "
        "long after it was last heard: the stay stays one session, the gap left out; 0: never",
    )
    ping_interval_s: float = setting(
        "PING_INTERVAL_S", "25", _parse_positive_float, "Engine.IO ping interval"
    )
    ping_timeout_s: float = setting(
        "PING_TIMEOUT_S",
        "20",
        _parse_positive_float,
        "Engine.IO ping timeout; a silent client's exit is stamped when it was last heard",
    )
    event_loop: EventLoop = setting(
        "EVENT_LOOP",
        "uvloop",
        _choice(EventLoop),
        "`uvloop` (libuv: cheaper socket I/O) or `asyncio` (the standard library's loop)",
    )
    json_codec: JsonCodec = setting(
        "JSON_CODEC",
        "orjson",
        _choice(JsonCodec),
        "Socket.IO packets' JSON: `orjson` (4-6% less server CPU per event on interleaved "
        "pairs, bench/load.py --lever) or `json` (the standard library)",
    )
    gc_gen0_threshold: int = setting(
        "GC_GEN0_THRESHOLD",
        "50000",
        _parse_non_negative_int,
        "allocations between young-generation garbage collections (Python's default is 700; "
        "`0` keeps it); objects alive after start-up are frozen out of collection",
    )
    present_day_min_hours: float = setting(
        "PRESENT_DAY_MIN_HOURS",
        "4",
        _parse_positive_float,
        "school reports: hours in school that make a user present on a day",
    )
    present_period_min_percent: float = setting(
        "PRESENT_PERIOD_MIN_PERCENT",
        "80",
        _parse_percent,
        "school reports: share of a week's or month's school days present to be present",
    )
    school_days: tuple[int, ...] = setting(
        "SCHOOL_DAYS",
        "mon,tue,wed,thu,fri",
        _parse_weekdays,
        "school days of a new school unless it sets its own (names or ISO numbers 1-7)",
    )
    fever_threshold_c: float = setting(
        "FEVER_THRESHOLD_C",
        "38.0",
        float,
        "a check event at this body temperature or above raises a fever alert",
    )
    checkin_max_future_s: float = setting(
        "CHECKIN_MAX_FUTURE_S",
        "300",
        _parse_non_negative_int,
        "how far ahead of the server's clock a check event's timestamp may be",
    )
    checkin_own_skew_s: float = setting(
        "CHECKIN_OWN_SKEW_S",
        "120",
        _parse_non_negative_int,
        "an attendee's own check event takes the server's time: its `timestamp` may differ by "
        "this much at most (a phone's clock)",
    )
    checkin_max_past_days: float = setting(
        "CHECKIN_MAX_PAST_DAYS",
        "7",
        _parse_non_negative_int,
        "how far back an admin may enter a check event for a user (it records who entered it)",
    )
    breakout_present_min_minutes: float = setting(
        "BREAKOUT_PRESENT_MIN_MINUTES",
        "10",
        _parse_non_negative_int,
        "breakout reports: minutes that make a user present at an unscheduled breakout",
    )
    breakout_present_min_percent: float = setting(
        "BREAKOUT_PRESENT_MIN_PERCENT",
        "75",
        _parse_percent,
        "breakout reports: share of a scheduled breakout that makes a user present",
    )
    rollup_interval_s: float = setting(
        "ROLLUP_INTERVAL_S",
        "60",
        _parse_positive_float,
        "how often the daily-presence rollups are brought up to date",
    )
    webhook_allow_networks: tuple[IpNetwork, ...] = setting(
        "WEBHOOK_ALLOW_NETWORKS",
        "",
        _parse_networks,
        "CIDRs inside your own network that webhooks may call anyway (e.g. `10.1.2.0/24`); "
        "empty: only public addresses",
    )
    webhook_timeout_s: float = setting(
        "WEBHOOK_TIMEOUT_S", "10", _parse_positive_float, "seconds a webhook attempt may take"
    )
    webhook_retry_base_s: float = setting(
        "WEBHOOK_RETRY_BASE_S",
        "10",
        _parse_positive_float,
        "wait before a failed webhook's second attempt; it doubles each time (an hour at most)",
    )
    webhook_retry_for_s: float = setting(
        "WEBHOOK_RETRY_FOR_S",
        "86400",
        _parse_positive_float,
        "how long a failing webhook delivery is retried before it is given up",
    )
    webhook_poll_s: float = setting(
        "WEBHOOK_POLL_S", "1", _parse_positive_float, "how often each node looks for due webhooks"
    )
    log_level: str = setting(
        "LOG_LEVEL", "INFO", _parse_log_level, "`DEBUG`, `INFO`, `WARNING`, `ERROR`"
    )

    @property
    def own_url(self) -> str:
        """Where people reach this server: PUBLIC_URL, else HOST and PORT (all addresses: this
        machine's loopback)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

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


SETTINGS: tuple[SettingSpec, ...] = tuple(
    SettingSpec(spec.env, f.name, spec.default, spec.parse, spec.help, spec.secret)
    for f in fields(Settings)
    for spec in (f.metadata["setting"],)
)
_BY_ENV = {spec.env: spec for spec in SETTINGS}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from `environ` (default: the process environment)."""
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        raw = source.get(spec.env, spec.default)
        try:
            values[spec.field] = spec.parse(raw)
        except ValueError as exc:
            shown = spec.env if spec.secret else f"{spec.env}={raw!r}"
            raise SettingsError(f"{shown} is not valid: {exc}") from None
    return Settings(**values)


def _chosen(only: Collection[str] | None) -> list[SettingSpec]:
    """The specs named in `only` (every one when None); KeyError for a name not declared."""
    return list(SETTINGS) if only is None else [_BY_ENV[env] for env in only]


def describe_settings(only: Collection[str] | None = None) -> str:
    """The settings (or those named in `only`) as a table for `--help`."""
    chosen = _chosen(only)
    width = max(len(spec.env) for spec in chosen)
    lines = ["environment settings (default in brackets):"]
    for spec in chosen:
        default = spec.default or "empty"
        lines.append(f"  {spec.env.ljust(width)}  {spec.help.replace('`', '')} [{default}]")
    return "\n".join(lines)


def settings_table() -> str:
    """The settings as README's markdown table (`python -m config` prints it)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for spec in SETTINGS:
        default = f"`{spec.default}`" if spec.default else "empty"
        lines.append(f"| `{spec.env}` | {default} | {spec.help} |")
    return "\n".join(lines)
