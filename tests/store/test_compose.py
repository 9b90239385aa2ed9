"""compose.yaml and the Dockerfile: valid for Debian's docker-compose, and the image is sane."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.support.database import missing_server

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"


def _compose(*args: str, file: Path = COMPOSE) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        missing_server("docker-compose (Debian package docker-compose)")
    return subprocess.run([str(binary), "-f", str(file), *args], capture_output=True, text=True,
                          cwd=file.parent, timeout=60, check=False, env={"PATH": "/usr/bin:/bin"})


def test_compose_config_is_valid() -> None:
    result = _compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_services_volumes_and_wiring() -> None:
    assert set(_compose("config", "--services").stdout.split()) == {"app", "db", "mail"}
    assert "pgdata" in _compose("config", "--volumes").stdout.split()
    rendered = _compose("config").stdout
    assert "postgresql+psycopg://dsr:dsr-local-trial@db:5432/dsr" in rendered
    assert "pg_isready" in rendered and "condition: service_healthy" in rendered
    assert "DSR_SMTP_RELAY: mail:1025" in rendered
    # Every published port is bound to loopback.
    short = re.findall(r"^\s+- (\S+):\d+:\d+/tcp$", rendered, re.M)  # docker-compose 1.x
    long = re.findall(r"host_ip: (\S+)", rendered)  # Compose v2 renders the long syntax
    assert (short or long) == ["127.0.0.1"] * 3


def test_compose_check_detects_errors(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text(encoding="utf-8").replace("    restart: unless-stopped\n",
                                                                  "    restart_policy_typo: yes\n", 1))
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert _compose("config", "-q", file=broken).returncode != 0


def test_dockerfile_runs_dsr_serve_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["python:3.11-slim", "python:3.11-slim"]
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^CMD \["dsr", "serve"\]$', text, re.M)
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["packages"]["find"]["include"]
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, re.M))
    assert {p.rstrip("*") for p in packages} == copied


@pytest.mark.parametrize("needed", ["pyproject.toml", "README.md", "dsr"])
def test_dockerignore_keeps_what_the_build_needs(needed: str) -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert needed not in ignored
