"""Legal-review preview: every template rendered with realistic sample data into one folder.

`write_preview` renders each reply kind for one controller in the forms the DPO must sign off:
German with "Sie" and with "Du" (data-subject kinds), English (data-subject kinds), the
neutral receipt for an unverified sender, and the clarification after a general question about
privacy (the notice and the DPO named) in all three forms.  The output is one browsable
`index.html` (HTML mails in frames, plain text and chat beside them) plus one `.txt` file per
rendering.  No network.

Only forms that are really sent are shown: the e-mail forms as an e-mail ticket gets them, and the
chat text as a Telegram ticket gets it (for most kinds the whole letter in the chat), never the
short chat variant of an e-mail ticket, which no one receives.  Kinds that never go to a chat
(the one-time code goes by e-mail only) have no chat form in the review set.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from pathlib import Path

from dsr.controllers.profile import ControllerProfile
from dsr.replies.context import ReplyContext, ReplyKind
from dsr.replies.kinds import KIND_SPECS
from dsr.replies.render import RenderedReply, render_reply
from dsr.replies.samples import general_question, sample_context, unverified_receipt


@dataclass(frozen=True, slots=True)
class PreviewItem:
    kind: ReplyKind
    variant: str  # e.g. "de-Sie", "de-Du", "en", "de-Sie-unverifiziert", "en-allgemeine-Frage"
    reply: RenderedReply

    @property
    def stem(self) -> str:
        return f"{self.kind.value}.{self.variant}"


def preview_items(profile: ControllerProfile, *, overrides_dir: Path | None = None) -> list[PreviewItem]:
    """Render every kind in every variant relevant for legal review."""
    items: list[PreviewItem] = []
    forms = ("Sie", "Du")
    for kind in ReplyKind:
        internal = KIND_SPECS[kind].internal
        for form in forms[:1] if internal else forms:
            variant_profile = profile.model_copy(update={"address_form": form})
            ctx = sample_context(kind, profile.key)
            items.append(_item(kind, f"de-{form}", ctx, variant_profile, "de", overrides_dir))
        if kind is ReplyKind.RECEIPT_CONFIRMATION:
            items.append(_item(kind, "de-Sie-unverifiziert", unverified_receipt(),
                               profile.model_copy(update={"address_form": "Sie"}), "de", overrides_dir))
        if not internal:
            ctx = sample_context(kind, profile.key, "en")
            items.append(_item(kind, "en", ctx, profile, "en", overrides_dir))
        if kind is ReplyKind.CLARIFICATION:  # after a general question: the notice and the DPO named
            for form in forms:
                items.append(_item(kind, f"de-{form}-allgemeine-Frage", general_question(profile.key),
                                   profile.model_copy(update={"address_form": form}), "de", overrides_dir))
            items.append(_item(kind, "en-allgemeine-Frage", general_question(profile.key, "en"), profile,
                               "en", overrides_dir))
    return items


# Kinds whose chat form is never sent: the one-time code always goes by e-mail to the address on file.
NEVER_IN_CHAT = frozenset({ReplyKind.VERIFICATION_CODE})


def _item(kind: ReplyKind, variant: str, ctx: ReplyContext, profile: ControllerProfile, language: str,
          overrides_dir: Path | None) -> PreviewItem:
    mail = render_reply(kind, replace(ctx, channel="email"), profile, language=language,
                        overrides_dir=overrides_dir, only="mail")
    chat = ""
    if not KIND_SPECS[kind].internal and kind not in NEVER_IN_CHAT:
        chat = render_reply(kind, replace(ctx, channel="telegram"), profile, language=language,
                            overrides_dir=overrides_dir, only="chat").chat
    return PreviewItem(kind, variant, replace(mail, chat=chat))


def as_text(reply: RenderedReply) -> str:
    """One review file: subject, plain text and chat variant."""
    parts = [f"Betreff: {reply.subject}", "", reply.text.rstrip("\n")]
    if reply.chat:
        parts += ["", "----- Chat -----", reply.chat]
    return "\n".join(parts) + "\n"


def write_preview(profile: ControllerProfile, out_dir: Path, *, overrides_dir: Path | None = None) -> Path:
    """Write `index.html` and one `.txt`/`.html` per rendering to `out_dir`; return the index path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    items = preview_items(profile, overrides_dir=overrides_dir)
    for item in items:
        (out_dir / f"{item.stem}.txt").write_text(as_text(item.reply), encoding="utf-8")
        (out_dir / f"{item.stem}.html").write_text(item.reply.html, encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(_index_html(profile, items), encoding="utf-8")
    return index


def _index_html(profile: ControllerProfile, items: list[PreviewItem]) -> str:
    esc = html.escape
    toc = "\n".join(
        f'<li><a href="#{esc(i.stem)}">{esc(i.kind.value)} · {esc(i.variant)}</a></li>' for i in items
    )
    sections = []
    for i in items:
        chat = f"<h4>Chat</h4><pre>{esc(i.reply.chat)}</pre>" if i.reply.chat else ""
        sections.append(
            f'<section id="{esc(i.stem)}"><h2>{esc(i.kind.value)} · {esc(i.variant)}</h2>'
            f"<p><b>Betreff:</b> {esc(i.reply.subject)}</p>"
            f'<div class="cols"><div><h4>Text</h4><pre>{esc(i.reply.text)}</pre>'
            f'<p><a href="{esc(i.stem)}.txt">{esc(i.stem)}.txt</a></p></div>'
            f'<div><h4>HTML</h4><iframe srcdoc="{esc(i.reply.html, quote=True)}"></iframe>{chat}</div></div>'
            f"</section>"
        )
    return (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        f"<title>Antwortvorlagen {esc(profile.legal_name)}</title><style>"
        "body{font-family:Arial,Helvetica,sans-serif;margin:2em}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:1em;font-size:13px}"
        ".cols{display:grid;grid-template-columns:1fr 1fr;gap:1.5em}"
        "iframe{width:100%;height:32em;border:1px solid #ccc}"
        "section{border-top:2px solid #333;margin-top:2em}</style></head><body>"
        f"<h1>Antwortvorlagen für {esc(profile.legal_name)} ({len(items)} Fassungen)</h1>"
        "<p>Beispieldaten, Daten eingefroren (Eingang 31. Januar 2026). Zur rechtlichen Prüfung "
        "durch den Datenschutz.</p>"
        f"<ol>{toc}</ol>{''.join(sections)}</body></html>\n"
    )
