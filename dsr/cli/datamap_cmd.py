"""`dsr datamap check|keygen` and `dsr fulfil REF`: the data map and the fulfilment of one request.

`datamap check` validates each configured controller's data map, compares its categories with the
profile, and reaches every system; each problem is one line naming the system, and the exit code
is 1 when any system failed (2 when the map itself is invalid).  `fulfil REF` runs discovery for
the ticket now (outside the service) and prints what each system holds, then the plan of an
erasure, restriction or rectification; it changes nothing in the systems.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from dsr.cli import common
from dsr.datamap import DataMap, DataMapError, load_datamap_for
from dsr.fulfilment.check import check_systems, profile_problems
from dsr.fulfilment.connectors import Connector, ConnectorError, open_connector
from dsr.fulfilment.plan import build_plan
from dsr.fulfilment.review import case_for, results_of, sources
from dsr.intents.rights import Right
from dsr.store.db import session_factory
from dsr.store.tickets.queries import find_by_reference

datamap_app = typer.Typer(help="The data map: systems holding personal data.", no_args_is_help=True)
ConfigOption = typer.Option(None, "--config", help="TOML settings file.")
BERLIN = ZoneInfo("Europe/Berlin")


def _maps(config: Path | None) -> list[tuple[str, DataMap]]:
    cfg = common.settings(config)
    out = []
    for profile in common.profiles(cfg):
        ref = next(r for r in cfg.controller_names if r == profile.key or r.endswith(".toml"))
        try:
            datamap = load_datamap_for(ref if ref.endswith(".toml") else profile.key)
        except DataMapError as exc:
            raise common.CliError(str(exc), exit_code=2) from exc
        if datamap is None:
            typer.echo(f"{profile.key}: no data map (fulfilment stays manual)")
            continue
        problems = profile_problems(datamap, profile)
        if problems:
            raise common.CliError(f"{profile.key} data map: {problems[0]}", exit_code=2)
        out.append((profile.key, datamap))
    return out


@datamap_app.command("check")
def check_command(config: Path | None = ConfigOption) -> None:
    """Validate the data maps and reach every system they name."""
    failed = 0
    for controller, datamap in _maps(config):
        for result in check_systems(datamap, os.environ):
            if result.ok:
                typer.echo(f"{controller}: ok: {result.message}")
            else:
                failed += 1
                typer.echo(f"error: {controller}: {result.message}", err=True)
    if failed:
        raise typer.Exit(1)


@datamap_app.command("keygen")
def keygen_command() -> None:
    """Print a new DSR_PACKAGE_KEY (encrypts packages at rest); keep it like a password."""
    from dsr.fulfilment.vault import new_key

    typer.echo(new_key())


def fulfil_command(reference: str = typer.Argument(..., help="Ticket reference, e.g. DSR-2026-000001."),
                   config: Path | None = ConfigOption) -> None:
    """Run discovery for a ticket now and show what was found (and the plan of an erasure)."""
    from dsr.fulfilment.maps import load_datamaps
    from dsr.service.fulfilment_worker import FulfilmentWorker

    cfg = common.settings(config)
    try:
        maps = load_datamaps(cfg)
    except DataMapError as exc:
        raise common.CliError(str(exc), exit_code=2) from exc
    sessions = session_factory(common.engine(cfg))
    with sessions() as session:
        ticket = find_by_reference(session, reference.strip().upper())
        if ticket is None:
            raise common.CliError(f"no ticket {reference}")
        if ticket.controller not in maps:
            raise common.CliError(f"{ticket.controller} has no data map; fulfilment stays manual")
        ticket_id, rights = ticket.id, {Right(r) for r in ticket.rights}
        if ticket.subject_id is None:
            raise common.CliError(f"{reference}: no data subject on the ticket; verify identity first")
    worker = FulfilmentWorker(sessions=sessions, datamaps=maps, clock=lambda: datetime.now(UTC),
                              delivery=None)
    worker.discover(ticket_id)
    with sessions() as session:
        ticket = find_by_reference(session, reference.strip().upper())
        case = case_for(session, ticket_id)
        if ticket is None or case is None:
            raise common.CliError(f"{reference}: no fulfilment case")
        datamap = maps[ticket.controller]
        typer.echo(f"{ticket.reference}: {case.state}")
        for result in results_of(session, case):
            counts = ", ".join(f"{k} {len(v)}" for k, v in result.found.items() if not k.startswith("_"))
            failed = result.error if result.error and result.state == "failed" else None
            detail = failed or counts or result.manual_note
            typer.echo(f"  {result.system}: {result.state}" + (f" ({detail})" if detail else ""))
        if rights & {Right.ERASURE, Right.RESTRICTION, Right.RECTIFICATION}:
            chosen = sources(session, case, datamap)
            connectors: dict[str, Connector] = {}
            try:
                for key in {s.system.key for s in chosen if s.keys}:
                    connectors[key] = open_connector(datamap.system(key), os.environ)
                plan = build_plan(datamap, chosen, rights, connectors=connectors,
                                  today=datetime.now(UTC).astimezone(BERLIN).date())
            except ConnectorError as exc:
                raise common.CliError(str(exc)) from exc
            finally:
                for connector in connectors.values():
                    connector.close()
            typer.echo("plan (approve on the ticket page in the console):")
            for item in plan:
                until = f" until {item.until:%d.%m.%Y} ({item.ground})" if item.until else ""
                typer.echo(f"  {item.system.key}/{item.category.key}: {item.action.value} "
                           f"{item.rows} rows{until}")
        session.rollback()


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.add_typer(datamap_app, name="datamap")
    app.command("fulfil")(fulfil_command)
