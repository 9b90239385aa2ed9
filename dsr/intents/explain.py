"""A plain-text explanation of one classification, for a person (DPO, operator) to read."""

from __future__ import annotations

from dsr.intents.model import Classification, Evidence
from dsr.intents.rights import RIGHTS


def _line(item: Evidence) -> str:
    where = f"{item.field}[{item.start}:{item.end}]"
    fuzzy = "" if item.score >= 100 else f", fuzzy {item.score:.0f}"
    if item.reason is not None:
        return f"  ! {item.reason:<22} {item.rule:<42} {where:<18} {item.matched!r}"
    status = f"ignored: {item.suppressed_by}" if item.suppressed_by else f"+{item.weight:.2f}{fuzzy}"
    return f"  - {item.label.value:<22} {item.rule:<42} {where:<18} {item.matched!r}  ({status})"


def explain(result: Classification) -> str:
    """Labels with their articles, confidence, escalation and every hit, counted or ignored."""
    lines = []
    for label in result.labels:
        info = RIGHTS[label]
        article = f" ({info.article})" if info.article else ""
        lines.append(f"Recht: {info.long_de}{article}  [{label.value}]")
    lines.append(f"Sicherheit: {result.confidence:.2f}   Sprache: {result.language}")
    if result.escalate:
        lines.append("An einen Menschen geben: ja (" + ", ".join(result.reasons) + ")")
    else:
        lines.append("An einen Menschen geben: nein")
    if result.scores:
        summary = ", ".join(f"{k} {v:.2f}" for k, v in sorted(result.scores.items(), key=lambda kv: -kv[1]))
        lines.append(f"Punkte je Recht: {summary}")
    counted = [e for e in result.evidence if e.reason is None and e.suppressed_by is None]
    ignored = [e for e in result.evidence if e.reason is None and e.suppressed_by is not None]
    cues = [e for e in result.evidence if e.reason is not None]
    for title, items in (("Treffer", counted), ("Nicht gewertet", ignored), ("Hinweise", cues)):
        if items:
            lines.append(f"{title}:")
            lines.extend(_line(item) for item in items)
    if not result.evidence:
        lines.append("Keine Treffer.")
    return "\n".join(lines)
