"""`dsr retention purge`: delete DSR records past the controller's retention period.

See `dsr.store.retention` for what is deleted, what is kept (suppression entries, unclosed tickets,
the board's statistics) and why the period runs from the end of the year of closing.  A dry run
prints the same counts and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from dsr.cli import common
from dsr.controllers import ControllerProfile, ProfileError, load_profile
from dsr.store.retention import PurgeReport, purge

retention_app = typer.Typer(help="Retention of DSR records (storage limitation).", no_args_is_help=True)
ConfigOption = typer.Option(None, "--config", help="TOML settings file.")
LABELS = (
    ("tickets", "tickets"), ("messages", "messages"), ("notes", "notes"),
    ("challenges", "verification codes"), ("outbox_items", "outbox items"),
    ("quarantine", "quarantined messages"), ("audit_events", "audit events"),
    ("marks", "scheduler marks"), ("execution_steps", "execution journal steps"),
)


def _profiles(controller: str | None, config: Path | None) -> list[ControllerProfile]:
    if controller is None:
        return common.profiles(common.settings(config))
    try:
        return [load_profile(controller)]
    except ProfileError as exc:
        raise common.CliError(f"--controller: {exc}", exit_code=2) from exc


def _describe(report: PurgeReport) -> list[str]:
    counts = report.counts.as_dict()
    verb = "would delete" if report.dry_run else "deleted"
    listed = ", ".join(f"{counts[key]} {label}" for key, label in LABELS)
    lines = [
        f"{report.controller}: records closed before {report.horizon:%d.%m.%Y} "
        f"({report.years} years from the end of the year of closing)",
        f"  {verb}: {listed}",
        f"  kept: {counts['suppressions_kept']} suppression entries of these tickets (link cleared)",
    ]
    if counts["unclosed_past_horizon"]:
        lines.append(f"  note: {counts['unclosed_past_horizon']} answered or refused tickets from before "
                     "the horizon are not closed and are kept; close them to let them expire")
    return lines


@retention_app.command("purge")
def purge_command(
    controller: str | None = typer.Option(
        None, "--controller", help="Only this controller (profile name or path); default: all configured."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be deleted; change nothing."),
    config: Path | None = ConfigOption,
) -> None:
    """Delete closed tickets (and what belongs to them) past dsr_record_retention_years."""
    profiles = _profiles(controller, config)
    cfg = common.settings(config)
    now = datetime.now(UTC)
    with common.session(cfg) as session:
        for profile in profiles:
            report = purge(session, controller=profile.key, years=profile.dsr_record_retention_years,
                           now=now, dry_run=dry_run, actor="cli:retention")
            for line in _describe(report):
                typer.echo(line)
        if dry_run:
            session.rollback()
            typer.echo("dry run: nothing was changed")
        else:
            session.commit()


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.add_typer(retention_app, name="retention")
