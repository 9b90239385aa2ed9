"""Profile facts a letter may state that the privacy notice does not contain (issue 15 no. 15).

Per controller in the caller's scope: the facts still assumed (letters show them only as gaps the
DPO must confirm or delete) and those a DPO confirmed, by whom and when.  A DPO confirms a fact
here; the confirmation is stored and audited, the profile file is not edited.  Admins may look.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from dsr.console.auth import Role
from dsr.console.guard import Ctx
from dsr.controllers.profile import ProfileFact
from dsr.store.models import FactConfirmation
from dsr.store.relationships import UnknownFactError, confirm_fact, fact_confirmations


@dataclass(frozen=True, slots=True)
class ControllerFacts:
    key: str
    legal_name: str
    confirmed_by: str  # who confirmed every other fact (e.g. the published notice)
    assumed: list[ProfileFact]
    confirmed: list[tuple[ProfileFact, FactConfirmation]]


def facts_page(ctx: Ctx) -> Response:
    controllers: list[ControllerFacts] = []
    with ctx.services.sessions() as session:
        for key, profile in sorted(ctx.services.profiles.items()):
            if not ctx.scope.allows(key):
                continue
            done = fact_confirmations(session, key)
            facts = [f for f in profile.facts() if profile.is_assumed(f.fact_id)]
            controllers.append(ControllerFacts(
                key=key, legal_name=profile.legal_name,
                confirmed_by=profile.facts_confirmed_by + (
                    f" (Stand {profile.facts_confirmed_on:%d.%m.%Y})" if profile.facts_confirmed_on else ""),
                assumed=[f for f in facts if f.fact_id not in done],
                confirmed=[(f, done[f.fact_id]) for f in facts if f.fact_id in done]))
        return ctx.render("facts.html", controllers=controllers, can_confirm=ctx.role is Role.DPO)


def confirm_action(ctx: Ctx) -> Response:
    key, fact_id = ctx.field("controller"), ctx.field("fact_id")
    profile = ctx.services.profiles.get(key)
    if profile is None or not ctx.scope.allows(key):
        return ctx.redirect("/facts", "Diesen Verantwortlichen gibt es in Ihrem Zugriff nicht.", "error")
    note = ctx.field("note")
    if len(note) < 5:
        return ctx.redirect("/facts", "Bitte kurz vermerken, worauf die Bestätigung beruht.", "error")
    try:
        with ctx.services.sessions.begin() as session:
            confirm_fact(session, profile, fact_id, actor=ctx.actor, now=ctx.now, note=note)
    except UnknownFactError:
        return ctx.redirect("/facts", "Diese Angabe ist keine offene Annahme des Profils.", "error")
    return ctx.redirect("/facts", "Angabe bestätigt; die Briefe nennen sie von jetzt an als Tatsache.")
