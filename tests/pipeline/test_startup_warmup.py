"""Building the pipeline compiles every reply template: no message compiles one in its transaction.

The first message of a process used to compile its letters inside its transaction (~0.4 s, up to
3 s under load), holding SQLite's write gate; the classifier and the holidays were already loaded
at start-up.  Here the jinja2 environments start empty (as in a fresh process), the pipeline is
built, and every template compilation during the handling of messages is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker

from dsr.config import Settings
from dsr.controllers.profile import load_profile
from dsr.inbound import OutcomeStatus
from dsr.pipeline.core import Pipeline
from dsr.replies import render
from dsr.service.demo import load_demo_data
from tests.support.clock import FakeClock
from tests.support.pipeline import STRANGER, Harness, make_mail


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the templates jinja2 compiles from now on (fresh environments, as at start-up)."""
    render._environment.cache_clear()
    names: list[str] = []
    original = Environment.compile

    def counting(self: Environment, source: Any, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        names.append(name or "<string>")
        return original(self, source, name, *args, **kwargs)

    monkeypatch.setattr(Environment, "compile", counting)
    yield names
    render._environment.cache_clear()


def _harness(sessions: sessionmaker[Session], overrides_dir: Path | None = None) -> Harness:
    profiles = {name: load_profile(name) for name in ("kmb2", "komsa")}
    clock = FakeClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    load_demo_data(sessions, list(profiles), now=clock.now)
    pipeline = Pipeline(sessions=sessions, profiles=profiles, clock=clock, settings=Settings(),
                        overrides_dir=overrides_dir)
    return Harness(pipeline, sessions, clock, profiles)


def test_first_messages_compile_no_template(sessions: sessionmaker[Session], compiled: list[str]) -> None:
    harness = _harness(sessions)
    assert any(name.endswith("receipt_confirmation.j2") for name in compiled)  # compiled at build time
    compiled.clear()
    known = harness.send(make_mail(message_id="<warm-1@example.org>"))  # receipt confirmation
    stranger = harness.send(make_mail(sender=STRANGER, message_id="<warm-2@example.com>"))  # identity
    english = harness.send(make_mail(
        sender=STRANGER, subject="Data access request", message_id="<warm-3@example.com>",
        body="Hello,\n\nunder Article 15 GDPR I request access to all personal data you hold "
             "about me and a copy of it.\n\nKind regards\nJane Doe"))
    for outcome in (known, stranger, english):
        assert outcome.status is OutcomeStatus.ACCEPTED and outcome.outbox_ids
    assert compiled == []


def test_override_templates_are_compiled_at_build_time(sessions: sessionmaker[Session], compiled: list[str],
                                                       tmp_path: Path) -> None:
    own = tmp_path / "kmb2" / "de"
    own.mkdir(parents=True)
    (own / "receipt_confirmation.j2").write_text(
        '{% extends "default:de/receipt_confirmation.j2" %}\n', encoding="utf-8")
    harness = _harness(sessions, overrides_dir=tmp_path)
    compiled.clear()
    outcome = harness.send(make_mail(message_id="<warm-4@example.org>"))
    assert outcome.status is OutcomeStatus.ACCEPTED and outcome.outbox_ids
    assert compiled == []
