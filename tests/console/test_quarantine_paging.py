"""Issue 18 defect 7: the quarantine list showed the newest 500 entries and hid the rest."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import insert, select

from dsr.console.views.quarantine import PAGE_SIZE
from dsr.store.models import QuarantinedMessage
from tests.support.console import NOW, World

ENTRY = re.compile(r'href="/quarantine/(\d+)"')
NEXT = re.compile(r'href="(/quarantine\?[^"]*page=\d+)" rel="next"')


def test_every_quarantined_message_is_reachable_page_by_page(db_world: World) -> None:
    with db_world.sessions.begin() as s:
        s.execute(insert(QuarantinedMessage), [
            {"controller": "kmb2", "channel": "email", "reason": f"defekt {n}", "raw": b"x" * (n + 1),
             "received_at": NOW - timedelta(minutes=n), "state": "open"} for n in range(801)])
    with db_world.sessions() as s:
        expected = set(s.scalars(select(QuarantinedMessage.id).where(QuarantinedMessage.state == "open")))
    assert len(expected) == 802  # the seeded entry and 801 more
    client = db_world.client("dpo")
    seen: list[int] = []
    url: str | None = "/quarantine"
    pages = 0
    while url is not None:
        page = client.get(url)
        assert page.status_code == 200
        found = [int(i) for i in ENTRY.findall(page.text)]
        assert 0 < len(found) <= PAGE_SIZE
        seen += found
        pages += 1
        following = NEXT.search(page.text)
        url = following.group(1).replace("&amp;", "&") if following else None
    assert pages == -(-802 // PAGE_SIZE)
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert "Einträge 1–100 von 802" in client.get("/quarantine").text
