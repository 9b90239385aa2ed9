"""Discovery -> review -> package -> download, and erasure -> proof, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import ControllerProfile
from dsr.datamap import DataMap
from dsr.fulfilment.connectors import open_connector
from dsr.fulfilment.delivery import (
    DeliveryConfig,
    create_package,
    expire_packages,
    find_package,
    issue_code,
    redeem_code,
    stream_package,
)
from dsr.fulfilment.execute import outcome_facts, record_execution, run_plan
from dsr.fulfilment.holds import erase_due_holds
from dsr.fulfilment.letter import letter_context
from dsr.fulfilment.plan import PlanAction, build_plan
from dsr.fulfilment.review import (
    approval_problem,
    approve,
    case_for,
    confirm_manual,
    exclude,
    results_of,
    sources,
)
from dsr.intents.rights import Right
from dsr.service.fulfilment_worker import FulfilmentWorker
from dsr.store.models import (
    AuditEvent,
    DiscoveryResult,
    ErasureProof,
    FulfilmentState,
    OutboxItem,
    RetentionHold,
    Suppression,
    Ticket,
)
from dsr.store.suppression import suppress
from tests.support.fulfilment import NOW, Tickets

ERIKA = "erika.mustermann@example.org"
MAX = "max.beispiel@example.net"


def _worker(sessions: sessionmaker[Session], kmb2_map: DataMap, env: dict[str, str],
            delivery: DeliveryConfig | None = None) -> FulfilmentWorker:
    return FulfilmentWorker(sessions=sessions, datamaps={"kmb2": kmb2_map}, clock=lambda: NOW,
                            delivery=delivery, env=env)


def _confirm_paper(sessions: sessionmaker[Session], ticket_id: int, *, found: bool = False) -> None:
    with sessions.begin() as session:
        case = case_for(session, ticket_id)
        assert case is not None
        note = "1 Auftragsmappe 2023" if found else ""
        assert confirm_manual(session, case, system="paper", found=found, note=note, actor="console:dana",
                              now=NOW) is None


def test_discovery_finds_exactly_the_persons_rows(sessions: sessionmaker[Session], tickets: Tickets,
                                                   kmb2_map: DataMap, env: dict[str, str]) -> None:
    ticket_id = tickets.verified(ERIKA, (Right.ACCESS,))
    report = _worker(sessions, kmb2_map, env).tick()
    assert (report.opened, report.searched, report.failed) == (1, 1, 0)
    with sessions() as session:
        case = case_for(session, ticket_id)
        assert case is not None and case.state == FulfilmentState.REVIEW.value
        # The paper archive still waits for the DPO: no approval before that.
        assert approval_problem(session, case) == "System „paper“ muss von Hand geprüft und bestätigt werden."
        by_system = {r.system: r for r in results_of(session, case)}
    assert by_system["crm"].state == "found"
    # Erika is customer 1: orders 1 and 2, invoices 1 and 2, appointments 1 and 2; never Erika Musterfrau (4).
    assert by_system["crm"].found == {"customers": [1], "orders": [1, 2], "invoices": [1, 2],
                                      "appointments": [1, 2]}
    assert by_system["paper"].state == "manual"
    _confirm_paper(sessions, ticket_id)
    with sessions() as session:
        case = case_for(session, ticket_id)
        assert case is not None and approval_problem(session, case) is None
    # A second round does not search again.
    assert _worker(sessions, kmb2_map, env).tick().searched == 0


def test_failed_system_is_retried_and_never_stops_the_others(
        sessions: sessionmaker[Session], tickets: Tickets, kmb2_map: DataMap, env: dict[str, str],
        crm_url: str) -> None:
    ticket_id = tickets.verified(MAX, (Right.ERASURE,))
    report = _worker(sessions, kmb2_map, {}).tick()  # the CRM's URL is missing
    assert (report.searched, report.failed) == (1, 1)
    with sessions() as session:
        result = session.scalar(select(DiscoveryResult).where(DiscoveryResult.system == "crm"))
        assert result is not None and result.state == "failed"
        assert result.error == ('system "crm" (Auftrags- und Abrechnungssystem (CRM)): environment variable '
                                "DSR_CRM_KMB2_URL is not set")
        assert result.next_attempt_at > NOW
        paper = session.scalar(select(DiscoveryResult).where(DiscoveryResult.system == "paper"))
        assert paper is not None and paper.state == "manual"  # the other system went on
    # Not due yet: the same instant does not retry.
    assert _worker(sessions, kmb2_map, env).tick().searched == 0
    later = FulfilmentWorker(sessions=sessions, datamaps={"kmb2": kmb2_map}, delivery=None, env=env,
                             clock=lambda: NOW + timedelta(minutes=2))
    assert later.tick().searched == 1
    with sessions() as session:
        result = session.scalar(select(DiscoveryResult).where(DiscoveryResult.system == "crm"))
        assert result is not None and (result.state, result.attempts) == ("found", 2)
    assert ticket_id


def test_access_package_download_with_code(sessions: sessionmaker[Session], tickets: Tickets,
                                           kmb2_map: DataMap, env: dict[str, str], kmb2: ControllerProfile,
                                           delivery: DeliveryConfig) -> None:
    ticket_id = tickets.verified(ERIKA, (Right.ACCESS,))
    _worker(sessions, kmb2_map, env).tick()
    _confirm_paper(sessions, ticket_id)
    with sessions.begin() as session:
        case = case_for(session, ticket_id)
        assert case is not None
        assert exclude(session, case, system="crm", category="appointments", item_key="2",
                       reason="Notiz enthält Daten eines Nachbarn", actor="console:dana", now=NOW) is None
        assert approve(session, case, actor="console:dana", now=NOW) is None
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        package, token = create_package(session, ticket, case, profile=kmb2, datamap=kmb2_map, env=env,
                                        config=delivery, actor="console:dana", now=NOW)
        assert package.expires_at == NOW + timedelta(days=14)
    # At rest the file is encrypted: none of the person's data is readable in it.
    stored = next(delivery.directory.glob("*.zip.enc")).read_bytes()
    assert b"Mustermann" not in stored and b"K-10001" not in stored
    with sessions.begin() as session:
        package = find_package(session, token)
        assert package is not None
        first = redeem_code(session, package, "000000", now=NOW)
        assert first == "Bitte fordern Sie zuerst einen neuen Code an."
        code = issue_code(session, package, now=NOW)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        assert redeem_code(session, package, wrong, now=NOW) == "Der Code stimmt nicht."
        assert redeem_code(session, package, code, now=NOW) is None
        assert redeem_code(session, package, code, now=NOW) == "Bitte fordern Sie zuerst einen neuen Code an."
        plain = b"".join(stream_package(delivery, package))
    archive = zipfile.ZipFile(io.BytesIO(plain))
    names = set(archive.namelist())
    assert {"data/crm/customers.json", "data/crm/customers.csv", "data/crm/orders.json",
            "data/crm/invoices.csv", "data/crm/appointments.json", "Kopie_Ihrer_Daten.html",
            "manifest.json", "manifest.sha256"} <= names
    manifest = json.loads(archive.read("manifest.json"))
    import hashlib
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
    customers = json.loads(archive.read("data/crm/customers.json"))
    assert [r["customer_number"] for r in customers["records"]] == ["K-10001"]
    appointments = json.loads(archive.read("data/crm/appointments.json"))["records"]
    assert len(appointments) == 1  # the excluded one is not in the copy
    everything = b"".join(archive.read(n) for n in names).decode()
    for stranger in ("Musterfrau", "K-10003", "Moritz Anders", "Max Beispiel"):
        assert stranger not in everything
    html = archive.read("Kopie_Ihrer_Daten.html").decode()
    assert "Erika Mustermann" in html and "Rechnungen" in html
    assert "Der Landesbeauftragte für den Datenschutz Niedersachsen" in html  # Art. 15(1)(f)
    assert "§ 14b UStG" in html  # storage period of the invoices, Art. 15(1)(d)
    assert "Art. 15 Abs. 4" in html  # why records are missing
    # Per person (brief gap 2): the customer's relationship, not the website visitor's purposes.
    assert "Ihre Beziehungen zu uns" in html and "Kunde, Lieferant oder Partner von kmb2" in html
    assert "Besuch der Website" not in html
    with sessions() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.ticket_id == ticket_id)))
    assert {"fulfilment.package_built", "fulfilment.download_code_sent", "fulfilment.download_code_wrong",
            "fulfilment.downloaded", "fulfilment.item_excluded", "fulfilment.approved"} <= set(actions)


def test_reused_and_expired_links_are_refused_and_files_deleted(
        sessions: sessionmaker[Session], tickets: Tickets, kmb2_map: DataMap, env: dict[str, str],
        kmb2: ControllerProfile, delivery: DeliveryConfig) -> None:
    ticket_id = tickets.verified(ERIKA, (Right.PORTABILITY,))
    _worker(sessions, kmb2_map, env).tick()
    _confirm_paper(sessions, ticket_id)
    with sessions.begin() as session:
        case = case_for(session, ticket_id)
        ticket = session.get(Ticket, ticket_id)
        assert case is not None and ticket is not None
        approve(session, case, actor="console:dana", now=NOW)
        _, token = create_package(session, ticket, case, profile=kmb2, datamap=kmb2_map, env=env,
                                  config=delivery, actor="console:dana", now=NOW)
        _, expiring = create_package(session, ticket, case, profile=kmb2, datamap=kmb2_map, env=env,
                                     config=delivery, actor="console:dana", now=NOW)
    with sessions.begin() as session:
        package = find_package(session, token)
        assert package is not None
        for _ in range(delivery.max_uses):
            assert redeem_code(session, package, issue_code(session, package, now=NOW), now=NOW) is None
        code = issue_code(session, package, now=NOW)
        assert redeem_code(session, package, code, now=NOW) == (
            "Dieser Link wurde bereits so oft verwendet, wie erlaubt. Bitte wenden Sie sich an uns.")
        old = find_package(session, expiring)
        assert old is not None
        later = NOW + timedelta(days=14)
        code = issue_code(session, old, now=later - timedelta(minutes=1))
        assert redeem_code(session, old, code, now=later).startswith("Dieser Link ist abgelaufen")
        assert expire_packages(session, delivery, now=later) == 2
    assert list(delivery.directory.glob("*.zip.enc")) == []
    with sessions() as session:
        refused = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "fulfilment.download_refused"))
        assert refused == 2


def test_erasure_plan_execution_proof_holds_and_art19(
        sessions: sessionmaker[Session], tickets: Tickets, kmb2_map: DataMap, env: dict[str, str],
        kmb2: ControllerProfile, crm: Engine) -> None:
    ticket_id = tickets.verified(MAX, (Right.ERASURE,))
    with sessions.begin() as session:
        suppress(session, controller="kmb2", address=MAX, now=NOW)
    _worker(sessions, kmb2_map, env).tick()
    _confirm_paper(sessions, ticket_id, found=True)
    with sessions.begin() as session:
        case = case_for(session, ticket_id)
        ticket = session.get(Ticket, ticket_id)
        assert case is not None and ticket is not None
        assert approve(session, case, actor="console:dana", now=NOW) is None
        chosen = sources(session, case, kmb2_map)
        connector = open_connector(kmb2_map.system("crm"), env)
        plan = build_plan(kmb2_map, chosen, {Right.ERASURE}, connectors={"crm": connector}, today=NOW.date())
        connector.close()
        summary = [(i.system.key, i.category.key, i.action, i.rows, i.until) for i in plan]
        # Max (customer 2): order 3, invoice 3 of 2024-11-12, appointment 3; the paper folder by hand.
        assert summary == [
            ("crm", "customers", PlanAction.ERASE, 1, None),
            ("crm", "orders", PlanAction.ERASE, 1, None),
            ("crm", "invoices", PlanAction.RETAIN, 1, date(2032, 12, 31)),
            ("crm", "appointments", PlanAction.ERASE, 1, None),
            ("paper", "folders", PlanAction.MANUAL, 1, None),
        ]
        runs = run_plan(plan, env)
        outcome = record_execution(session, case, ticket, profile=kmb2, datamap=kmb2_map, plan=plan,
                                   runs=runs, manual_done={("paper", "folders")}, approver="console:dana",
                                   now=NOW)
        assert outcome["failed"] == []
    with crm.connect() as conn:
        assert conn.execute(text("select count(*) from customers where id = 2")).scalar_one() == 0
        assert conn.execute(text("select count(*) from orders where customer_id = 2")).scalar_one() == 0
        assert conn.execute(text("select count(*) from appointments where id = 3")).scalar_one() == 0
        assert conn.execute(text("select restricted from invoices where id = 3")).scalar_one() in (True, 1)
        # Everybody else is untouched.
        assert conn.execute(text("select count(*) from customers")).scalar_one() == 4
        assert conn.execute(text("select count(*) from invoices where restricted = :t"),
                            {"t": True}).scalar_one() == 1
    with sessions() as session:
        proofs = list(session.scalars(select(ErasureProof).order_by(ErasureProof.id)))
        assert [(p.system, p.category, p.action, p.rows, p.retained_until) for p in proofs] == [
            ("crm", "customers", "erase", 1, None), ("crm", "orders", "erase", 1, None),
            ("crm", "invoices", "retain", 1, date(2032, 12, 31)), ("crm", "appointments", "erase", 1, None),
            ("paper", "folders", "manual", 1, None)]
        for proof in proofs:  # no personal data in the proof
            assert "Beispiel" not in proof.statement and MAX not in proof.statement
        assert {p.approved_by for p in proofs} == {"console:dana"}
        holds = list(session.scalars(select(RetentionHold)))
        assert [(h.item_key, h.until, h.state) for h in holds] == [("3", date(2032, 12, 31), "held")]
        notices = list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "art19_notice")))
        assert [n.recipient for n in notices] == ["auftraege@handwerkspartner.example.com"]
        notice = message_from_bytes(notices[0].payload, policy=policy.default)
        body = notice.get_body(preferencelist=("plain",))
        assert body is not None and "Kundennummer K-10002" in body.get_content()  # whose data
        assert "Mitteilung nach Art. 19 DSGVO" in str(notice["Subject"])
        # The marketing suppression entry survives erasure.
        assert session.scalar(select(func.count()).select_from(Suppression)) == 1
        context = letter_context(session, ticket_id)
        facts = outcome_facts(case_for(session, ticket_id))
        assert facts is not None and facts.complete
    assert context["erased"] == ("Stammdaten (Name, Anschrift, Kontakt)", "Aufträge", "Termine",
                                 "Auftragsmappen in Papierform")
    retained = context["retained"]
    assert isinstance(retained, tuple) and [(r.category, r.until) for r in retained] == [
        ("Rechnungen", date(2032, 12, 31))]
    assert context["notified_recipients"] == ("Handwerkspartner (Subunternehmer) der beauftragten Gewerke",)

    # Before the end date nothing happens; after it the scheduler erases the invoice and records it.
    with sessions.begin() as session:
        assert erase_due_holds(session, {"kmb2": kmb2_map}, env, today=date(2032, 12, 31), now=NOW) == 0
    with sessions.begin() as session:
        assert erase_due_holds(session, {"kmb2": kmb2_map}, env, today=date(2033, 1, 1), now=NOW) == 1
    with crm.connect() as conn:
        assert conn.execute(text("select count(*) from invoices where id = 3")).scalar_one() == 0
        assert conn.execute(text("select count(*) from invoices")).scalar_one() == 4
    with sessions() as session:
        last = session.scalars(select(ErasureProof).order_by(ErasureProof.id.desc())).first()
        assert last is not None and (last.category, last.action, last.rows, last.approved_by) == (
            "invoices", "erase", 1, "system:retention")
        hold = session.scalars(select(RetentionHold)).one()
        assert hold.state == "erased"


def test_restriction_marks_rows_and_rectification_updates_fields(
        sessions: sessionmaker[Session], tickets: Tickets, kmb2_map: DataMap, env: dict[str, str],
        kmb2: ControllerProfile, crm: Engine) -> None:
    ticket_id = tickets.verified(ERIKA, (Right.RESTRICTION, Right.RECTIFICATION))
    _worker(sessions, kmb2_map, env).tick()
    _confirm_paper(sessions, ticket_id)
    with sessions.begin() as session:
        case = case_for(session, ticket_id)
        ticket = session.get(Ticket, ticket_id)
        assert case is not None and ticket is not None
        approve(session, case, actor="console:dana", now=NOW)
        connector = open_connector(kmb2_map.system("crm"), env)
        plan = build_plan(kmb2_map, sources(session, case, kmb2_map),
                          {Right.RESTRICTION, Right.RECTIFICATION},
                          connectors={"crm": connector}, today=NOW.date(),
                          changes={("crm", "customers"): {"street": "Neuer Weg 5", "customer_number": "X"}})
        connector.close()
        assert [(i.category.key, i.action, dict(i.values)) for i in plan][:2] == [
            ("customers", PlanAction.UPDATE, {"street": "Neuer Weg 5"}),  # not rectifiable: customer_number
            ("customers", PlanAction.RESTRICT, {})]
        record_execution(session, case, ticket, profile=kmb2, datamap=kmb2_map, plan=plan,
                         runs=run_plan(plan, env), manual_done=set(), approver="console:dana", now=NOW)
    with crm.connect() as conn:
        row = conn.execute(text("select street, customer_number, restricted from customers where id = 1")
                           ).one()
        assert (row[0], row[1], bool(row[2])) == ("Neuer Weg 5", "K-10001", True)
        restricted = text("select count(*) from orders where restricted = :t")
        assert conn.execute(restricted, {"t": True}).scalar_one() == 2
        assert not conn.execute(text("select restricted from customers where id = 4")).scalar_one()
    with sessions() as session:
        context = letter_context(session, ticket_id)
    assert context["changes"] == ("Stammdaten (Name, Anschrift, Kontakt): street",)
    assert "Stammdaten (Name, Anschrift, Kontakt)" in context["restricted"]  # type: ignore[operator]


@pytest.mark.parametrize("hostile", ["x' OR '1'='1", "%", "erika.mustermann@example.org' --"])
def test_identifiers_are_bound_never_spliced(kmb2_map: DataMap, env: dict[str, str], hostile: str) -> None:
    from dsr.datamap import Person
    from dsr.fulfilment.discovery import search_system

    found = search_system(kmb2_map.system("crm"), Person(emails=(hostile,), customer_number=hostile), env)
    assert all(keys == [] for keys in found.values())
