"""run.py as a user runs it: a real process, its flags, its output."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
import socketio

from models.auth.tokens import TokenAuthority
from models.domain.records import Role
from tests.support.clients import RawSocket
from tests.support.records import new_breakout_id
from tests.support.servers import TEST_SECRET, serving, stop

ROOT = Path(__file__).resolve().parent.parent


def run_py(
    *args: str, env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_help_lists_commands_and_settings() -> None:
    done = run_py("--help", env={})
    assert done.returncode == 0
    for word in ("serve", "migrate", "token", "DATABASE_URL", "TRUSTED_PROXIES", "GEOIP_DB"):
        assert word in done.stdout
    for command in ("serve", "migrate", "token"):
        assert run_py(command, "--help", env={}).returncode == 0


def test_help_of_purge_and_seed_lists_only_the_settings_they_use() -> None:
    purge = run_py("purge", "--help", env={}).stdout
    seed = run_py("seed", "--help", env={}).stdout
    for used in ("DATABASE_URL", "VAR_DIR", "LOG_LEVEL"):
        assert used in purge and used in seed
    assert "RETENTION_MODE" in purge and "RETENTION_MODE" not in seed
    for unused in ("REDIS_URL", "PING_TIMEOUT_S", "TRUSTED_PROXIES", "AUTH_SECRET"):
        assert unused not in purge and unused not in seed


def test_token_is_signed_with_the_servers_secret(tmp_path: Path) -> None:
    env = {"VAR_DIR": str(tmp_path), "AUTH_SECRET": ""}
    done = run_py(
        "token", "--user", "u7", "--name", "Grace", "--role", "host", "--org", "o1", env=env
    )
    assert done.returncode == 0, done.stderr
    secret = (tmp_path / "auth_secret").read_text()
    identity = TokenAuthority(secret=secret).verify(done.stdout.strip())
    assert (identity.user_id, identity.name, identity.role, identity.org_id) == (
        "u7",
        "Grace",
        "host",
        "o1",
    )


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL='chatty' is not valid: expected one of debug"),
        ({"IP_STORAGE": "bogus"}, "expected one of full, truncated, none"),
        ({"DATABASE_URL": "postgresql://app:pw@db:port/x"}, "DATABASE_URL is not valid"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(env: dict[str, str], said: str) -> None:
    done = run_py("serve", env=env)
    assert done.returncode == 2 and said in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_busy_port_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_py("serve", env={"PORT": str(port), "VAR_DIR": str(tmp_path)}, timeout_s=60)
    assert done.returncode == 2 and f"PORT {port}" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "pg").exists()  # the embedded database was never started


@pytest.mark.parametrize(
    "flags",
    [["--ttl", "0"], ["--ttl", "-5"], ["--user", "a b"], ["--org", ""], ["--name", "Ada\x07"]],
    ids=["ttl-0", "ttl-negative", "user-with-space", "empty-org", "name-with-control"],
)
def test_token_checks_its_arguments_as_the_server_does(tmp_path: Path, flags: list[str]) -> None:
    base = {"--user": "u7", "--name": "Grace", "--role": "host", "--org": "o1"}
    args = [item for pair in base.items() for item in pair] + flags
    done = run_py("token", *args, env={"VAR_DIR": str(tmp_path), "AUTH_SECRET": ""})
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "path", "link"),
    [
        ({"PORT": "8123"}, [], "http://127.0.0.1:8123/dashboard/#token="),
        ({"HOST": "0.0.0.0"}, ["breakouts/m-1"], "http://127.0.0.1:8080/breakouts/m-1#token="),  # noqa: S104
        (
            {"PUBLIC_URL": "https://attend.example.org/"},
            ["/dashboard/breakouts/m-1"],
            "https://attend.example.org/dashboard/breakouts/m-1#token=",
        ),
    ],
)
def test_token_prints_a_dashboard_link_with_the_token_in_the_fragment(
    tmp_path: Path, env: dict[str, str], path: list[str], link: str
) -> None:
    args = ("token", "--user", "u7", "--name", "Grace", "--role", "host", "--org", "o1")
    done = run_py(*args, "--link", *path, env={"VAR_DIR": str(tmp_path), "AUTH_SECRET": ""} | env)
    assert done.returncode == 0, done.stderr
    printed, token = done.stdout.strip().split("#token=")
    assert printed + "#token=" == link
    secret = (tmp_path / "auth_secret").read_text()
    assert TokenAuthority(secret=secret).verify(token).user_id == "u7"


def test_token_says_where_its_secret_lives_and_warns_of_a_new_one(tmp_path: Path) -> None:
    env = {"VAR_DIR": str(tmp_path / "elsewhere"), "AUTH_SECRET": ""}
    args = ("token", "--user", "u7", "--name", "Grace", "--role", "host", "--org", "o1")
    first = run_py(*args, env=env)
    secret = (tmp_path / "elsewhere" / "auth_secret").resolve()
    assert (
        first.returncode == 0 and "NEW token secret" in first.stderr and str(secret) in first.stderr
    )
    (tmp_path / "elsewhere" / "journal").mkdir()  # a server has run here since
    again = run_py(*args, env=env)
    assert "NEW" not in again.stderr and str(secret) in again.stderr


def test_bad_setting_exits_with_a_clear_message() -> None:
    done = run_py("migrate", env={"PORT": "eighty"})
    assert done.returncode == 2 and "PORT='eighty' is not valid" in done.stderr


def test_migrate_applies_pending_migrations(postgres_url: str) -> None:
    done = run_py("migrate", env={"DATABASE_URL": postgres_url})
    assert done.returncode == 0, done.stderr
    assert "migrations applied" in done.stderr


def attendee_token() -> str:
    return TokenAuthority(secret=TEST_SECRET).mint(
        user_id="u1", name="Ada", org_id="org-a", role=Role.ATTENDEE, ttl_s=60
    )


async def test_serve_answers_and_stops_gracefully_on_sigterm(
    postgres_url: str, tmp_path: Path
) -> None:
    async with serving({"DATABASE_URL": postgres_url}, tmp_path, "serve") as (process, url):
        output = await stop(process)
    assert process.returncode == 0
    assert url in output and "run.py token" in output
    assert "Traceback" not in output


async def test_sessions_written_by_a_separate_process_are_in_the_database(
    postgres_url: str, tmp_path: Path
) -> None:
    """The same path without the test's event loop: `python run.py`, a Python client."""
    client = socketio.AsyncClient(reconnection=False)
    async with serving({"DATABASE_URL": postgres_url}, tmp_path) as (process, url):
        await client.connect(url, auth={"token": attendee_token()}, wait_timeout=5)
        joined = await client.call("join-chat-room", {"breakoutId": new_breakout_id()}, timeout=10)
        await client.disconnect()
        reason = await _exit_reason_when_recorded(postgres_url, joined["sessionId"])
        await stop(process)
    assert reason == "disconnect"


