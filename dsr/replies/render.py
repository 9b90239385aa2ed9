"""Render a reply kind for a ticket and controller into subject, plain text, HTML and chat text.

One template per kind and language (`templates/<lang>/<kind>.j2`) is the single source of all
four forms: it is rendered once per section with a small formatting library (`templates/_fmt/`)
for plain text (wrapped at 76 columns), HTML (autoescaped) or chat.  Shared text blocks live in
`templates/<lang>/blocks/`.  A controller's override folder mirrors this layout; any file found
there wins, everything else falls back to the defaults, and an override may extend the default
it replaces as `{% extends "default:de/<kind>.j2" %}` to change a single `{% block %}`.

`StrictUndefined`: a missing variable or template raises `ReplyTemplateError` naming it; a reply
is never sent with a silently empty gap (django-helpdesk #1350 shows what a silent gap does).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from markupsafe import Markup

from dsr.controllers.profile import ControllerProfile
from dsr.intents.rights import RIGHTS, Right, RightInfo, legal_sort
from dsr.replies.address import AddressForm
from dsr.replies.context import ReplyContext, ReplyKind
from dsr.replies.dates import format_date_de, format_date_en, format_datetime_de, format_datetime_en
from dsr.replies.kinds import (
    KIND_SPECS,
    PERSONAL_FIELDS,
    PERSONAL_OPTIONAL_FIELDS,
    ReplyError,
    check_context,
    check_profile_facts,
)
from dsr.replies.labels import identity_label, reason_label
from dsr.replies.language import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, is_english, normalise_language
from dsr.replies.reasons import explain_reason, state_label

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEXT_WIDTH = 76
# A gap only the DPO can fill (the console refuses to send a text that still contains one).
GAP_OPEN, GAP_CLOSE = "⟦", "⟧"


class ReplyTemplateError(ReplyError):
    """A template or a variable it uses is missing, or a template does not parse."""


@dataclass(frozen=True, slots=True)
class RenderedReply:
    subject: str
    text: str
    html: str
    chat: str  # empty for internal kinds


_MONTHS = ("Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember|"
           "January|February|March|May|June|July|October|December")
# Spaces a line must not break at: inside written-out dates ("2. März 2026") and legal citations
# ("Art. 15 Abs. 1 lit. a DSGVO", "§ 35 BDSG", "z. B.").
_KEEP_TOGETHER = (
    re.compile(rf"\b(\d{{1,2}}\.?) ({_MONTHS}) (\d{{4}})\b"),
    re.compile(r"(\b(?:Art|Abs|lit|Nr|Rn)\.|\bSatz|§§?) (?=\S)"),
    re.compile(r"(\d[a-z]?|\b[a-h]|\))\s(?=(?:DSGVO|BDSG|AO|HGB|UStG|UWG|TDDDG|GDPR)\b)"),
    re.compile(r"\b(z\.) (?=B\.)"),
)
_GLUE = "\x00"


def _wrap(value: str, *, first: str = "", rest: str = "") -> str:
    """Wrap at TEXT_WIDTH columns without splitting dates or legal citations across lines."""
    return _wrap_normalised(" ".join(str(value).split()), first, rest)


@lru_cache(maxsize=4096)
def _wrap_normalised(text: str, first: str, rest: str) -> str:
    """`_wrap` of whitespace-normalised text; cached, as most paragraphs recur in every letter."""
    for pattern in _KEEP_TOGETHER:
        text = pattern.sub(lambda m: m.group(0).replace(" ", _GLUE), text)
    wrapped = textwrap.fill(text, width=TEXT_WIDTH, initial_indent=first, subsequent_indent=rest,
                            break_long_words=False, break_on_hyphens=False)
    return wrapped.replace(_GLUE, " ")


def _para(value: str) -> str:
    return _wrap(value)


def _bullet(value: str) -> str:
    return _wrap(value, first="- ", rest="  ")


def _squash(value: str) -> str:
    """Collapse whitespace; keeps Markup as Markup (splitting on whitespace cannot break escapes)."""
    joined = " ".join(str(value).split())
    # Safe: `value` was already Markup (escaped); only whitespace changes.
    return Markup(joined) if isinstance(value, Markup) else joined  # noqa: S704


def _capitalize_first(value: str) -> str:
    """Upper-case the first letter only (jinja's `capitalize` lower-cases the rest)."""
    return value[:1].upper() + value[1:]


def _unconfirmed(statement: str) -> str:
    """An assumed profile fact in a draft: the DPO confirms or deletes it before sending.

    Letters never state an assumed fact as a fact; the draft shows it as a gap that blocks
    sending, in the DPO's language (German also in an English draft), with the assumed wording.
    """
    return f"{GAP_OPEN}nicht bestätigte Angabe – bitte bestätigen oder streichen: {statement}{GAP_CLOSE}"


def _right_info(right: Right | str) -> RightInfo:
    return RIGHTS[Right(right)]


def _rights_phrase(rights: tuple[Right, ...], lang: str = DEFAULT_LANGUAGE) -> str:
    """"Auskunft (Art. 15 DSGVO) und Löschung (Art. 17 DSGVO)" from the shared rights table."""
    english = is_english(lang)
    parts: list[str] = []
    for right in rights:
        info = RIGHTS[Right(right)]
        name, article = (info.name_en, info.article_en) if english else (info.name_de, info.article)
        # A complaint is addressed to the authority under Art. 77; citing it for a complaint made
        # to us would mislead.
        cited = article and info.right is not Right.COMPLAINT
        parts.append(f"{name} ({article})" if cited else name)
    if len(parts) <= 1:
        return "".join(parts)
    joiner = " and " if english else " und "
    return ", ".join(parts[:-1]) + joiner + parts[-1]


def _override_folders(overrides_dir: Path | None, controller: str) -> tuple[Path, ...]:
    """The controller's own folder `<overrides_dir>/<key>/` (if present) before `overrides_dir`.

    One override root can so serve several controllers (group companies): files directly in it
    apply to all, files in a controller's subfolder to that controller only.
    """
    if overrides_dir is None:
        return ()
    own = overrides_dir / controller
    reserved = {*SUPPORTED_LANGUAGES, "_fmt"}
    if controller not in reserved and own.is_dir():
        return (own, overrides_dir)
    return (overrides_dir,)


class _PackagedLoader(FileSystemLoader):
    """The templates shipped with the code: loaded and compiled once per process.

    Only override folders are watched for changes (a DPO may edit those while the service runs);
    checking the packaged files on disk for every include of every reply is pure overhead.
    """

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, _uptodate = super().get_source(environment, template)
        return source, filename, _always_current


def _always_current() -> bool:
    return True


def _loader(folders: tuple[Path, ...]) -> BaseLoader:
    default = _PackagedLoader(TEMPLATE_DIR)
    chain: list[BaseLoader] = [PrefixLoader({"default": default}, delimiter=":")]
    chain.extend(FileSystemLoader(folder) for folder in folders)
    chain.append(default)
    return ChoiceLoader(chain)


@lru_cache(maxsize=32)
def _environment(folders: tuple[Path, ...], html: bool) -> Environment:
    env = Environment(
        loader=_loader(folders),
        undefined=StrictUndefined,
        autoescape=html,  # noqa: S701 - plain-text and chat output are not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        para=_para, bullet=_bullet, squash=_squash, capitalize_first=_capitalize_first,
        # Pure functions of a date: cached (babel's pattern formatting is slow).
        date_de=lru_cache(maxsize=1024)(format_date_de), date_en=lru_cache(maxsize=1024)(format_date_en),
        datetime_de=lru_cache(maxsize=1024)(format_datetime_de),
        datetime_en=lru_cache(maxsize=1024)(format_datetime_en),
        reason_label=reason_label,
    )
    env.globals.update(right_info=_right_info, rights_phrase=_rights_phrase, legal_sort=legal_sort,
                       explain_reason=explain_reason, state_label=state_label,
                       identity_label=identity_label, unconfirmed=_unconfirmed)
    return env


def warm_templates(controllers: tuple[str, ...], overrides_dir: Path | None = None) -> int:
    """Compile every template the controllers' replies can use, in both environments (text, HTML).

    Called once when the pipeline is built, so that no message compiles a template inside its
    transaction (the first message of a process compiled its replies there, ~0.4 s, holding
    SQLite's write gate).  Returns how many templates were compiled or found already compiled.
    """
    resolved = overrides_dir.resolve() if overrides_dir else None
    count = 0
    for folders in {_override_folders(resolved, key) for key in controllers}:
        for html in (False, True):
            env = _environment(folders, html)
            for name in env.list_templates(extensions=("j2",)):
                # The packaged defaults under "default:" are only reached by an override's
                # `{% extends "default:..." %}`: without overrides, nothing asks for them.
                if name.startswith("default:") and not folders:
                    continue
                template = env.get_template(name)
                if name.startswith("_fmt/"):
                    _ = template.module  # the formatting library is imported by every render
                count += 1
    return count


def _redacted(ctx: ReplyContext) -> ReplyContext:
    """Unverified sender: blank every personal field so that no template can print it."""
    if ctx.verified:
        return ctx
    blank: dict[str, Any] = {
        name: None if name in PERSONAL_OPTIONAL_FIELDS
        else False if name == "copy_link_sent_separately" else ()
        for name in PERSONAL_FIELDS
    }
    return dataclasses.replace(ctx, **blank)


def render_reply(kind: ReplyKind, ctx: ReplyContext, profile: ControllerProfile, *,
                 language: str = DEFAULT_LANGUAGE, overrides_dir: Path | None = None,
                 only: Literal["mail", "chat"] | None = None) -> RenderedReply:
    """Render `kind` for `ctx` and `profile`.

    `language` is the request's language ("de", "en", "en-GB" ...); internal kinds are always
    German.  `overrides_dir` is an override folder with the layout of `replies/templates`; a
    subfolder named after the controller key takes precedence for that controller.  `only`
    renders just the forms one channel sends ("mail": subject, text and HTML; "chat": the chat
    text); the others are left empty.  Raises ReplyDataError when the context lacks a legally
    required value and ReplyTemplateError when a template or variable is missing.
    """
    spec = KIND_SPECS[kind]
    check_context(spec, ctx)
    person = profile.selection(r.key for r in ctx.relationships or ()) if ctx.verified else None
    check_profile_facts(kind, ctx, group_recipients=person is not None and person.group_recipients,
                        automated_decisions=person is not None and bool(person.automated_decisions),
                        known_relationships=frozenset(r.key for r in profile.relationships))
    lang = DEFAULT_LANGUAGE if spec.internal else normalise_language(language)
    overrides = _override_folders(overrides_dir.resolve() if overrides_dir else None, profile.key)
    name = f"{lang}/{kind.value}.j2"
    variables: dict[str, Any] = {
        "ctx": _redacted(ctx), "profile": profile, "a": AddressForm(profile.address_form),
        "kind": kind.value, "lang": lang, "Right": Right, "person": person,
    }
    try:
        subject = text = html = chat = ""
        if only != "chat":
            subject = _squash(_render(overrides, name, variables, section="subject", fmt="text"))
            text = _render(overrides, name, variables, section="body", fmt="text")
            html = _render(overrides, name, variables, section="body", fmt="html")
        if only != "mail" and not spec.internal:
            chat = _render(overrides, name, variables, section="chat", fmt="chat")
    except TemplateNotFound as exc:
        raise ReplyTemplateError(
            f"{kind.value} ({lang}, controller {profile.key}): template {exc.name!r} not found"
        ) from exc
    except TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name}:{exc.lineno}"
        raise ReplyTemplateError(f"{kind.value}: {where}: {exc.message}") from exc
    except UndefinedError as exc:
        raise ReplyTemplateError(
            f"{kind.value} ({name}, controller {profile.key}): undefined variable: {exc.message}"
        ) from exc
    except TemplateError as exc:
        raise ReplyTemplateError(f"{kind.value} ({name}): {exc}") from exc
    logger.debug("rendered %s for %s in %s (%d chars)", kind.value, profile.key, lang, len(text))
    return RenderedReply(subject=subject, text=text, html=html, chat=chat)


def _render(overrides: tuple[Path, ...], name: str, variables: dict[str, Any], *,
            section: str, fmt: str) -> str:
    env = _environment(overrides, fmt == "html")
    fmt_lib = env.get_template(f"_fmt/{fmt}.j2").module
    out = env.get_template(name).render(variables, section=section, fmt=fmt, f=fmt_lib)
    return out.strip("\n") + "\n" if section == "body" else out.strip()
