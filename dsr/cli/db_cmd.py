"""`dsr db upgrade`: apply schema migrations."""

from __future__ import annotations

from pathlib import Path

import typer

from dsr.cli import common

db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(config: Path | None = typer.Option(None, "--config", help="TOML settings file.")) -> None:
    """Apply all pending migrations to DSR_DATABASE_URL."""
    cfg = common.settings(config)
    common.engine(cfg, upgrade=True)
    typer.echo("database is up to date")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
