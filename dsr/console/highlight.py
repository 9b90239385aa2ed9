"""Mark the text that made the classifier fire, so the DPO can check *why* (explainability).

Evidence spans refer to the scoped text the classifier saw (quotes and signatures stripped), which
is usually a prefix-identical copy of the stored body.  A span is used as is when the text there
still reads the same; otherwise the first occurrence of the matched words is marked; evidence that
cannot be located is listed beside the message instead of being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    evidence: dict[str, Any] | None = None


def _locate(text: str, ev: dict[str, Any]) -> tuple[int, int] | None:
    matched = str(ev.get("matched", ""))
    if not matched:
        return None
    start, end = ev.get("start"), ev.get("end")
    span = (start, end) if isinstance(start, int) and isinstance(end, int) else (-1, -1)
    if 0 <= span[0] < span[1] <= len(text) and text[span[0] : span[1]].casefold() == matched.casefold():
        return span
    found = text.casefold().find(matched.casefold())
    return (found, found + len(matched)) if found >= 0 else None


def segments(
    text: str, evidence: list[dict[str, Any]], field: str
) -> tuple[list[Segment], list[dict[str, Any]]]:
    """Split `text` into plain and marked segments; also return evidence that could not be placed."""
    spans: list[tuple[int, int, dict[str, Any]]] = []
    unplaced: list[dict[str, Any]] = []
    for ev in evidence:
        if ev.get("field", "body") != field:
            continue
        where = _locate(text, ev)
        if where is None:
            unplaced.append(ev)
        else:
            spans.append((where[0], where[1], ev))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[Segment] = []
    pos = 0
    for start, end, ev in spans:
        if start < pos:  # overlaps an earlier, longer mark: keep the first
            continue
        if start > pos:
            out.append(Segment(text[pos:start]))
        out.append(Segment(text[start:end], ev))
        pos = end
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return out, unplaced
