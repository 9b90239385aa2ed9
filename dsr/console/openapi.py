"""The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

_REF = {
    "name": "reference",
    "in": "path",
    "required": True,
    "description": "Aktenzeichen, z. B. DSR-2026-000123",
    "schema": {"type": "string", "pattern": "^DSR-[0-9]{4}-[0-9]{6}$"},
}

_TICKET = {
    "type": "object",
    "description": "Metadaten einer Anfrage (ohne Namen, Adressen oder Nachrichtentexte).",
    "properties": {
        "reference": {"type": "string"},
        "controller": {"type": "string"},
        "channel": {"type": "string", "enum": ["email", "telegram", "console"]},
        "rights": {"type": "array", "items": {"type": "string"}},
        "state": {"type": "string"},
        "received_date": {"type": "string", "format": "date"},
        "due_date": {"type": ["string", "null"], "format": "date"},
        "original_due_date": {"type": ["string", "null"], "format": "date"},
        "internal_target_date": {"type": ["string", "null"], "format": "date"},
        "extended": {"type": "boolean"},
        "escalated": {"type": "boolean"},
        "escalation_reasons": {"type": "array", "items": {"type": "string"}},
        "identity_level": {"type": "string"},
        "assignee": {"type": ["string", "null"]},
        "outcome": {"type": ["string", "null"]},
        "closed_date": {"type": ["string", "null"], "format": "date"},
        "days_left": {"type": ["integer", "null"]},
        "overdue": {"type": "boolean"},
    },
    "required": ["reference", "controller", "rights", "state", "due_date", "overdue"],
}

_PROBLEM = {
    "type": "object",
    "properties": {"status": {"type": "integer"}, "error": {"type": "string"}, "detail": {"type": "string"}},
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# A closed ticket is read-only until the DPO reopens it in the console (the refusal is audited).
_CLOSED = "Ein abgeschlossener Vorgang ist nur lesbar: 409 mit `error: closed`."

_ERRORS = {
    "401": _json({"$ref": "#/components/schemas/Problem"}, "Token fehlt oder ungültig"),
    "403": _json({"$ref": "#/components/schemas/Problem"}, "Rolle des Tokens reicht nicht"),
}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "properties": properties, "required": required}}
        },
    }


def document(server: str) -> dict[str, Any]:
    ticket = {"$ref": "#/components/schemas/Ticket"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dsr-assistant API",
            "version": "1.0",
            "description": "Betroffenenanfragen (DSGVO): Tickets, Fristen, Werbesperrdatei. "
            "Authentifizierung: `Authorization: Bearer <token>` (`dsr users token`). "
            "Rollen: dpo, manager, admin, suppression.",
        },
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Ticket": _TICKET, "Problem": _PROBLEM},
        },
        "paths": {
            "/api/tickets": {
                "get": {
                    "summary": "Anfragen auflisten (Metadaten)",
                    "description": "Rollen: dpo, manager, admin.",
                    "parameters": [
                        {
                            "name": "state",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "Status, oder `open` für alle offenen",
                        },
                        {"name": "controller", "in": "query", "schema": {"type": "string"}},
                        {"name": "overdue", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "responses": {
                        "200": _json(
                            {"type": "object", "properties": {"tickets": {"type": "array", "items": ticket}}}
                        ),
                        **_ERRORS,
                    },
                }
            },
            "/api/tickets/{reference}": {
                "get": {
                    "summary": "Eine Anfrage",
                    "description": "Rollen: dpo, manager. Nur `dpo` erhält zusätzlich "
                    "Verlauf, Fristberechnung und Klassifikation; dieser Zugriff wird protokolliert.",
                    "parameters": [_REF],
                    "responses": {
                        "200": _json(ticket),
                        "404": _json({"$ref": "#/components/schemas/Problem"}, "Unbekannt"),
                        **_ERRORS,
                    },
                }
            },
            "/api/tickets/{reference}/extend": {
                "post": {
                    "summary": "Frist verlängern (Art. 12 Abs. 3 S. 2) und Mitteilung versenden",
                    "description": "Rolle: dpo. Nur bis zum ursprünglichen Fristende. " + _CLOSED,
                    "parameters": [_REF],
                    "requestBody": _body({"reason": {"type": "string"}}, ["reason"]),
                    "responses": {
                        "200": _json({"type": "object"}),
                        "409": _json({"$ref": "#/components/schemas/Problem"}, "Nicht erlaubt"),
                        **_ERRORS,
                    },
                }
            },
            "/api/tickets/{reference}/close": {
                "post": {
                    "summary": "Mit Ergebnis aus dem Katalog abschließen",
                    "description": "Rolle: dpo. " + _CLOSED,
                    "parameters": [_REF],
                    "requestBody": _body(
                        {
                            "outcome": {"type": "string"},
                            "refusal_code": {"type": "string"},
                            "reason": {"type": "string"},
                        },
                        [],
                    ),
                    "responses": {
                        "200": _json({"type": "object"}),
                        "409": _json({"$ref": "#/components/schemas/Problem"}, "Nicht erlaubt"),
                        **_ERRORS,
                    },
                }
            },
            "/api/tickets/{reference}/notes": {
                "post": {
                    "summary": "Interne Notiz anlegen",
                    "description": "Rolle: dpo. " + _CLOSED,
                    "parameters": [_REF],
                    "requestBody": _body({"text": {"type": "string"}}, ["text"]),
                    "responses": {
                        "200": _json({"type": "object"}),
                        "409": _json({"$ref": "#/components/schemas/Problem"}, "Nicht erlaubt"),
                        **_ERRORS,
                    },
                }
            },
            "/api/deadlines": {
                "get": {
                    "summary": "Offene Fristen",
                    "description": "Rollen: dpo, manager, admin.",
                    "parameters": [
                        {"name": "within_days", "in": "query", "schema": {"type": "integer", "default": 30}}
                    ],
                    "responses": {"200": _json({"type": "object"}), **_ERRORS},
                }
            },
            "/api/suppression/check": {
                "post": {
                    "summary": "Dürfen wir dieser Adresse Werbung senden?",
                    "description": "Rollen: suppression, dpo. Die Adresse steht im Body, nie in der URL. "
                    "`may_send_marketing: true` heißt nur: kein Werbewiderspruch gespeichert; "
                    "eine Einwilligung (§ 7 UWG) ersetzt das nicht.",
                    "requestBody": _body(
                        {"address": {"type": "string", "maxLength": 320}, "controller": {"type": "string"}},
                        ["address"],
                    ),
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "controller": {"type": "string"},
                                    "suppressed": {"type": "boolean"},
                                    "may_send_marketing": {"type": "boolean"},
                                    "note": {"type": "string"},
                                },
                            }
                        ),
                        "422": _json({"$ref": "#/components/schemas/Problem"}, "Ungültig"),
                        **_ERRORS,
                    },
                }
            },
            "/api/suppression/export": {
                "get": {
                    "summary": "Werbesperrliste eines Verantwortlichen (für Werbe- und CRM-Werkzeuge)",
                    "description": "Rollen: suppression, dpo. Alle gesperrten Kennungen (E-Mail, Telefon, "
                    "Anschrift, Chat) eines Verantwortlichen, standardmäßig als SHA-256 des normalisierten "
                    "Werts; `since` liefert nur neuere Einträge.",
                    "parameters": [
                        {"name": "controller", "in": "query", "schema": {"type": "string"}},
                        {"name": "hashed", "in": "query", "schema": {"type": "boolean", "default": True}},
                        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    ],
                    "responses": {
                        "200": _json({"type": "object"}),
                        "422": _json({"$ref": "#/components/schemas/Problem"}, "Ungültig"),
                        **_ERRORS,
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "Diese Beschreibung",
                    "responses": {"200": _json({"type": "object"}), **_ERRORS},
                }
            },
        },
    }
