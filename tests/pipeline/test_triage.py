"""`dsr.intents.routing.decide` and `dsr.pipeline.intake.stated_deadline`: pure, table-driven."""

from __future__ import annotations

from datetime import date

import pytest

from dsr.intents.model import Classification
from dsr.intents.rights import Right
from dsr.intents.routing import Route, decide
from dsr.pipeline.intake import stated_deadline

A, E, M, OTHER = Right.ACCESS, Right.ERASURE, Right.MARKETING_OBJECTION, Right.OTHER


def _result(labels: tuple[Right, ...] = (OTHER,), *, reasons: tuple[str, ...] = (), confidence: float = 0.95,
            scores: dict[str, float] | None = None, non_request: str = "") -> Classification:
    return Classification(labels=labels, confidence=confidence, escalate=bool(reasons), reasons=reasons,
                          evidence=(), scores=scores or {}, non_request=non_request)


@pytest.mark.parametrize(
    ("result", "route"),
    [
        # special intake goes to a person whatever else the message says
        (_result((A,), reasons=("breach",), scores={"access": 2.0}), Route.ESCALATE),
        (_result((A,), reasons=("low_confidence", "authority"), scores={"access": 0.6}), Route.ESCALATE),
        (_result(reasons=("representative",)), Route.ESCALATE),
        (_result((E,), reasons=("processor_role", "ambiguous"), scores={"erasure": 0.7}), Route.ESCALATE),
        # other hard reasons escalate too; unclear ones ask the person first
        (_result((E,), reasons=("complaint",), scores={"erasure": 1.0}), Route.ESCALATE),
        (_result((E,), reasons=("low_confidence",), scores={"erasure": 0.65}), Route.CLARIFY),
        (_result((E,), reasons=("ambiguous",), scores={}), Route.CLARIFY),  # the label itself is offered
        # a strong reading is handled
        (_result((A,), scores={"access": 2.0}), Route.HANDLE),
        # no right: ignored only on the classifier's positive evidence of a non-privacy message
        (_result(non_request="invoice"), Route.IGNORE),
        (_result(non_request="invoice", scores={"erasure": 0.3}), Route.CLARIFY),
        (_result(non_request="invoice", reasons=("breach",)), Route.ESCALATE),
        (_result(non_request="newsletter", reasons=("low_confidence",)), Route.TRIAGE),
        (_result(), Route.TRIAGE),
        (_result(reasons=("low_confidence",), confidence=0.3), Route.TRIAGE),
        (_result(scores={"erasure": 0.4, "marketing_objection": 0.3}), Route.CLARIFY),
    ],
)
def test_routes(result: Classification, route: Route) -> None:
    assert decide(result).route is route


def test_ignore_records_the_non_privacy_reading() -> None:
    assert decide(_result(non_request="invoice")).ignore_reason == "invoice"


def test_clarification_offers_rights_best_first_never_other() -> None:
    decision = decide(_result(scores={"marketing_objection": 0.3, "erasure": 0.4, "other": 0.9}))
    assert decision.readings == (E, M)
    assert decision.reasons == ("low_confidence",)


def test_triage_carries_its_own_reason_code() -> None:
    assert decide(_result()).reasons == ("unrecognised",)


RECEIVED = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wir bitten um Stellungnahme bis zum 23.03.2026.", date(2026, 3, 23)),
        ("Schreiben vom 20.02.2026. Frist: 16. März 2026", date(2026, 3, 16)),
        ("Ihre Antwort erwarten wir spätestens am 9.3.26.", date(2026, 3, 9)),
        ("Please reply by 20 March 2026.", date(2026, 3, 20)),
        ("bis 30.04.2026 oder, falls früher möglich, bis 20.03.2026", date(2026, 3, 20)),
        ("Ihr Schreiben vom 23.03.2026", None),  # no deadline word before the date
        ("Frist bis 01.02.2026", None),  # before receipt
        ("Frist bis 31.02.2026", None),  # no such day
        ("Frist bis 01.01.2030", None),  # more than a year out
        ("", None),
    ],
)
def test_stated_deadline(text: str, expected: date | None) -> None:
    assert stated_deadline(text, RECEIVED) == expected


def test_stated_deadline_reads_only_the_top_of_a_huge_text() -> None:
    text = "bis 1.1.2026 " * 200_000 + "Frist bis 23.03.2026"
    assert stated_deadline(text, RECEIVED) is None
