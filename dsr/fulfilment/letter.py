"""What the letter to the person may state, taken from what was actually done and delivered.

`letter_context` gives `ReplyContext` fields: for an executed erasure, restriction or
rectification the categories erased, kept (with ground and end date), restricted and changed,
and the recipients told under Art. 19; nothing when nothing was executed, so a "done" letter
never claims what did not happen.  `delivery_facts` (dsr.fulfilment.delivery) says whether a
copy was really delivered by download link, for the access and portability letters.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dsr.fulfilment.execute import outcome_facts
from dsr.fulfilment.review import case_for
from dsr.replies.context import RetainedItem


def letter_context(session: Session, ticket_id: int) -> dict[str, object]:
    facts = outcome_facts(case_for(session, ticket_id))
    if facts is None:
        return {}
    context: dict[str, object] = {
        "erased": facts.erased,
        "retained": tuple(RetainedItem(category=r.category, legal_basis=r.legal_basis, until=r.until)
                          for r in facts.retained if r.until is not None),
        "notified_recipients": facts.notified,
        "restricted": facts.restricted,
    }
    if facts.changed:
        context["changes"] = facts.changed
    return context
