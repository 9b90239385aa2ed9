"""The data subject's download page: `/download/{token}`, outside the console login.

The link token (only its hash is stored) is the first factor; a one-time code sent to the
verified contact on file is the second, asked for before every download.  The page never shows
personal data: it says which request the package belongs to, how long the link works and how
many downloads are left.  The POSTs carry no CSRF token: a third-party page cannot know the
link token in the URL, and without it nothing can be triggered.  The file is served only as an
attachment (`Content-Disposition: attachment`, `application/zip`), never rendered inline.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.responses import Response, StreamingResponse

from dsr.console.guard import Ctx
from dsr.console.outgoing import SendProblem, send_to_subject
from dsr.fulfilment.delivery import (
    CODE_MINUTES,
    find_package,
    issue_code,
    redeem_code,
    refusal,
    stream_package,
)
from dsr.fulfilment.maps import delivery_config
from dsr.fulfilment.texts import code_message
from dsr.store.models import DeliveryPackage, Ticket

log = logging.getLogger(__name__)
BERLIN = ZoneInfo("Europe/Berlin")
CODE_REQUEST_GAP = timedelta(seconds=60)  # at most one new code a minute per link


def _page(ctx: Ctx, package: DeliveryPackage | None, *, message: str = "", level: str = "ok",
          status: int = 200) -> Response:
    problem = refusal(package, ctx.now)
    if problem is not None:
        status = 404 if package is None else 410
    return ctx.render("download.html", status_code=status,
                      package=package if problem is None else None, problem=problem, message=message,
                      level=level, token=ctx.request.path_params["token"],
                      left=(package.max_uses - package.uses) if package is not None else 0,
                      expires=package.expires_at.astimezone(BERLIN) if package is not None else None)


def download_page(ctx: Ctx) -> Response:
    with ctx.services.sessions() as session:
        package = find_package(session, str(ctx.request.path_params["token"]))
        return _page(ctx, package)


def request_code(ctx: Ctx) -> Response:
    with ctx.services.sessions.begin() as session:
        package = find_package(session, str(ctx.request.path_params["token"]))
        if package is None or refusal(package, ctx.now) is not None:
            return _page(ctx, package)
        if package.code_expires_at is not None and \
                package.code_expires_at - timedelta(minutes=CODE_MINUTES) + CODE_REQUEST_GAP > ctx.now:
            return _page(ctx, package, level="error", status=429,
                         message="Ein Code wurde gerade erst gesendet; bitte einen Moment warten.")
        ticket = session.get(Ticket, package.ticket_id) if package.ticket_id is not None else None
        profile = ctx.services.profiles.get(ticket.controller) if ticket is not None else None
        if ticket is None or profile is None or ticket.reply_to != package.contact:
            # The verified contact changed since the link was sent: never send a code elsewhere.
            return _page(ctx, package, level="error", status=409,
                         message="Der Code kann nicht zugestellt werden; bitte wenden Sie sich an uns.")
        code = issue_code(session, package, now=ctx.now)
        subject, text = code_message(lang=ticket.language, du=profile.address_form == "Du",
                                     reference=ticket.reference, code=code, minutes=CODE_MINUTES)
        sent = send_to_subject(session, ticket, profile, kind="download_code", subject=subject, text=text,
                               now=ctx.now)
        if isinstance(sent, SendProblem):
            session.rollback()
            return _page(ctx, package, message="Der Code konnte nicht versandt werden.", level="error",
                         status=409)
        log.info("download code queued ticket=%s package=%d", ticket.reference, package.id)
        where = ("in den Chat" if package.channel == "telegram"
                 else "an Ihre bei uns bestätigte E-Mail-Adresse")
        return _page(ctx, package, message=f"Wir haben Ihnen einen Code {where} gesendet. Er gilt "
                                           f"{CODE_MINUTES} Minuten.")


def download(ctx: Ctx) -> Response:
    token = str(ctx.request.path_params["token"])
    config = delivery_config(ctx.services.settings)
    with ctx.services.sessions.begin() as session:
        package = find_package(session, token)
        if package is None or config is None:
            return _page(ctx, None)
        problem = redeem_code(session, package, ctx.field("code"), now=ctx.now)
        if problem is not None:
            # The refusal is audited; its transaction is committed with the (wrong) attempt count.
            session.flush()
            status = 410 if refusal(package, ctx.now) else 403
            response = _page(ctx, package, message=problem, level="error", status=status)
            return response
        package_id, reference = package.id, package.reference
        uploaded = bool(package.download_name)
        name = package.download_name or f"{reference}.zip"
    log.info("download started package=%d ticket=%s", package_id, reference)
    with ctx.services.sessions() as session:
        live = session.get(DeliveryPackage, package_id)
        if live is None:
            return _page(ctx, None)
        chunks = stream_package(config, live)
        session.expunge(live)
    # A DPO's upload is never rendered: an opaque type, always an attachment.
    served = "application/octet-stream" if uploaded else "application/zip"
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return StreamingResponse(chunks, media_type=served, headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
    })
