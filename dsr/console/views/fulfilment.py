"""The DPO's fulfilment page of a ticket: discovery results, review, package, erasure plan, proof.

`/tickets/{id}/fulfilment` shows per system what discovery found (found / nothing / failed with
reason / to be confirmed by hand), the found records per category with a form to leave one out
(Art. 15(4), with a reason), the packages delivered and their use, the plan of an erasure,
restriction or rectification, and the proof of what was done.  Each POST is one decision, audited.

Record contents are read live from the controller's systems for this page only; the store keeps
keys and counts, never the contents.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import Response

from dsr.console.guard import Ctx
from dsr.console.operations import is_closed
from dsr.console.outgoing import SendProblem, send_to_subject
from dsr.console.queries import scoped_ticket
from dsr.console.views.closed import open_only
from dsr.controllers import ControllerProfile
from dsr.datamap import DataMap, DataMapError
from dsr.fulfilment.connectors import Connector, ConnectorError, Record, open_connector
from dsr.fulfilment.delivery import (
    DeliveryConfig,
    WrittenPackage,
    discard_package,
    package_person,
    package_url,
    record_package,
    stream_written,
    write_package,
)
from dsr.fulfilment.discovery import (
    claim_searches,
    needs_fulfilment,
    open_case,
    record_search,
    retry_now,
    run_search,
)
from dsr.fulfilment.execute import outcome_facts
from dsr.fulfilment.journal import begin, finish, run
from dsr.fulfilment.maps import delivery_config, load_datamaps_of
from dsr.fulfilment.package import Source
from dsr.fulfilment.plan import PlanAction, PlanItem, build_plan
from dsr.fulfilment.review import (
    approval_problem,
    approve,
    case_for,
    confirm_manual,
    exclude,
    exclusions_of,
    include_again,
    results_of,
    sources,
)
from dsr.fulfilment.sealed import PasswordRoute, new_password, password_route, seal
from dsr.fulfilment.texts import attachment_message, link_message, password_message, sealed_message
from dsr.fulfilment.uploads import MAX_ATTACHMENT_BYTES, read_attachment, store_upload
from dsr.intents.rights import Right
from dsr.pipeline.outbound import Outgoing, TelegramPayload, bound_chat, is_verified, send
from dsr.store.audit import audit
from dsr.store.models import (
    DeliveryPackage,
    DiscoveryResult,
    DiscoveryState,
    ErasureProof,
    FulfilmentCase,
    FulfilmentState,
    RetentionHold,
    Ticket,
)
from dsr.store.sealed import seal_item

log = logging.getLogger(__name__)
T = TypeVar("T")
BERLIN = ZoneInfo("Europe/Berlin")
OTHERS_WAIT_SECONDS = 20.0  # "Jetzt suchen" waits this long for a search the worker is running
SHOWN_PER_CATEGORY = 200  # records shown per category on the page (all of them go into the package)
DELIVERY_RIGHTS = {Right.ACCESS, Right.PORTABILITY}
ACTION_RIGHTS = {Right.ERASURE, Right.RESTRICTION, Right.RECTIFICATION}
STATE_LABELS = {"pending": "wird durchsucht", "found": "Daten gefunden", "nothing": "nichts gefunden",
                "failed": "fehlgeschlagen", "manual": "von Hand prüfen", "confirmed": "von Hand bestätigt"}


@lru_cache(maxsize=8)
def _maps_for(profile_refs: tuple[str, ...]) -> dict[str, DataMap]:
    return load_datamaps_of(profile_refs)


def datamaps(ctx: Ctx) -> dict[str, DataMap]:
    """The configured controllers' data maps (read once per process)."""
    try:
        return _maps_for(tuple(ctx.services.settings.controller_names))
    except DataMapError as exc:
        log.error("data map invalid: %s", exc)
        return {}


@dataclass
class CategoryView:
    key: str
    name: str
    count: int
    records: list[Record] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)  # item key -> reason
    more: int = 0


@dataclass
class SystemView:
    key: str
    name: str
    kind: str
    state: str
    state_label: str
    error: str | None
    attempts: int
    next_attempt: object
    manual_note: str
    description: str
    categories: list[CategoryView] = field(default_factory=list)
    read_error: str | None = None


