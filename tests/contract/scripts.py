"""Running one of the contract scripts (`*.mjs` beside this module) under Node and reading the one
JSON object it prints."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


def node_executable() -> str:
    """Node, with the official client installed; fails the test clearly when either is missing."""
    executable = shutil.which("node")
    if executable is None or not (HERE / "node_modules" / "socket.io-client").exists():
        pytest.fail("contract tests need Node and `npm ci` in tests/contract (make test does both)")
    return executable


async def run_script(script: str, *args: str, timeout_s: float = 60) -> dict[str, Any]:
    """Runs `script` with `args`, asserts it succeeded and returns what it printed."""
    process = await asyncio.create_subprocess_exec(
        node_executable(),
        str(HERE / script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    assert process.returncode == 0, stderr.decode()
    result: dict[str, Any] = json.loads(stdout)
    return result
