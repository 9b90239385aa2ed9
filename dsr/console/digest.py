"""The weekly digest: open requests by due date, for managers and the DPO, metadata only.

One implementation for both senders, the board's "Wochenübersicht senden" button and the
scheduler's Monday digest (`bot/scheduler.py`), so the two can never drift apart.  A digest row
carries the reference, the rights, the state, the binding due date and the escalation codes;
never names, addresses or message bodies (need-to-know, Art. 5(1)(c) and 25 GDPR).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from dsr.console.queries import ControllerScope, open_rows
from dsr.controllers import ControllerProfile
from dsr.intents.rights import Right
from dsr.pipeline.outbound import Outgoing, compose_internal_mail, send
from dsr.replies.context import DigestRow, ReplyContext, ReplyKind


@dataclass(frozen=True, slots=True)
class QueuedDigest:
    item: int  # the outbox id
    rows: int  # open tickets listed


def period_label(today: date) -> str:
    """The ISO week the digest covers, as German calendars write it: "KW 10/2026"."""
    year, week, _ = today.isocalendar()
    return f"KW {week}/{year}"


def digest_rows(session: Session, *, controller: str, today: date) -> tuple[DigestRow, ...]:
    """The controller's open tickets with a legal due date, most urgent first."""
    return tuple(
        DigestRow(
            reference=row.reference,
            rights=tuple(Right(code) for code in row.rights),
            state=row.state,
            due_date=row.due,
            escalation_reasons=row.reasons,
        )
        for row in open_rows(session, scope=ControllerScope.only(controller), today=today)
        if row.due is not None
    )


def digest_context(session: Session, profile: ControllerProfile, *, today: date) -> ReplyContext:
    """What the digest of `profile` as of `today` states (a read only)."""
    return ReplyContext(
        reference="",
        rights=(),
        received_date=today,
        digest_rows=digest_rows(session, controller=profile.key, today=today),
        period_label=period_label(today),
        as_of=today,
    )


def compose_digest(profile: ControllerProfile, context: ReplyContext, *, to: str, now: datetime,
                   overrides_dir: Path | None = None) -> Outgoing:
    """The digest mail for `to`, rendered without a database (outside any transaction)."""
    return compose_internal_mail(profile, kind=ReplyKind.WEEKLY_DIGEST, context=context, to=to, now=now,
                                 overrides_dir=overrides_dir)


def queue_digest(
    session: Session,
    profile: ControllerProfile,
    *,
    to: str,
    today: date,
    now: datetime,
    overrides_dir: Path | None = None,
) -> QueuedDigest:
    """Render the digest for `profile` as of `today` and put it into the outbox for `to`.

    The caller owns the transaction and writes the audit event (who asked for it).
    """
    context = digest_context(session, profile, today=today)
    outgoing = compose_digest(profile, context, to=to, now=now, overrides_dir=overrides_dir)
    return QueuedDigest(item=send(session, outgoing, now=now, profile=profile), rows=len(context.digest_rows))
