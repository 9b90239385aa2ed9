"""Controller profiles: who the data controller is, as data files validated on load."""

from dsr.controllers.profile import (
    Authority,
    AutomatedDecision,
    ControllerProfile,
    ProfileError,
    load_profile,
    profile_names,
)

__all__ = [
    "Authority",
    "AutomatedDecision",
    "ControllerProfile",
    "ProfileError",
    "load_profile",
    "profile_names",
]
