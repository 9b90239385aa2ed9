"""Find and load the data map of a controller profile; errors are one line naming file and place."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from dsr.controllers.profile import PROFILE_DIR
from dsr.datamap.schema import DataMap

SUFFIX = ".datamap.toml"


class DataMapError(Exception):
    """The map is missing or invalid; the message is one line for the operator."""


def datamap_path(profile_ref: str) -> Path:
    """Where the map of a profile lives: beside the profile file (`kmb2.toml` -> `kmb2.datamap.toml`)."""
    path = Path(profile_ref)
    if path.suffix == ".toml" and path.exists():
        return path.with_name(path.name.removesuffix(".toml") + SUFFIX)
    return PROFILE_DIR / f"{profile_ref}{SUFFIX}"


def load_datamap(path: Path) -> DataMap:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataMapError(f"{path}: no data map (create it beside the controller profile)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataMapError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return DataMap.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _where(data, first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise DataMapError(f"{path}: {where}: {message}") from exc


def load_datamap_for(profile_ref: str) -> DataMap | None:
    """The profile's map, or None when the controller has none (fulfilment then stays manual)."""
    path = datamap_path(profile_ref)
    return load_datamap(path) if path.exists() else None


_LISTS = {"systems": "system", "categories": "category", "recipients": "recipient", "find": "alternative"}


def _where(data: object, loc: tuple[int | str, ...]) -> str:
    """'system "crm", category "orders", field columns' instead of 'systems.0.categories.1.columns'."""
    parts: list[str] = []
    node = data
    container = "item"
    for step in loc:
        if step == "[key]" and parts:  # a mapping's key is wrong (e.g. an unknown identifier)
            parts[-1] = parts[-1].replace("field ", "key ", 1)
            continue
        if isinstance(node, dict) and isinstance(step, str):
            node = node.get(step)
            if step in _LISTS:
                container = _LISTS[step]
            else:
                parts.append(f"field {step}")
        elif isinstance(node, list) and isinstance(step, int):
            node = node[step] if step < len(node) else None
            key = node.get("key") if isinstance(node, dict) else None
            parts.append(f'{container} "{key}"' if key else f"{container} {step + 1}")
        else:
            parts.append(str(step))
    return ", ".join(parts) or "(top level)"
