"""`dsr serve`: run the service (SMTP endpoint, IMAP poller, Telegram bot, console, outbox sender)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import typer

from dsr.cli import common

log = logging.getLogger(__name__)


def serve(config: Path | None = typer.Option(None, "--config", help="TOML settings file.")) -> None:
    """Run every configured channel in one process until SIGTERM/SIGINT.

    Bad configuration stops the start with one line naming the setting (exit code 2).
    """
    from dsr.logs import configure_logging
    from dsr.service.app import prepare_database, utc_now
    from dsr.service.app import serve as run_service
    from dsr.service.demo import load_demo_data
    from dsr.service.leadership import SecondInstanceError

    cfg = common.settings(config)
    configure_logging(cfg.log_level)
    profiles = {p.key: p for p in common.profiles(cfg)}
    from dsr.datamap import DataMapError
    from dsr.fulfilment.maps import load_datamaps

    try:
        load_datamaps(cfg)
    except DataMapError as exc:
        raise common.CliError(str(exc), exit_code=2) from exc
    try:
        sessions = prepare_database(cfg)
    except Exception as exc:  # unreachable database, wrong URL: one line, not a traceback
        raise common.CliError(f"DSR_DATABASE_URL: cannot open the database ({type(exc).__name__})",
                              exit_code=2) from exc
    if cfg.demo:
        load_demo_data(sessions, list(profiles), now=utc_now())
        from dsr.service.demo_crm import load_demo_crms

        try:
            load_demo_crms(list(profiles), dict(os.environ))
        except Exception as exc:  # a demo CRM that cannot be created must not stop the service
            log.warning("demo CRM not created (%s)", type(exc).__name__)
    try:
        asyncio.run(run_service(cfg, profiles, sessions))
    except SecondInstanceError as exc:
        raise common.CliError(str(exc), exit_code=2) from exc
    except OSError as exc:  # e.g. the SMTP or web port is taken
        raise common.CliError(f"cannot start a listener: {exc.strerror or exc}", exit_code=2) from exc


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
