"""`dsr subjects import|export`: the controller's customer master data as CSV.

Import: header row with at least email, name, customer_number, postal_code, phone; optional
birth_date (YYYY-MM-DD), telegram_user_id, alt_emails (";"-separated); any further column is kept
in `extra`.  Comma, semicolon or tab separated, UTF-8 (with or without BOM) unless --encoding.
Bad rows are reported as "line N: reason" on stderr, the rest is upserted by e-mail address.
Exit code 0: every row imported; 1: some rows rejected; 2: the file could not be used at all.
"""

from __future__ import annotations

import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from dsr.cli import common
from dsr.config import Settings
from dsr.store.subjects_csv import SubjectImportError, export_subjects, import_subjects

subjects_app = typer.Typer(help="Data subjects known to the controller (CSV import/export).",
                           no_args_is_help=True)

_CONTROLLER = typer.Option(
    None, "--controller", help="Controller key (default: the first in DSR_CONTROLLER)."
)
_CONFIG = typer.Option(None, "--config", help="TOML settings file.")


def controller_key(cfg: Settings, wanted: str | None) -> str:
    keys = [p.key for p in common.profiles(cfg)]
    if wanted is None:
        return keys[0]
    if wanted not in keys:
        raise common.CliError(
            f"--controller: {wanted!r} is not configured (DSR_CONTROLLER has {', '.join(keys)})"
        )
    return wanted


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@subjects_app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="CSV file with a header row.", exists=False),
    controller: str | None = _CONTROLLER,
    encoding: str = typer.Option("utf-8-sig", "--encoding", help="File encoding, e.g. cp1252 for old Excel."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and report, write nothing."),
    config: Path | None = _CONFIG,
) -> None:
    """Validate FILE and upsert its subjects by e-mail address (idempotent)."""
    cfg = common.settings(config)
    key = controller_key(cfg, controller)
    if not file.is_file():
        raise common.CliError(f"{file}: no such file", exit_code=2)

    def progress(rows: int) -> None:
        typer.echo(f"... {rows} rows processed", err=True)

    now = datetime.now(UTC)
    try:
        with common.session(cfg) as session, file.open(encoding=encoding, newline="") as stream:
            report = import_subjects(session, stream, controller=key, now=now, actor=_actor(),
                                     progress=progress)
            if dry_run:
                session.rollback()
            else:
                session.commit()
    except SubjectImportError as exc:
        raise common.CliError(f"{file}: {exc}; nothing imported", exit_code=2) from exc
    except UnicodeDecodeError as exc:
        raise common.CliError(
            f"{file}: not readable as {encoding} (byte {exc.start}); try --encoding cp1252; nothing imported",
            exit_code=2) from exc
    except LookupError as exc:
        raise common.CliError(f"--encoding: unknown encoding {encoding!r}", exit_code=2) from exc
    for problem in report.rejected:
        typer.echo(str(problem), err=True)
    typer.echo(("dry run, nothing written: " if dry_run else "") + report.summary, err=True)
    if report.rejected:
        # SystemExit, not typer.Exit: with standalone_mode=False click would swallow the code.
        raise SystemExit(1)


@subjects_app.command("export")
def export_cmd(
    controller: str | None = _CONTROLLER,
    out: Path | None = typer.Option(None, "--out", help="Write to this file (mode 0600) instead of stdout."),
    config: Path | None = _CONFIG,
) -> None:
    """Write the controller's subjects as CSV in the import format."""
    cfg = common.settings(config)
    key = controller_key(cfg, controller)
    now = datetime.now(UTC)
    with common.session(cfg) as session:
        if out is None:
            count = export_subjects(session, sys.stdout, controller=key, now=now, actor=_actor())
        else:
            try:
                fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError as exc:
                raise common.CliError(f"--out: cannot write {out}: {exc.strerror}") from exc
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
                count = export_subjects(session, stream, controller=key, now=now, actor=_actor())
        session.commit()  # the export is audited
    typer.echo(f"{count} subjects exported", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(subjects_app, name="subjects")
