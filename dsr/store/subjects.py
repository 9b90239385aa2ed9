"""Data subjects known to the controller, and how a request is matched to one of them.

Matching matters for identity (docs/LEGAL-NOTES.md 3.5 level 1: a request from the address on file is
sufficient for standard data) and for not disclosing anything to the wrong person: an ambiguous
match is no match.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from dsr.mail.address import normalize_address
from dsr.store.models import DataSubject, SubjectEmail

# Built once: the pipeline looks a sender up for nearly every message.
_BY_EMAIL = select(DataSubject).where(DataSubject.controller == bindparam("controller"),
                                      DataSubject.email == bindparam("email"))
_BY_ALTERNATE_EMAIL = (
    select(DataSubject)
    .join(SubjectEmail, SubjectEmail.subject_id == DataSubject.id)
    .where(SubjectEmail.controller == bindparam("controller"), SubjectEmail.email == bindparam("email"))
)


def find_subject(
    session: Session,
    controller: str,
    *,
    email: str | None = None,
    telegram_user_id: int | None = None,
    customer_number: str | None = None,
) -> DataSubject | None:
    """The subject matching the strongest identifier given: e-mail, then Telegram id, then number.

    E-mail matches the primary address and the alternates (`SubjectEmail`).  A customer number
    shared by several subjects is ambiguous and matches nobody.
    """
    if email:
        address = normalize_address(email)
        keys = {"controller": controller, "email": address}
        found = session.scalars(_BY_EMAIL, keys).one_or_none()
        if found is None:
            found = session.scalars(_BY_ALTERNATE_EMAIL, keys).one_or_none()
        if found is not None:
            return found
    if telegram_user_id is not None:
        found = session.scalars(
            select(DataSubject).where(
                DataSubject.controller == controller, DataSubject.telegram_user_id == telegram_user_id
            )
        ).one_or_none()
        if found is not None:
            return found
    if customer_number and customer_number.strip():
        matches = list(
            session.scalars(
                select(DataSubject)
                .where(DataSubject.controller == controller,
                       DataSubject.customer_number == customer_number.strip())
                .limit(2)
            )
        )
        if len(matches) == 1:
            return matches[0]
    return None
