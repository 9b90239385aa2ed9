"""Run the installed `dsr` console script as a subprocess against a temporary SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DSR = Path(sys.executable).with_name("dsr")


def run_dsr(*args: str, db_url: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env.update({"DSR_DATABASE_URL": db_url, "DSR_CONTROLLER": "kmb2,komsa"})
    return subprocess.run([str(DSR), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout, check=False)
