"""The deployment examples in docs/deploy are valid: nginx's own syntax check on the proxy
example, systemd's on the unit (or, without systemd, a strict reading of it)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "docs" / "deploy"
# `make test` unpacks Debian's nginx here when the machine has none (Makefile, NGINX).
UNPACKED_NGINX = ROOT / ".tools" / "nginx" / "usr" / "sbin" / "nginx"
UNIT_KEYS = {
    "Unit": {"Description", "After", "Wants"},
    "Service": {
        "Type",
        "User",
        "Group",
        "WorkingDirectory",
        "EnvironmentFile",
        "ExecStart",
        "KillSignal",
        "KillMode",
        "TimeoutStopSec",
        "Restart",
        "RestartSec",
        "LimitNOFILE",
        "StateDirectory",
        "Environment",
        "NoNewPrivileges",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "ReadWritePaths",
    },
    "Install": {"WantedBy"},
}


def nginx_binary() -> str:
    found = os.environ.get("NGINX") or shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if found is None and UNPACKED_NGINX.exists():
        found = str(UNPACKED_NGINX)
    assert found, "no nginx: `make test` unpacks Debian's (or set NGINX)"
    return found


def test_the_nginx_example_passes_nginx_t(tmp_path: Path) -> None:
    main = tmp_path / "nginx.conf"
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp_path / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp_paths}    include {DEPLOY / 'nginx.conf'};\n}}\n"
    )
    checked = subprocess.run(  # noqa: S603 - our file, nginx's own check
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(main), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr

    # The check is real: a typo in the example fails it.
    broken = tmp_path / "broken.conf"
    broken.write_text((DEPLOY / "nginx.conf").read_text().replace("proxy_pass", "proxy_pas", 1))
    main.write_text(main.read_text().replace(str(DEPLOY / "nginx.conf"), str(broken)))
    refused = subprocess.run(  # noqa: S603
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(main), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode != 0


def test_the_systemd_unit_is_valid(tmp_path: Path) -> None:
    text = (DEPLOY / "attendance.service").read_text()
    unit = configparser.ConfigParser(strict=True, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(text)
    assert set(unit.sections()) == set(UNIT_KEYS)
    for section, keys in UNIT_KEYS.items():
        assert set(unit[section]) <= keys, (section, set(unit[section]) - keys)
    start = unit["Service"]["ExecStart"].split()
    assert start[0] == "/srv/attendance/.venv/bin/python" and start[1:3] == ["run.py", "serve"]
    assert unit["Service"]["KillSignal"] == "SIGTERM"  # the graceful stop closes sessions
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # the strict reading above is the check on a machine without systemd
    # systemd's own reading, with the example's interpreter replaced by one that exists here.
    copy = tmp_path / "attendance.service"
    copy.write_text(text.replace(start[0], sys.executable))
    verified = subprocess.run(  # noqa: S603 - systemd's own check of our file
        [analyze, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert verified.returncode == 0, verified.stderr
    assert str(copy) not in verified.stdout + verified.stderr, verified.stderr
