"""The `dsr` command line.  Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import sys

import typer

from dsr.cli import (
    classify_cmd,
    corpus_cmd,
    datamap_cmd,
    db_cmd,
    deadline_cmd,
    demo_cmd,
    outbox_cmd,
    replies_cmd,
    retention_cmd,
    serve_cmd,
    subjects_cmd,
    tickets_cmd,
    users_cmd,
)
from dsr.cli.common import CliError

app = typer.Typer(
    name="dsr",
    help="dsr-assistant: answers GDPR data-subject requests (Betroffenenanfragen).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (
    serve_cmd,
    db_cmd,
    subjects_cmd,
    tickets_cmd,
    deadline_cmd,
    classify_cmd,
    corpus_cmd,
    replies_cmd,
    outbox_cmd,
    demo_cmd,
    users_cmd,
    retention_cmd,
    datamap_cmd,
):
    _module.register(app)


def main() -> None:
    """Entry point of the `dsr` console script: errors are one line and a non-zero exit code."""
    try:
        # With standalone_mode=False click returns the exit code of typer.Exit instead of exiting.
        result = app(standalone_mode=False)
    except CliError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(result if isinstance(result, int) else 0)