def _connectors(datamap: DataMap, keys: set[str]) -> dict[str, Connector]:
    out: dict[str, Connector] = {}
    try:
        for key in keys:
            out[key] = open_connector(datamap.system(key), os.environ)
    except ConnectorError:
        for connector in out.values():
            connector.close()
        raise
    return out


def _system_views(session: Session, case: FulfilmentCase, datamap: DataMap) -> list[SystemView]:
    excluded: dict[tuple[str, str, str], str] = {
        (e.system, e.category, e.item_key): e.reason for e in exclusions_of(session, case)}
    views = []
    for result in results_of(session, case):
        try:
            system = datamap.system(result.system)
        except KeyError:
            continue
        view = SystemView(result.system, system.name, system.kind.value, result.state,
                          STATE_LABELS.get(result.state, result.state), result.error, result.attempts,
                          result.next_attempt_at, result.manual_note,
                          "; ".join(c.description for c in system.categories if c.description))
        found = {k: v for k, v in result.found.items() if not k.startswith("_")}
        if found and any(found.values()):
            try:
                connector = open_connector(system, os.environ)
                try:
                    for category in system.categories:
                        keys = found.get(category.key, [])
                        if not keys:
                            continue
                        shown = list(connector.read(category, keys[:SHOWN_PER_CATEGORY]))
                        view.categories.append(CategoryView(
                            category.key, category.name, len(keys), shown, category.columns,
                            {k: r for (s, c, k), r in excluded.items()
                             if s == system.key and c == category.key},
                            max(0, len(keys) - SHOWN_PER_CATEGORY)))
                finally:
                    connector.close()
            except ConnectorError as exc:
                view.read_error = str(exc)
        views.append(view)
    return views


def _plan(session: Session, case: FulfilmentCase, datamap: DataMap, ticket: Ticket, ctx: Ctx,
          changes: dict[tuple[str, str], dict[str, str]] | None = None) -> list[PlanItem]:
    chosen: list[Source] = sources(session, case, datamap)
    connectors = _connectors(datamap, {s.system.key for s in chosen
                                       if s.keys and s.system.kind.value != "manual"})
    try:
        return build_plan(datamap, chosen, {Right(r) for r in ticket.rights}, connectors=connectors,
                          today=ctx.today, changes=changes)
    finally:
        for connector in connectors.values():
            connector.close()


def fulfilment_page(ctx: Ctx) -> Response:
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ctx.path_int("ticket_id"))
        if ticket is None:
            return ctx.not_found()
        datamap = datamaps(ctx).get(ticket.controller)
        case = case_for(session, ticket.id)
        rights = {Right(r) for r in ticket.rights}
        systems = _system_views(session, case, datamap) if case is not None and datamap is not None else []
        exclusions = exclusions_of(session, case) if case is not None else []
        plan: list[PlanItem] = []
        plan_error = None
        closed = is_closed(ticket)
        if case is not None and datamap is not None and rights & ACTION_RIGHTS and not closed and \
                case.state in (FulfilmentState.REVIEW.value, FulfilmentState.APPROVED.value):
            try:
                plan = _plan(session, case, datamap, ticket, ctx)
            except ConnectorError as exc:
                plan_error = str(exc)
        packages = list(session.scalars(select(DeliveryPackage).where(DeliveryPackage.ticket_id == ticket.id)
                                        .order_by(DeliveryPackage.id)))
        proofs = list(session.scalars(select(ErasureProof).where(ErasureProof.reference == ticket.reference)
                                      .order_by(ErasureProof.id)))
        holds = list(session.scalars(select(RetentionHold).where(RetentionHold.reference == ticket.reference)
                                     .order_by(RetentionHold.until)))
        problem = approval_problem(session, case) if case is not None else None
        response = ctx.render(
            "fulfilment.html", ticket=ticket, datamap=datamap, case=case, systems=systems,
            exclusions=exclusions, plan=plan, plan_error=plan_error, packages=packages, proofs=proofs,
            holds=holds, approval_problem=problem, verified=is_verified(ticket),
            needs=needs_fulfilment(ticket), delivery_rights=bool(rights & DELIVERY_RIGHTS),
            action_rights=bool(rights & ACTION_RIGHTS),
            has_key=delivery_config(ctx.services.settings) is not None,
            facts=outcome_facts(case), PlanAction=PlanAction, rectification=Right.RECTIFICATION in rights,
            bound_chat=bound_chat(ticket) is not None, is_closed=closed)
        # Record contents were shown: an access to personal data (Art. 5(2) accountability).
        audit(session, actor=ctx.actor, action="fulfilment.viewed", now=ctx.now, ticket_id=ticket.id)
    return response


