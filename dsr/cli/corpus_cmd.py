"""`dsr corpus export-corrections`: the DPO's decisions as a labelled corpus file (JSON Lines).

Every correction of rights in the console (or the API) and every ignored message the DPO turned
into a ticket becomes one record in the corpus format; `dsr classify --score FILE` then measures
the classifier on the controller's own traffic.  The file holds message texts (personal data the
controller already holds): keep it where the database is kept, and delete it after use.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import typer

from dsr.cli import common
from dsr.store.corrections import corrections, records

corpus_app = typer.Typer(help="Labelled corpora from the DPO's decisions.", no_args_is_help=True)
ConfigOption = typer.Option(None, "--config", help="TOML settings file.")


@corpus_app.command("export-corrections")
def export_corrections(
    out: Path = typer.Option(..., "--out", "-o", help="JSON Lines file to write (replaced if present)."),
    since: str | None = typer.Option(None, "--since", help="Only decisions on or after YYYY-MM-DD (UTC)."),
    controller: list[str] | None = typer.Option(None, "--controller", help="Only this controller (repeat)."),
    config: Path | None = ConfigOption,
) -> None:
    """Write corrected rights and converted ignored messages as labelled corpus records."""
    start = None
    if since is not None:
        try:
            start = datetime.combine(date.fromisoformat(since), datetime.min.time(), tzinfo=UTC)
        except ValueError as exc:
            raise common.CliError(f"--since: expected YYYY-MM-DD, got {since!r}", exit_code=2) from exc
    cfg = common.settings(config)
    with common.session(cfg) as session:
        found = corrections(session, since=start, controllers=tuple(controller or ()))
        rows = records(session, found)
    tmp = out.with_name(out.name + ".tmp")
    try:
        # Owner-only: the file holds message texts.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as sink:
            for row in rows:
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp.replace(out)
    except OSError as exc:
        raise common.CliError(f"cannot write {out}: {exc}") from exc
    typer.echo(f"{len(rows)} labelled record(s) written to {out} "
               "(it holds message texts: personal data, keep it safe)")


def register(app: typer.Typer) -> None:
    app.add_typer(corpus_app, name="corpus")
