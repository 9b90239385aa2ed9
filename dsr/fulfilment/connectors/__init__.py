"""Connectors: one small adapter per kind of system, all behind `Connector` (see `base`).

`open_connector` is the one place that reads a system's secret from the environment mapping it
is given (never from the map file) and picks the adapter.  To add a kind: write the adapter
module, add the kind to `dsr.datamap.SystemKind` and one branch here.
"""

from __future__ import annotations

from collections.abc import Mapping

from dsr.datamap import System, SystemKind
from dsr.fulfilment.connectors.base import (
    Connector,
    ConnectorError,
    Key,
    Record,
    Step,
    StepAction,
    Value,
)

__all__ = ["Connector", "ConnectorError", "Key", "Record", "Step", "StepAction", "Value", "open_connector"]


def open_connector(system: System, env: Mapping[str, str]) -> Connector:
    """The adapter for `system`; ConnectorError when its environment variable is missing."""
    if system.kind is SystemKind.MANUAL:
        from dsr.fulfilment.connectors.manual import ManualConnector

        return ManualConnector(system)
    name = system.secret_env()
    value = env.get(name, "").strip()
    if not value:
        raise ConnectorError(system, f"environment variable {name} is not set")
    if system.kind is SystemKind.SQL:
        from dsr.fulfilment.connectors.sql import SqlConnector

        return SqlConnector(system, value)
    if system.kind is SystemKind.IMAP:
        from dsr.fulfilment.connectors.imap import ImapConnector

        return ImapConnector(system, value)
    from dsr.fulfilment.connectors.files import FileConnector

    return FileConnector(system, value)