# --- actions ----------------------------------------------------------------------------------
# Every action is `open_only` (`dsr.console.views.closed`): a closed ticket is read-only until
# "Wieder öffnen", so the action is refused with 409, in German and audited, before it runs.


class RefusedError(Exception):
    """A German message for the DPO."""


def _load(ctx: Ctx, session: Session, ticket_id: int) -> tuple[Ticket, DataMap, ControllerProfile] | None:
    """The caller's ticket with its controller's data map and profile (None: no such ticket)."""
    ticket = scoped_ticket(session, ctx.scope, ticket_id=ticket_id)
    if ticket is None:
        return None
    datamap = datamaps(ctx).get(ticket.controller)
    profile = ctx.services.profiles.get(ticket.controller)
    if datamap is None or profile is None:
        raise RefusedError("Für diesen Verantwortlichen gibt es keine Datenlandkarte.")
    return ticket, datamap, profile


Work = Callable[[Session, Ticket, FulfilmentCase | None, DataMap, ControllerProfile], T]


def _target(ctx: Ctx) -> str:
    return f"/tickets/{ctx.path_int('ticket_id')}/fulfilment"


def _unreachable(ctx: Ctx, exc: ConnectorError) -> Response:
    return ctx.redirect(_target(ctx), f"Ein System hat nicht geantwortet: {exc}", "error")


def _on_ticket(ctx: Ctx, work: Work[T]) -> T | Response:
    """Run `work` on the caller's ticket (its case, data map and profile) in one transaction.

    The answer instead of `work`'s result: 404 for no such ticket; a redirect to the fulfilment
    page with the German reason when `work` refuses or a system did not answer (nothing written).
    """
    try:
        with ctx.services.sessions.begin() as session:
            loaded = _load(ctx, session, ctx.path_int("ticket_id"))
            if loaded is None:
                return ctx.not_found()
            ticket, datamap, profile = loaded
            return work(session, ticket, case_for(session, ticket.id), datamap, profile)
    except RefusedError as exc:
        return ctx.redirect(_target(ctx), str(exc), "error")
    except ConnectorError as exc:
        return _unreachable(ctx, exc)


def _act(ctx: Ctx, action: Work[str]) -> Response:
    """One decision on the fulfilment page; back to it with `action`'s message."""
    message = _on_ticket(ctx, action)
    return message if isinstance(message, Response) else ctx.redirect(_target(ctx), message)


def _need_case(case: FulfilmentCase | None) -> FulfilmentCase:
    if case is None:
        raise RefusedError("Die Suche wurde für dieses Ticket noch nicht gestartet.")
    return case


@open_only
def discover_action(ctx: Ctx) -> Response:
    """Start (or repeat for failed systems) the search now instead of waiting for the worker.

    As in the worker, each system is searched with no transaction open; only opening the case and
    writing each result are short transactions.
    """
    ticket_id = ctx.path_int("ticket_id")
    target = f"/tickets/{ticket_id}/fulfilment"
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ticket_id)
        if ticket is None:
            return ctx.not_found()
        datamap = datamaps(ctx).get(ticket.controller)
        if datamap is None:
            return ctx.redirect(target, "Für diesen Verantwortlichen gibt es keine Datenlandkarte.", "error")
        if not needs_fulfilment(ticket):
            return ctx.redirect(target, "Suche nur für bestätigte Personen mit Auskunfts-, "
                                        "Übertragbarkeits-, Lösch-, Einschränkungs- oder "
                                        "Berichtigungsanliegen in Bearbeitung.", "error")
        case = open_case(session, ticket, datamap, now=ctx.now, actor=ctx.actor)
        retry_now(session, case, now=ctx.now, actor=ctx.actor)
        case_id = case.id
    with ctx.services.sessions.begin() as session:
        # Claimed like the worker's searches: a search the worker is running is not run twice.
        due = claim_searches(session, now=ctx.now, ticket_id=ticket_id, limit=1000)
    failed = 0
    for item in due:
        outcome = run_search(item, datamap, os.environ)
        with ctx.services.sessions.begin() as session:
            record_search(session, item, outcome, now=ctx.now)
        failed += isinstance(outcome, str)
    if not _others_finished(ctx, case_id):
        return ctx.redirect(target, "Die Suche läuft noch im Hintergrund; bitte die Seite gleich neu laden.")
    if failed:
        return ctx.redirect(target, f"Suche abgeschlossen; {failed} System(e) fehlgeschlagen.", "error")
    return ctx.redirect(target, "Suche abgeschlossen.")


