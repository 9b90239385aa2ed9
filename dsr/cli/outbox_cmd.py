"""`dsr outbox list|show`: what the service sent or is about to send."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import typer
from sqlalchemy import select

from dsr.cli import common
from dsr.store.models import OutboxItem, OutboxState, Ticket
from dsr.store.sealed import is_sealed

outbox_app = typer.Typer(help="Outgoing messages (the transactional outbox).", no_args_is_help=True)
ConfigOption = typer.Option(None, "--config", help="TOML settings file.")
SHOWN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
                 "Auto-Submitted")


@outbox_app.command("list")
def list_items(
    state: str | None = typer.Option(None, "--state", help="pending, sent or failed."),
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many, newest first."),
    config: Path | None = ConfigOption,
) -> None:
    """List outbox items, newest first."""
    states = [s.value for s in OutboxState]
    if state is not None and state not in states:
        raise common.CliError(f"--state: expected one of {', '.join(states)}, got {state!r}")
    cfg = common.settings(config)
    with common.session(cfg) as session:
        stmt = select(OutboxItem, Ticket.reference).outerjoin(Ticket, Ticket.id == OutboxItem.ticket_id)
        if state:
            stmt = stmt.where(OutboxItem.state == state)
        rows = session.execute(stmt.order_by(OutboxItem.id.desc()).limit(limit)).all()
        if not rows:
            typer.echo("outbox is empty" if state is None else f"no {state} items")
            return
        typer.echo(f"{'ID':>5}  {'STATE':<8} {'TICKET':<16} {'KIND':<34} {'TO':<34} CREATED (UTC)")
        for item, reference in rows:
            typer.echo(f"{item.id:>5}  {item.state:<8} {reference or '-':<16} {item.kind:<34} "
                       f"{item.recipient[:34]:<34} {item.created_at:%Y-%m-%d %H:%M:%S}")


@outbox_app.command("show")
def show_item(
    item_id: int = typer.Argument(..., help="Outbox item id (see `dsr outbox list`)."),
    raw: bool = typer.Option(False, "--raw", help="Print the complete RFC 5322 message."),
    config: Path | None = ConfigOption,
) -> None:
    """Show one outbox item: its delivery state and the message text."""
    cfg = common.settings(config)
    with common.session(cfg) as session:
        item = session.get(OutboxItem, item_id)
        if item is None:
            raise common.CliError(f"no outbox item {item_id}")
        typer.echo(f"item {item.id}: {item.state}, {item.channel}, {item.kind}, attempts {item.attempts}")
        if item.last_error:
            typer.echo(f"last error: {item.last_error}")
        typer.echo("")
        if is_sealed(item.payload) or not item.payload:
            typer.echo("(a DPO attachment: sealed with DSR_PACKAGE_KEY while queued, dropped once delivered)")
            return
        if raw:
            typer.echo(item.payload.decode("utf-8", errors="replace"))
            return
        if item.channel != "email":
            typer.echo(json.loads(item.payload.decode("utf-8")).get("text", ""))
            return
        message = message_from_bytes(item.payload, policy=default)
        for name in SHOWN_HEADERS:
            if message.get(name):
                typer.echo(f"{name}: {message[name]}")
        typer.echo("")
        body = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
        typer.echo(body.get_content() if isinstance(body, EmailMessage) else "(no text part)")


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
