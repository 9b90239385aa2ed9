"""The console's route list as the route tests walk it, and data that makes each POST do its job."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Mount

from dsr.console.app import ROUTES
from dsr.console.guard import GuardedRoute
from tests.support.console import World

# Form data (pages) or JSON bodies (API) that make each state-changing route do its job.
POST_DATA: dict[str, dict[str, Any]] = {
    "/login": {},
    "/logout": {},
    "/account/password": {"current_password": "korrekt-pferd-batterie",
                          "new_password": "ein-neues-langes-passwort",
                          "new_password_repeat": "ein-neues-langes-passwort"},
    "/queue/search": {"q": "Schmidt"},
    "/queue/bulk": {"ids": ["1"], "action": "assign", "assignee": "dora"},
    "/queue/views": {"name": "Meine", "query": "assignee=me"},
    "/queue/views/{view_id}/delete": {},
    "/intake": {"step": "suggest", "controller": "kmb2", "text": "Ich bitte um Auskunft nach Art. 15 DSGVO."},
    "/tickets/{ticket_id}/letter": {"text": "Sehr geehrte Frau Schmidt, anbei unsere Antwort."},
    "/tickets/{ticket_id}/extend/preview": {
        "ground": "complexity",
        "reason": "Daten aus drei Systemen, Schwärzungen nötig",
    },
    "/tickets/{ticket_id}/reopen": {"reason": "Person meldet eine unvollständige Auskunft"},
    "/tickets/{ticket_id}/dismiss-reason": {"code": "legal_threat", "note": "Kein Anwalt erwähnt, nur Zitat"},
    "/tickets/{ticket_id}/rights": {"rights": ["access"], "reason": "Nur Auskunft verlangt"},
    "/tickets/{ticket_id}/identity": {"level": "manual", "method": "Kundennummer telefonisch bestätigt"},
    "/tickets/{ticket_id}/relationships": {"relationship": ["customer"]},
    "/tickets/{ticket_id}/question": {"subject": "Rückfrage", "text": "Welche Daten meinen Sie genau?"},
    "/tickets/{ticket_id}/extend": {
        "ground": "complexity",
        "reason": "Daten aus drei Systemen, Schwärzungen nötig",
    },
    "/tickets/{ticket_id}/pause": {"ground": "identity", "reason": "Nachweis am 02.03. angefordert"},
    "/tickets/{ticket_id}/resume": {"reason": "Antwort eingegangen"},
    "/tickets/{ticket_id}/draft": {"text": "Entwurf"},
    "/tickets/{ticket_id}/draft/template": {"kind": "no_data"},
    "/tickets/{ticket_id}/send": {"subject": "Ihre Anfrage", "text": "Guten Tag, anbei die Auskunft."},
    "/tickets/{ticket_id}/close": {"outcome": "granted", "reason": "erledigt"},
    "/tickets/{ticket_id}/notes": {"text": "Rückruf vereinbart"},
    "/tickets/{ticket_id}/breach": {"reason": "Rechnung an einen anderen Kunden versandt"},
    "/tickets/{ticket_id}/assign": {"assignee": "dora"},
    "/tickets/{ticket_id}/processor/preview": {"client": "elektro-heinemann", "scope": "whole"},
    "/tickets/{ticket_id}/processor/forward": {"client": "elektro-heinemann", "scope": "part",
                                               "rights": ["access"]},
    "/tickets/{ticket_id}/processor/revert": {"reason": "Es geht um unseren eigenen Newsletter"},
    "/tickets/{ticket_id}/processor/confirm": {"note": "Auftraggeber hat am 03.03. per Mail bestätigt"},
    "/tickets/{ticket_id}/fulfilment/discover": {},
    "/tickets/{ticket_id}/fulfilment/exclude": {"system": "crm", "category": "customers", "item": "1",
                                                "reason": "Daten Dritter"},
    "/tickets/{ticket_id}/fulfilment/include": {"exclusion": "1"},
    "/tickets/{ticket_id}/fulfilment/manual": {"system": "paper", "found": "no"},
    "/tickets/{ticket_id}/fulfilment/deliver": {},
    "/tickets/{ticket_id}/fulfilment/execute": {},
    "/tickets/{ticket_id}/fulfilment/upload": {},
    "/download/{token}": {"code": "123456"},
    "/download/{token}/code": {},
    "/ignored/search": {"q": "Rechnung"},
    "/ignored/{message_id}/ticket": {"rights": ["other"], "reason": "Hinweis auf eine Datenpanne"},
    "/quarantine/{item_id}/process": {},
    "/quarantine/{item_id}/handled": {"reason": "per Brief beantwortet"},
    "/quarantine/{item_id}/discard": {"reason": "Spam"},
    "/board/digest": {"target": "kmb2:1"},
    "/board/calendar": {},
    "/facts/confirm": {"controller": "kmb2", "fact_id": "dsr_record_retention",
                       "note": "Löschkonzept Abschnitt 3"},
    "/admin/users/{user_id}/toggle": {},
    "/admin/tokens/{token_id}/revoke": {},
    "/api/tickets/{reference}/extend": {"reason": "Umfangreiche Daten"},
    "/api/tickets/{reference}/close": {"outcome": "granted"},
    "/api/tickets/{reference}/notes": {"text": "Notiz über die API"},
    "/api/suppression/check": {"address": "werbung@example.org", "controller": "kmb2"},
}


def _guarded() -> list[tuple[GuardedRoute, str]]:
    out = []
    for route in ROUTES:
        if isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}"
            continue
        assert isinstance(route, GuardedRoute), f"route {getattr(route, 'path', route)} has no guard"
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                out.append((route, method))
    return out


ALL = _guarded()


IDS = [f"{m} {r.path}" for r, m in ALL]


def _template(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", path)


def _url(world: World, route: GuardedRoute, *, calendar_token: str | None = None) -> str:
    values = {
        "ticket_id": str(world.email_ticket),
        "item_id": str(world.quarantine_id),
        "message_id": str(world.ignored_id),
        "user_id": str(world.user_ids["max"]),
        "token_id": str(world.token_ids["suppression"]),
        "reference": world.email_reference,
        "token": calendar_token or world.tokens["calendar"],
        "view_id": "1",
        "letter_id": str(world.letter_message_id),
        "document_id": str(world.document_id),
    }
    if "{letter_id" in route.path or "{document_id" in route.path:
        values["ticket_id"] = str(world.chat_ticket)  # the seeded scan and letter belong to it
    url = _template(route.path).format(**values)
    # The export needs its controller when several are configured (the world has kmb2 and komsa).
    return url + "?controller=kmb2" if route.path == "/api/suppression/export" else url