def _others_finished(ctx: Ctx, case_id: int, *, wait: float = OTHERS_WAIT_SECONDS) -> bool:
    """Wait a little for searches of the case that another process (the worker) claimed first, so
    the page shows their result; False when one is still running after `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        with ctx.services.sessions() as session:
            running = session.scalar(select(func.count()).select_from(DiscoveryResult).where(
                DiscoveryResult.case_id == case_id, DiscoveryResult.state == DiscoveryState.PENDING.value))
        if not running:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


@open_only
def exclude_action(ctx: Ctx) -> Response:
    def run(session: Session, ticket: Ticket, case: FulfilmentCase | None, datamap: DataMap,
            profile: ControllerProfile) -> str:
        problem = exclude(session, _need_case(case), system=ctx.field("system"),
                          category=ctx.field("category"), item_key=ctx.field("item"),
                          reason=ctx.field("reason"), actor=ctx.actor, now=ctx.now)
        if problem:
            raise RefusedError(problem)
        return "Eintrag wird nicht herausgegeben (Grund vermerkt)."

    return _act(ctx, run)


@open_only
def include_action(ctx: Ctx) -> Response:
    def run(session: Session, ticket: Ticket, case: FulfilmentCase | None, datamap: DataMap,
            profile: ControllerProfile) -> str:
        try:
            exclusion_id = int(ctx.field("exclusion"))
        except ValueError as exc:
            raise RefusedError("Unbekannter Eintrag.") from exc
        include_again(session, _need_case(case), exclusion_id, actor=ctx.actor, now=ctx.now)
        return "Eintrag wird wieder herausgegeben."

    return _act(ctx, run)


@open_only
def manual_action(ctx: Ctx) -> Response:
    def run(session: Session, ticket: Ticket, case: FulfilmentCase | None, datamap: DataMap,
            profile: ControllerProfile) -> str:
        problem = confirm_manual(session, _need_case(case), system=ctx.field("system"),
                                 found=ctx.field("found") == "yes", note=ctx.field("note"), actor=ctx.actor,
                                 now=ctx.now)
        if problem:
            raise RefusedError(problem)
        return "Ergebnis der Prüfung von Hand vermerkt."

    return _act(ctx, run)


@dataclass(frozen=True)
class _Package:
    """A delivery after its short approving transaction: the package to write (no session open)."""

    build: Callable[[], WrittenPackage]
    reference: str
    profile: ControllerProfile
    config: DeliveryConfig


@open_only
def deliver_action(ctx: Ctx) -> Response:
    """Approve what was found and deliver it: build the encrypted package, send the link.

    Three steps, so that no transaction stays open while the systems are read: approve (short
    write), write the encrypted package (no session), record it and queue the link (short write).
    """
    ticket_id = ctx.path_int("ticket_id")
    target = _target(ctx)
    sealed = ctx.field("how") == "attachment"

    def prepare(session: Session, ticket: Ticket, found: FulfilmentCase | None, datamap: DataMap,
                profile: ControllerProfile) -> _Package:
        case = _need_case(found)
        if not {Right(r) for r in ticket.rights} & DELIVERY_RIGHTS:
            raise RefusedError("Ein Paket gibt es nur bei Auskunft (Art. 15) oder Datenübertragbarkeit "
                               "(Art. 20).")
        if not is_verified(ticket) or not ticket.reply_to:
            raise RefusedError("Die Identität ist nicht bestätigt oder es gibt keinen bestätigten "
                               "Kontakt.")
        config = delivery_config(ctx.services.settings)
        if config is None:
            raise RefusedError("DSR_PACKAGE_KEY ist nicht gesetzt: Pakete können nicht verschlüsselt "
                               "abgelegt werden.")
        if case.state == FulfilmentState.REVIEW.value:
            problem = approve(session, case, actor=ctx.actor, now=ctx.now)
            if problem:
                raise RefusedError(problem)
        elif case.state not in (FulfilmentState.APPROVED.value, FulfilmentState.EXECUTING.value,
                                FulfilmentState.EXECUTED.value):
            raise RefusedError(approval_problem(session, case) or "Noch nicht prüfbar.")
        if sealed and ticket.channel == "telegram":
            raise RefusedError("Im Chat wird das Paket als Download-Link gesendet; ein verschlüsselter "
                               "Anhang geht nur per E-Mail.")
        person_profile, relationships = package_person(session, ticket, profile)
        build = partial(write_package, sources(session, case, datamap), reference=ticket.reference,
                        language=ticket.language, profile=person_profile, datamap=datamap, env=os.environ,
                        config=config, now=ctx.now, relationships=relationships)
        return _Package(build, ticket.reference, profile, config)

    prepared = _on_ticket(ctx, prepare)
    if isinstance(prepared, Response):
        return prepared
    reference, profile, config = prepared.reference, prepared.profile, prepared.config
    try:
        written = prepared.build()
    except ConnectorError as exc:
        return _unreachable(ctx, exc)
    if sealed:
        return _deliver_sealed(ctx, ticket_id, reference, written, config)
    with ctx.services.sessions.begin() as session:
        again = scoped_ticket(session, ctx.scope, ticket_id=ticket_id)
        if again is None:
            discard_package(config, written)
            return ctx.not_found()
        ticket = again
        package, token = record_package(session, ticket, written, config=config, actor=ctx.actor, now=ctx.now)
        subject, text = link_message(lang=ticket.language, du=profile.address_form == "Du",
                                     reference=ticket.reference, url=package_url(config.base_url, token),
                                     expires_at=package.expires_at, max_uses=package.max_uses)
        sent = send_to_subject(session, ticket, profile, kind="package_link", subject=subject, text=text,
                               now=ctx.now)
        if isinstance(sent, SendProblem):
            session.rollback()
            discard_package(config, written)
            return ctx.redirect(target, sent.message or "Der Link konnte nicht versandt werden.", "error")
        expires, uses = package.expires_at, package.max_uses
    return ctx.redirect(target, f"Paket erstellt und Download-Link an den bestätigten Kontakt versandt "
                                f"(gültig bis {expires.astimezone(BERLIN):%d.%m.%Y}, {uses} Downloads).")


def _deliver_sealed(ctx: Ctx, ticket_id: int, reference: str, written: WrittenPackage,
                    config: DeliveryConfig) -> Response:
    """The package as an AES-256 ZIP attached to a mail, the password by the other verified channel.

    The encrypted file at rest is only read to build the attachment and deleted at once (no link
    points to it).  The attachment and the password message are queued in one transaction, so
    neither leaves without the other; the password is never stored (by phone: shown once here).
    """
    target = f"/tickets/{ticket_id}/fulfilment"
    if written.built.size > MAX_ATTACHMENT_BYTES:
        discard_package(config, written)
        size = f"{written.built.size / 2**20:.1f}".replace(".", ",")
        return ctx.redirect(target, f"Das Paket ist für einen E-Mail-Anhang zu groß ({size} MB, höchstens "
                                    f"{MAX_ATTACHMENT_BYTES // 2**20} MB). Bitte als Download-Link senden.",
                            "error")
    password = new_password()
    try:
        attachment = seal(stream_written(config, written), name=f"{reference}.zip", password=password)
    finally:
        discard_package(config, written)
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ticket_id)
        profile = ctx.services.profiles.get(ticket.controller) if ticket is not None else None
        if ticket is None or profile is None:
            return ctx.not_found()
        chat = bound_chat(ticket)
        route = password_route(bound_chat=chat, by_phone=ctx.field("password_via") == "phone")
        du = profile.address_form == "Du"
        subject, text = sealed_message(lang=ticket.language, du=du, reference=ticket.reference,
                                       file_name=attachment.filename, route=route.value)
        sent = send_to_subject(session, ticket, profile, kind="package_attachment", subject=subject,
                               text=text, now=ctx.now, attachment=attachment)
        if isinstance(sent, SendProblem):
            session.rollback()
            return ctx.redirect(target, sent.message, "error")
        p_subject, p_text = password_message(lang=ticket.language, du=du, reference=ticket.reference,
                                             file_name=attachment.filename, password=password)
        second: int | SendProblem | None = None
        if route is PasswordRoute.CHAT and chat is not None:
            chat_message = TelegramPayload(chat_id=int(chat), text=p_text)
            second = send(session, Outgoing(controller=ticket.controller, kind="package_password",
                                            recipient=chat, ticket_id=ticket.id, message=chat_message),
                          now=ctx.now)
        elif route is PasswordRoute.MAIL:
            second = send_to_subject(session, ticket, profile, kind="package_password", subject=p_subject,
                                     text=p_text, now=ctx.now)
        if isinstance(second, SendProblem):
            session.rollback()
            return ctx.redirect(target, second.message, "error")
        audit(session, actor=ctx.actor, action="fulfilment.package_attached", now=ctx.now,
              ticket_id=ticket.id,
              detail={"outbox_id": sent, "password_outbox_id": second, "password_via": route.value,
                      "records": written.built.records, "size": len(attachment.data),
                      "sha256": hashlib.sha256(attachment.data).hexdigest(),
                      "plain_sha256": written.built.sha256})
    if route is PasswordRoute.PHONE:
        # Rendered at once, not as a notice: notices wait in the database until they are shown.
        response = ctx.render("fulfilment_password.html", password=password, ticket_id=ticket_id,
                              reference=reference)
        response.headers["Cache-Control"] = "no-store"
        return response
    where = "per Telegram" if route is PasswordRoute.CHAT else "in einer gesonderten E-Mail"
    return ctx.redirect(target, f"Paket als verschlüsselter Anhang im Postausgang; das Passwort geht "
                                f"{where} an den bestätigten Kontakt.")


@open_only
def execute_action(ctx: Ctx) -> Response:
    """Approve the plan and carry it out (`dsr.fulfilment.journal`): the steps are recorded first,
    each system is changed in its own transaction with no database transaction open, its result
    recorded after; then proof and Art. 19.  A crash in between is finished by the worker."""

    def prepare(session: Session, ticket: Ticket, found: FulfilmentCase | None, datamap: DataMap,
                profile: ControllerProfile) -> tuple[str, DataMap, ControllerProfile]:
        case = _need_case(found)
        if case.state == FulfilmentState.EXECUTED.value:
            raise RefusedError("Der Plan wurde bereits ausgeführt.")
        if case.state == FulfilmentState.EXECUTING.value:
            raise RefusedError("Der Plan wird gerade ausgeführt; bitte die Seite später neu laden.")
        if case.state == FulfilmentState.REVIEW.value:
            problem = approve(session, case, actor=ctx.actor, now=ctx.now)
            if problem:
                raise RefusedError(problem)
        elif case.state != FulfilmentState.APPROVED.value:
            raise RefusedError(approval_problem(session, case) or "Noch nicht prüfbar.")
        changes: dict[tuple[str, str], dict[str, str]] = {}
        for name in ctx.form:
            if name.startswith("set:"):
                _, system_key, category_key, column = name.split(":", 3)
                if ctx.field(name):
                    changes.setdefault((system_key, category_key), {})[column] = ctx.field(name)
        plan = _plan(session, case, datamap, ticket, ctx, changes)
        if not plan:
            raise RefusedError("Der Plan ist leer: es wurde nichts gefunden, das zu ändern wäre.")
        manual_done = {(v.split(":", 1)[0], v.split(":", 1)[1])
                       for v in ctx.fields("manual_done") if ":" in v}
        run_key = begin(session, case, plan, manual_done=manual_done, approver=ctx.actor, now=ctx.now)
        return run_key, datamap, profile

    prepared = _on_ticket(ctx, prepare)
    if isinstance(prepared, Response):
        return prepared
    run_key, datamap, profile = prepared
    target = _target(ctx)
    run(ctx.services.sessions, run_key, datamap, os.environ, clock=lambda: ctx.now)
    with ctx.services.sessions.begin() as session:
        outcome = finish(session, run_key, profile=profile, datamap=datamap, now=ctx.now)
    failed = outcome.get("failed") if outcome is not None else None
    if isinstance(failed, list) and failed:
        return ctx.redirect(target, f"Plan ausgeführt, aber {len(failed)} Schritt(e) fehlgeschlagen; siehe "
                                    "unten.", "error")
    return ctx.redirect(target, "Plan ausgeführt; Nachweis gespeichert.")


@open_only
def upload_action(ctx: Ctx) -> Response:
    """The reply editor's attachment: a file the DPO made, delivered by link and one-time code."""
    ticket_id = ctx.path_int("ticket_id")
    target = f"/tickets/{ticket_id}"
    with ctx.services.sessions() as session:
        if scoped_ticket(session, ctx.scope, ticket_id=ticket_id) is None:
            return ctx.not_found()
    upload = ctx.form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return ctx.redirect(target, "Bitte eine Datei auswählen.", "error")
    config = delivery_config(ctx.services.settings)
    if config is None:
        return ctx.redirect(target, "DSR_PACKAGE_KEY ist nicht gesetzt: Dateien können nicht verschlüsselt "
                                    "abgelegt werden.", "error")
    if ctx.field("delivery") == "attachment":
        return _attach_upload(ctx, ticket_id, upload, config.key)
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ticket_id)
        if ticket is None:
            return ctx.not_found()
        profile = ctx.services.profiles.get(ticket.controller)
        if profile is None or not is_verified(ticket) or not ticket.reply_to:
            return ctx.redirect(target, "Dateien nur an eine bestätigte Person mit bestätigtem Kontakt.",
                                "error")
        stored = store_upload(session, ticket, filename=upload.filename, source=upload.file,
                              config=config, actor=ctx.actor, now=ctx.now)
        if isinstance(stored, str):
            session.rollback()
            return ctx.redirect(target, stored, "error")
        url = package_url(config.base_url, stored.token)
        subject, text = link_message(lang=ticket.language, du=profile.address_form == "Du",
                                     reference=ticket.reference, url=url,
                                     expires_at=stored.package.expires_at, max_uses=stored.package.max_uses,
                                     file_name=stored.package.download_name)
        sent = send_to_subject(session, ticket, profile, kind="file_link", subject=subject, text=text,
                               now=ctx.now)
        if isinstance(sent, SendProblem):
            session.rollback()
            return ctx.redirect(target, sent.message, "error")
    return ctx.redirect(target, "Datei verschlüsselt abgelegt; der Download-Link ist an den bestätigten "
                                "Kontakt unterwegs.")


