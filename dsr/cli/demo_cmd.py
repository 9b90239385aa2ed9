"""`dsr demo send KIND`: mail a realistic German demo request to the running service."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from pathlib import Path

import typer

from dsr.cli import common
from dsr.config import Settings
from dsr.service.demo import DEMO_KINDS, demo_request

demo_app = typer.Typer(help="Try the service with fictitious requests.", no_args_is_help=True)


@demo_app.command("send")
def send(
    kind: str = typer.Argument(..., help=f"One of: {', '.join(DEMO_KINDS)}."),
    to: str | None = typer.Option(None, "--to", help="Request address (default: the controller's first)."),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file."),
) -> None:
    """Send a demo request via SMTP to DSR_SMTP_LISTEN; then see the answer with `dsr outbox list`."""
    if kind not in DEMO_KINDS:
        raise common.CliError(f"unknown demo request {kind!r}; choose one of {', '.join(DEMO_KINDS)}")
    cfg = common.settings(config)
    profile = common.profiles(cfg)[0]
    address = to or profile.from_address
    message = demo_request(kind, controller=profile.key, to=address, now=datetime.now(UTC))
    host, port = Settings.split_host_port(cfg.smtp_listen)
    try:
        with smtplib.SMTP(host, port, timeout=30) as client:
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise common.CliError(
            f"could not deliver to the service at {cfg.smtp_listen} ({exc}); is `dsr serve` running?"
        ) from exc
    typer.echo(f"sent a demo {kind} request from {message['From']} to {address} via {cfg.smtp_listen}")
    typer.echo("see the answer with: dsr outbox list   (and dsr outbox show ID)")


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")
