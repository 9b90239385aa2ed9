"""Helpers shared by CLI commands: settings, database access and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dsr.config import ConfigError, Settings, load_settings
from dsr.controllers import ControllerProfile, ProfileError, load_profile
from dsr.store.db import make_engine, migrate, session_factory


class CliError(Exception):
    """A user-facing error: printed as one line, exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def settings(config_file: Path | None = None) -> Settings:
    try:
        return load_settings(config_file)
    except ConfigError as exc:
        raise CliError(str(exc), exit_code=2) from exc


def profiles(cfg: Settings) -> list[ControllerProfile]:
    try:
        return [load_profile(name) for name in cfg.controller_names]
    except ProfileError as exc:
        raise CliError(f"DSR_CONTROLLER: {exc}", exit_code=2) from exc


def engine(cfg: Settings, *, upgrade: bool = True) -> Engine:
    eng = make_engine(cfg.database_url)
    if upgrade:
        migrate(eng)
    return eng


@contextmanager
def session(cfg: Settings) -> Iterator[Session]:
    factory = session_factory(engine(cfg))
    with factory() as s:
        yield s
