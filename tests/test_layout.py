"""The pure core imports no network, database or channel library (STYLE.md: module boundaries)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = (
    "sqlalchemy", "aiosmtpd", "telegram", "imapclient", "starlette", "uvicorn", "httpx",
    "dsr.store", "dsr.pipeline", "dsr.channels", "dsr.console", "dsr.service", "dsr.cli",
)


@pytest.mark.parametrize(
    "module", ["dsr.intents", "dsr.replies", "dsr.deadlines", "dsr.controllers", "dsr.mail", "dsr.inbound"]
)
def test_core_module_stays_pure(module: str) -> None:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    bad = sorted({m for m in loaded for f in FORBIDDEN if m == f or m.startswith(f + ".")})
    assert bad == [], f"{module} pulls in {bad}"
