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
from dsr.pipeline.outbound import queue_internal_mail
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
    rows = digest_rows(session, controller=profile.key, today=today)
    context = ReplyContext(
        reference="",
        rights=(),
        received_date=today,
        digest_rows=rows,
        period_label=period_label(today),
        as_of=today,
    )
    item = queue_internal_mail(
        session,
        profile,
        kind=ReplyKind.WEEKLY_DIGEST,
        context=context,
        to=to,
        now=now,
        overrides_dir=overrides_dir,
    )
    return QueuedDigest(item=item, rows=len(rows))
