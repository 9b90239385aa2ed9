"""Issue 13 over real SMTP: every quoted example ends in a ticket (none ignored); a breach report
reaches the DPO with the 72-hour deadline; an authority letter reaches the DPO and gets no answer."""

from __future__ import annotations

from datetime import timedelta

from tests.pipeline.examples import BREACH_REPORT, MAIL_EXAMPLES
from tests.servers.smtp_sink import SinkMessage
from tests.support.pipeline import STRANGER, make_mail
from tests.support.service import START, ServiceFactory

AUTHORITY = "poststelle@lfd.niedersachsen.de"


async def test_issue_examples_by_smtp_are_never_dropped(start_service: ServiceFactory) -> None:
    service = await start_service()
    for n, (subject, body) in enumerate([*MAIL_EXAMPLES.values(), BREACH_REPORT]):
        sender = AUTHORITY if subject.startswith("Ihr Zeichen") else STRANGER
        await service.send(make_mail(sender=sender, subject=subject, body=body,
                                     message_id=f"<no-drop-{n}@example.org>"), mail_from=sender)
        assert len(service.tickets()) == n + 1, f"message {n} ({subject!r}) opened no ticket"
    tickets = service.tickets()
    assert all(t.received_at == START for t in tickets)
    # The breach report and the issue's invoice of another customer (told without "Datenpanne").
    breaches = [t for t in tickets if t.breach_due_at is not None]
    assert len(breaches) == 2
    assert all(t.breach_due_at == START + timedelta(hours=72) for t in breaches)
    [authority] = [t for t in tickets if "authority" in t.escalation_reasons]
    assert authority.state == "escalated"

    wanted = {t.reference for t in breaches} | {authority.reference}
    seen: list[SinkMessage] = []
    while not (wanted <= {_reference(m) for m in seen if _internal(m)}):
        seen.append(await service.sink.next_message(timeout=20))
    for breach in breaches:
        alert = next(m for m in seen if _reference(m) == breach.reference and _internal(m))
        assert "DATENPANNE" in alert.subject and "5. März 2026, 10:30 Uhr" in alert.subject
    assert all(AUTHORITY not in m.rcpt_tos for m in seen)


def _reference(message: SinkMessage) -> str:
    return str(message.message.get("X-DSR-Reference", ""))


def _internal(message: SinkMessage) -> bool:
    return message.message.get("Auto-Submitted") == "auto-generated"