async def _exit_reason_when_recorded(url: str, session_id: str) -> str | None:
    connection = await asyncpg.connect(url)
    try:
        for _ in range(100):
            reason = await connection.fetchval(
                "SELECT exit_reason FROM attendance_sessions WHERE session_id = $1", session_id
            )
            if reason is not None:
                return str(reason)
            await asyncio.sleep(0.05)
        return None
    finally:
        await connection.close()


async def test_sigterm_right_after_clients_hang_up_exits_promptly(
    postgres_url: str, tmp_path: Path
) -> None:
    # python-engineio's disconnect-all waits for send queues that a closed client never drains;
    # the shutdown must not, or the process hangs until it is killed.
    async with serving({"DATABASE_URL": postgres_url}, tmp_path) as (process, url):
        sockets = [await RawSocket.connect(url, attendee_token()) for _ in range(3)]
        breakout = new_breakout_id()
        for raw in sockets:
            await raw.call("join-chat-room", {"breakoutId": breakout})
            await raw.call("leave-chat-room", {"breakoutId": breakout})
        for raw in sockets:
            await raw.close()
        await stop(process)
    assert process.returncode == 0


def test_purge_command_deletes_old_closed_sessions(postgres_url: str) -> None:
    async def seed_and_count(statement: str) -> int:
        connection = await asyncpg.connect(postgres_url)
        try:
            await connection.execute(statement)
            return int(
                await connection.fetchval(
                    "SELECT count(*) FROM attendance_sessions WHERE breakout_id = 'purge-cli'"
                )
            )
        finally:
            await connection.close()

    asyncio.run(
        seed_and_count(
            "INSERT INTO breakouts (id, org_id) VALUES ('purge-cli', 'o') ON CONFLICT DO NOTHING;"
            "INSERT INTO attendance_sessions (user_id, breakout_id, session_id, entry_ts, exit_ts,"
            " exit_reason, org_id) VALUES ('u', 'purge-cli', 's', '2001-01-01Z',"
            " '2001-01-01T01:00Z', 'leave', 'o') ON CONFLICT DO NOTHING"
        )
    )
    done = run_py(
        "purge", "--older-than", "365", "--mode", "delete", env={"DATABASE_URL": postgres_url}
    )
    assert done.returncode == 0, done.stderr
    assert "purge: delete" in done.stderr
    assert asyncio.run(seed_and_count("SELECT 1")) == 0
    assert run_py("purge", "--older-than", "-1", env={"DATABASE_URL": postgres_url}).returncode == 2


def test_seed_command_fills_and_rolls_up_an_org(postgres_url: str) -> None:
    org = f"seed-cli-{os.getpid()}"
    sizes = ("--schools", "1", "--users", "4", "--days", "8", "--breakouts", "2")
    done = run_py(
        "seed", "--org", org, *sizes, "--attendees", "5", env={"DATABASE_URL": postgres_url}
    )
    assert done.returncode == 0, done.stderr
    assert f"seeded org {org}: 1 schools, 4 users" in done.stderr
    assert " 2 breakouts" in done.stderr and "daily rollups" in done.stderr
    again = run_py("seed", "--org", org, *sizes, env={"DATABASE_URL": postgres_url})
    assert again.returncode != 0  # the same org twice is refused, not doubled
    refused = run_py("seed", "--days", "0", env={"DATABASE_URL": postgres_url})
    assert refused.returncode == 2 and "--days" in refused.stderr
