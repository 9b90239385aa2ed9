"""The package's layers, the purity of its core and the absence of import cycles.

The contracts live in pyproject.toml (`[tool.importlinter]`) and are checked by import-linter,
which reads every module of `dsr` (not only the packages' `__init__`), imports guarded by
TYPE_CHECKING included.  `make test` runs `lint-imports` before the suite; these tests run it
too and prove on a copy of the package that a broken rule is noticed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the package found under `root` (first on the path), no cache."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )


def test_every_import_contract_is_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    shutil.copytree(ROOT / "dsr", root / "dsr", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


# (module that gets the import, the import, what lint-imports must report)
BREAKS = [
    # A core module other than its package's __init__ (the old purity test never looked there).
    ("dsr/intents/matcher.py", "import sqlalchemy", "dsr.intents is not allowed to import sqlalchemy"),
    ("dsr/mail/text.py", "import httpx", "dsr.mail is not allowed to import httpx"),
    ("dsr/store/outbox.py", "import dsr.pipeline.core", "dsr.store is not allowed to import dsr.pipeline"),
    ("dsr/console/views/quarantine.py", "import dsr.channels.email.smtp",
     "dsr.console is not allowed to import dsr.channels"),
    ("dsr/intents/rights.py", "import dsr.intents.classifier", "No cycles are allowed in dsr.intents"),
    ("dsr/console/outgoing.py", "from dsr.store.outbox import enqueue",
     "- dsr.console.outgoing -> dsr.store.outbox"),
]


@pytest.mark.parametrize(("module", "statement", "report"), BREAKS, ids=[b[0] for b in BREAKS])
def test_a_forbidden_import_breaks_the_contract(
    package_copy: Path, module: str, statement: str, report: str
) -> None:
    path = package_copy / module
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original + f"\n{statement}  # added by the test\n", encoding="utf-8")
        result = _lint_imports(package_copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert report in result.stdout, result.stdout


def test_the_unchanged_copy_keeps_every_contract(package_copy: Path) -> None:
    """So in the test above it is the added import that breaks the contract, not the copying."""
    result = _lint_imports(package_copy)
    assert result.returncode == 0, result.stdout


def test_one_top_level_name_is_installed() -> None:
    """The packages setuptools installs, found as pyproject.toml tells it: all under `dsr`."""
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(where=str(ROOT), include=include)
    assert "dsr.channels.telegram.conversation" in packages
    assert {name.split(".")[0] for name in packages} == {"dsr"}


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    """Shared helpers live in tests/support/ (and the real servers in tests/servers/)."""
    pattern = re.compile(r"^\s*(from|import)\s+tests\.(\S+\.)?(test_\w+|conftest)\b", re.M)
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