def _attach_upload(ctx: Ctx, ticket_id: int, upload: UploadFile, key: bytes) -> Response:
    """The DPO's file attached to a message itself: a mail attachment, or a document in the chat.

    Checked like an upload (type by extension and content, text UTF-8), at most
    `MAX_ATTACHMENT_BYTES`; sent only to the ticket's verified contact through the one door.  The
    queued item is sealed with the package key before the transaction commits (`dsr.store.sealed`)
    and its payload dropped once delivered.
    """
    target = f"/tickets/{ticket_id}"
    attachment = read_attachment(upload.filename or "", upload.file)
    if isinstance(attachment, str):
        return ctx.redirect(target, attachment, "error")
    with ctx.services.sessions.begin() as session:
        ticket = scoped_ticket(session, ctx.scope, ticket_id=ticket_id)
        if ticket is None:
            return ctx.not_found()
        profile = ctx.services.profiles.get(ticket.controller)
        if profile is None or not is_verified(ticket) or not ticket.reply_to:
            return ctx.redirect(target, "Dateien nur an eine bestätigte Person mit bestätigtem Kontakt.",
                                "error")
        subject, text = attachment_message(lang=ticket.language, du=profile.address_form == "Du",
                                           reference=ticket.reference, file_name=attachment.filename,
                                           note=ctx.field("note"))
        sent = send_to_subject(session, ticket, profile, kind="file_attachment", subject=subject, text=text,
                               now=ctx.now, attachment=attachment)
        if isinstance(sent, SendProblem):
            session.rollback()
            return ctx.redirect(target, sent.message, "error")
        seal_item(session, sent, key)
        audit(session, actor=ctx.actor, action="fulfilment.file_attached", now=ctx.now, ticket_id=ticket.id,
              detail={"outbox_id": sent, "type": attachment.media_type, "size": len(attachment.data),
                      "sha256": hashlib.sha256(attachment.data).hexdigest(), "channel": ticket.channel})
        where = "als Dokument in den Chat" if ticket.channel == "telegram" else "als Anhang per E-Mail"
    return ctx.redirect(target, f"Datei {where} an den bestätigten Kontakt im Postausgang.")
