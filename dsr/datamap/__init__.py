"""The data map: which systems hold whose personal data, and how to find, export and erase it.

Pure: a validated data file beside the controller profile (`<profile>.datamap.toml`); no network,
database or file access beyond reading the map itself.  The connectors in `dsr.fulfilment` act on it.
"""

from dsr.datamap.loader import DataMapError, datamap_path, load_datamap, load_datamap_for
from dsr.datamap.schema import (
    HASHED,
    Category,
    DataMap,
    ErasureAction,
    Identifier,
    Person,
    Retention,
    System,
    SystemKind,
)

__all__ = [
    "HASHED",
    "Category",
    "DataMap",
    "DataMapError",
    "ErasureAction",
    "Identifier",
    "Person",
    "Retention",
    "System",
    "SystemKind",
    "datamap_path",
    "load_datamap",
    "load_datamap_for",
]
