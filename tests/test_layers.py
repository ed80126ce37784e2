"""The shape of the house (STYLE.md, README "How it is built"): imports run one way only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Each top-level part may import only parts of a lower rank (models and geo not each other).
TOP_RANK = {"config": 0, "geo": 1, "models": 1, "handlers": 2, "server": 3, "run": 4}
# Inside models/: a package may import only packages of a lower rank (and itself).
MODELS_RANK = {
    "domain": 0,
    "store": 1,
    "runtime": 1,
    "auth": 1,
    "writes": 2,
    "schools": 2,
    "live": 3,
    "cluster": 4,
    "reports": 4,
    "jobs": 4,
    "evidence": 5,
}
FRAMEWORKS = {"aiohttp", "socketio", "engineio"}


def modules() -> Iterator[tuple[str, list[str]]]:
    """Each of our modules (dotted) with every module it imports."""
    for path in sorted(ROOT.glob("*.py")) + sorted(ROOT.glob("*/**/*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] not in TOP_RANK and relative.stem not in TOP_RANK:
            continue
        name = ".".join(relative.with_suffix("").parts)
        imported = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.append(node.module)
            elif isinstance(node, ast.Import):
                imported.extend(alias.name for alias in node.names)
        yield name, imported


def test_the_packages_are_all_ranked() -> None:
    assert {
        p.name for p in (ROOT / "models").iterdir() if p.is_dir() and p.name != "__pycache__"
    } == (set(MODELS_RANK))


@pytest.mark.parametrize(("module", "imported"), list(modules()), ids=lambda v: str(v)[:40])
def test_imports_run_one_way(module: str, imported: list[str]) -> None:
    part = module.split(".")[0]
    for target in imported:
        top = target.split(".")[0]
        if top in TOP_RANK and top != part:
            assert TOP_RANK[top] < TOP_RANK[part], f"{module} imports {target}"
        if part in {"models", "geo"}:
            assert top not in FRAMEWORKS, f"{module} imports {target}: the domain is no edge"
        if part == "models" and top == "models" and module.count(".") >= 2:
            mine, theirs = module.split(".")[1], target.split(".")[1]
            if mine != theirs:
                assert MODELS_RANK[theirs] < MODELS_RANK[mine], f"{module} imports {target}"
        if part == "handlers":
            assert top != "asyncpg" or module == "handlers.keys", f"{module} talks to PostgreSQL"
