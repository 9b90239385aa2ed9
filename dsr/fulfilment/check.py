"""`dsr datamap check`: the map is valid, matches the profile and every system answers.

One line per system; a problem is one line naming the system (unknown column, unreachable
database, missing environment variable).  Values of secrets are never printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dsr.controllers import ControllerProfile
from dsr.datamap import DataMap
from dsr.fulfilment.connectors import ConnectorError, open_connector


@dataclass(frozen=True, slots=True)
class SystemCheck:
    system: str
    ok: bool
    message: str


def profile_problems(datamap: DataMap, profile: ControllerProfile) -> list[str]:
    """Categories that name a profile category the profile does not have (Art. 15(1)(b) must match),
    and recipients the profile does not name (Art. 15(1)(c), 19: only what the notice states)."""
    known = set(profile.data_categories) | {c for p in profile.purposes for c in p.data_categories}
    problems = []
    if datamap.controller != profile.key:
        problems.append(f"the map is for controller {datamap.controller!r}, the profile is {profile.key!r}")
    for system in datamap.systems:
        for category in system.categories:
            for name in category.profile_categories:
                if name not in known:
                    problems.append(f'system "{system.key}", category "{category.key}": profile category '
                                    f"{name!r} is not in the profile's data_categories")
    # A recipient the notice does not name would be stated in letters (Art. 19 notices, the copy)
    # as a fact nobody confirmed: it must be one of the profile's recipients or of their categories.
    named = {r.key for r in profile.recipients}
    for recipient in datamap.recipients:
        if recipient.profile_recipient not in named:
            problems.append(f'recipient "{recipient.key}" ({recipient.name}): not linked to a recipient '
                            "of the profile (profile_recipient); add it to the profile if the notice "
                            "names it")
    return problems


def check_systems(datamap: DataMap, env: Mapping[str, str]) -> list[SystemCheck]:
    out = []
    for system in datamap.systems:
        try:
            connector = open_connector(system, env)
            try:
                connector.check()
            finally:
                connector.close()
        except ConnectorError as exc:
            out.append(SystemCheck(system.key, False, str(exc)))
            continue
        kind = "manual item (confirmed by the DPO)" if system.kind.value == "manual" else "reachable"
        out.append(SystemCheck(system.key, True, f'system "{system.key}" ({system.name}): {kind}, '
                                                 f"categories: {len(system.categories)}"))
    return out
