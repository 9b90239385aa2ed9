"""German (and English) replies to data subjects and internal mails, rendered from templates.

`render_reply` is the only entry point; `format_date_de` writes dates as letters do.  Pure: jinja2
and Babel only, no database, network or channel library.
"""

from dsr.replies.context import DigestRow, ReplyContext, ReplyKind, RetainedItem
from dsr.replies.dates import format_date_de, format_date_en
from dsr.replies.kinds import KIND_SPECS, Audience, ReplyDataError, ReplyError, UnverifiedDisclosureError
from dsr.replies.language import SUPPORTED_LANGUAGES, is_english, normalise_language
from dsr.replies.render import (
    RenderedReply,
    ReplyTemplateError,
    render_reply,
    warm_templates,
)

__all__ = [
    "KIND_SPECS",
    "SUPPORTED_LANGUAGES",
    "Audience",
    "DigestRow",
    "RenderedReply",
    "ReplyContext",
    "ReplyDataError",
    "ReplyError",
    "ReplyKind",
    "ReplyTemplateError",
    "RetainedItem",
    "UnverifiedDisclosureError",
    "format_date_de",
    "format_date_en",
    "is_english",
    "normalise_language",
    "render_reply",
    "warm_templates",
]
