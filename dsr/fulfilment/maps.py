"""The data maps of the configured controllers, and the delivery settings, from `Settings`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dsr.config import Settings
from dsr.controllers import load_profile
from dsr.datamap import DataMap, load_datamap_for
from dsr.fulfilment.delivery import DeliveryConfig
from dsr.fulfilment.vault import parse_key


def load_datamaps(settings: Settings) -> dict[str, DataMap]:
    """controller key -> data map, for every configured profile that has one (DataMapError if invalid)."""
    return load_datamaps_of(tuple(settings.controller_names))


def load_datamaps_of(profile_refs: Sequence[str]) -> dict[str, DataMap]:
    maps: dict[str, DataMap] = {}
    for ref in profile_refs:
        datamap = load_datamap_for(ref)
        if datamap is not None:
            maps[load_profile(ref).key] = datamap
    return maps


def delivery_config(settings: Settings) -> DeliveryConfig | None:
    """None without DSR_PACKAGE_KEY: packages are then not built (the console says why)."""
    if not settings.package_key:
        return None
    return DeliveryConfig(directory=Path(settings.package_dir), key=parse_key(settings.package_key),
                          days=settings.download_days, max_uses=settings.download_max_uses,
                          base_url=settings.public_base_url)
