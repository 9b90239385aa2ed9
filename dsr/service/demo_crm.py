"""Demo CRM systems of the two reference controllers, with the demo subjects (`dsr.service.demo`) in them.

`make run` creates them on SQLite (the URLs in DSR_CRM_KMB2_URL / DSR_CRM_KOMSA_URL, set by the
Makefile); the tests create them on PostgreSQL too.  Their data maps are the built-in
`dsr/controllers/profiles/<controller>.datamap.toml`.  Everyone here is fictitious (RFC 2606
domains); a few people who are *not* demo subjects sit beside them, so a copy that contained
their rows would be visibly wrong.

- kmb2 (craft-business billing): end customers, orders, invoices (kept 8 years, § 147 AO,
  § 14b UStG), appointments.
- KOMSA (distribution partners): partner applications, credit checks, scoring results,
  training accounts, newsletter subscriptions.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
)

log = logging.getLogger(__name__)

CRM_URL_ENV = {"kmb2": "DSR_CRM_KMB2_URL", "komsa": "DSR_CRM_KOMSA_URL"}

kmb2_metadata = MetaData()
customers = Table(
    "customers", kmb2_metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_number", String(20), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320)),
    Column("phone", String(64)),
    Column("street", String(200)),
    Column("postal_code", String(10)),
    Column("city", String(100)),
    Column("created_on", Date, nullable=False),
    Column("restricted", Boolean, nullable=False, default=False),
    Index("ix_customers_email_lower", func.lower(Column("email", String(320)))),
)
orders = Table(
    "orders", kmb2_metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), index=True),
    Column("ordered_on", Date, nullable=False),
    Column("trade", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("site_address", String(300)),
    Column("restricted", Boolean, nullable=False, default=False),
)
invoices = Table(
    "invoices", kmb2_metadata,
    Column("id", Integer, primary_key=True),
    # The invoice stays when the customer record is erased (retention), so no cascade.
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True),
    Column("invoice_number", String(20), nullable=False, unique=True),
    Column("invoice_date", Date, nullable=False),
    Column("billing_name", String(200), nullable=False),
    Column("billing_address", String(300), nullable=False),
    Column("amount_eur", Numeric(10, 2), nullable=False),
    Column("restricted", Boolean, nullable=False, default=False),
)
appointments = Table(
    "appointments", kmb2_metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), index=True),
    Column("starts_at", DateTime, nullable=False),
    Column("site_address", String(300)),
    Column("note", Text),
    Column("restricted", Boolean, nullable=False, default=False),
)

komsa_metadata = MetaData()
applications = Table(
    "partner_applications", komsa_metadata,
    Column("id", Integer, primary_key=True),
    Column("partner_number", String(20), nullable=False, unique=True),
    Column("company", String(200), nullable=False),
    Column("contact_name", String(200), nullable=False),
    Column("email", String(320)),
    Column("phone", String(64)),
    Column("postal_code", String(10)),
    Column("applied_on", Date, nullable=False),
    Column("status", String(40), nullable=False),
    Column("restricted", Boolean, nullable=False, default=False),
    Index("ix_applications_email_lower", func.lower(Column("email", String(320)))),
)
credit_checks = Table(
    "credit_checks", komsa_metadata,
    Column("id", Integer, primary_key=True),
    Column("application_id", Integer, ForeignKey("partner_applications.id", ondelete="CASCADE"), index=True),
    Column("checked_on", Date, nullable=False),
    Column("agency", String(100), nullable=False),
    Column("result", String(100), nullable=False),
    Column("restricted", Boolean, nullable=False, default=False),
)
scoring_results = Table(
    "scoring_results", komsa_metadata,
    Column("id", Integer, primary_key=True),
    Column("application_id", Integer, ForeignKey("partner_applications.id", ondelete="CASCADE"), index=True),
    Column("scored_on", Date, nullable=False),
    Column("score", Integer, nullable=False),
    Column("decision", String(100), nullable=False),
    Column("factors", Text, nullable=False),
    Column("restricted", Boolean, nullable=False, default=False),
)
training_accounts = Table(
    "training_accounts", komsa_metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("created_on", Date, nullable=False),
    Column("courses_completed", Integer, nullable=False, default=0),
    Column("restricted", Boolean, nullable=False, default=False),
    Index("ix_training_email_lower", func.lower(Column("email", String(320)))),
)
newsletter = Table(
    "newsletter_subscriptions", komsa_metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False),
    Column("subscribed_on", Date, nullable=False),
    Column("double_opt_in_on", Date),
    Column("topics", String(200), nullable=False),
    Column("restricted", Boolean, nullable=False, default=False),
    Index("ix_newsletter_email_lower", func.lower(Column("email", String(320)))),
)


def _kmb2_rows() -> dict[Table, list[dict[str, object]]]:
    people = [
        # (id, number, name, email, phone, street, postal code, city)
        (1, "K-10001", "Erika Mustermann", "erika.mustermann@example.org", "+49 531 0000001",
         "Musterweg 1", "38100", "Braunschweig"),
        (2, "K-10002", "Max Beispiel", "max.beispiel@example.net", None, "Beispielstraße 7", "38106",
         "Braunschweig"),
        (3, "A-55102", "Jürgen Mößner", "juergen.moessner@example.com", None, "Am Ring 3", "38114",
         "Braunschweig"),
        # Not demo subjects: same town, similar names; they must never appear in a demo copy.
        (4, "K-10003", "Erika Musterfrau", "erika.musterfrau@example.org", "+49 531 0000009",
         "Musterweg 2", "38100", "Braunschweig"),
        (5, "K-10004", "Moritz Anders", "moritz.anders@example.com", None, "Ostende 12", "38102",
         "Braunschweig"),
    ]
    rows: dict[Table, list[dict[str, object]]] = {customers: [], orders: [], invoices: [], appointments: []}
    for pid, number, name, mail, phone, street, plz, city in people:
        rows[customers].append({"id": pid, "customer_number": number, "name": name, "email": mail,
                                "phone": phone, "street": street, "postal_code": plz, "city": city,
                                "created_on": date(2022, 3, pid), "restricted": False})
    address = {p[0]: f"{p[5]}, {p[6]} {p[7]}" for p in people}
    name_of = {p[0]: p[2] for p in people}
    work = [(1, date(2023, 5, 4), "Sanitär", "Austausch Warmwasserspeicher"),
            (1, date(2025, 9, 15), "Elektro", "Prüfung der Hausinstallation (E-Check)"),
            (2, date(2024, 11, 2), "Heizung", "Wartung Gasbrennwertkessel"),
            (3, date(2025, 2, 20), "Dach", "Reparatur Dachrinne"),
            (4, date(2024, 6, 1), "Sanitär", "Neue Armaturen Bad"),
            (5, date(2025, 1, 9), "Elektro", "Wallbox-Installation")]
    for oid, (pid, day, trade, text) in enumerate(work, start=1):
        rows[orders].append({"id": oid, "customer_id": pid, "ordered_on": day, "trade": trade,
                             "description": text, "site_address": address[pid], "restricted": False})
        if pid != 3:  # Jürgen's order is not billed yet
            rows[invoices].append({"id": oid, "customer_id": pid,
                                   "invoice_number": f"RE-{day.year}-{oid:04d}",
                                   "invoice_date": day.replace(day=min(day.day + 10, 28)),
                                   "billing_name": name_of[pid], "billing_address": address[pid],
                                   "amount_eur": 180 + 95 * oid, "restricted": False})
        rows[appointments].append({"id": oid, "customer_id": pid,
                                   "starts_at": datetime(day.year, day.month, day.day, 8 + oid, 0),
                                   "site_address": address[pid], "note": f"Termin {trade}",
                                   "restricted": False})
    return rows


def _komsa_rows() -> dict[Table, list[dict[str, object]]]:
    people = [
        (1, "2004518", "Riedel Mobilfunk e. K.", "Thomas Riedel", "thomas.riedel@example.org",
         "+49 375 0000002", "08056"),
        (2, "2011734", "Probe Kommunikation GmbH", "Sabine Probe", "sabine.probe@example.net", None, "09111"),
        (3, "2019999", "Anders Telekom UG", "Tobias Riedl", "tobias.riedl@example.com", None, "08056"),
    ]
    rows: dict[Table, list[dict[str, object]]] = {
        applications: [], credit_checks: [], scoring_results: [], training_accounts: [], newsletter: []}
    for pid, number, company, name, mail, phone, plz in people:
        rows[applications].append({"id": pid, "partner_number": number, "company": company,
                                   "contact_name": name, "email": mail, "phone": phone, "postal_code": plz,
                                   "applied_on": date(2024, pid, 10), "status": "angenommen",
                                   "restricted": False})
        rows[credit_checks].append({"id": pid, "application_id": pid, "checked_on": date(2024, pid, 12),
                                    "agency": "CRIF Bürgel", "result": "Bonität ausreichend",
                                    "restricted": False})
        rows[scoring_results].append({"id": pid, "application_id": pid, "scored_on": date(2024, pid, 13),
                                      "score": 600 + 40 * pid, "decision": "Händlerkonditionen Stufe B",
                                      "factors": "Bonitätsauskunft; Branchenerfahrung; Umsatzplanung",
                                      "restricted": False})
        rows[training_accounts].append({"id": pid, "login": f"partner{number}", "name": name, "email": mail,
                                        "created_on": date(2024, pid, 20), "courses_completed": pid,
                                        "restricted": False})
        rows[newsletter].append({"id": pid, "email": mail, "subscribed_on": date(2024, pid, 21),
                                 "double_opt_in_on": date(2024, pid, 21), "topics": "Händler-News",
                                 "restricted": False})
    return rows


DEMO_CRMS = {"kmb2": (kmb2_metadata, _kmb2_rows), "komsa": (komsa_metadata, _komsa_rows)}


def create_demo_crm(engine: Engine, controller: str) -> int:
    """Create the demo CRM tables of `controller` and fill them when empty; return rows added."""
    metadata, rows_of = DEMO_CRMS[controller]
    metadata.create_all(engine)
    first = next(iter(metadata.sorted_tables))
    added = 0
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(first)).scalar_one():
            return 0
        for table, rows in rows_of().items():
            if rows:
                conn.execute(insert(table), rows)
                added += len(rows)
    return added


def load_demo_crms(controllers: list[str], env: dict[str, str]) -> None:
    """`make run`: create the demo CRM of every configured reference controller whose URL is set."""
    for controller in controllers:
        url = env.get(CRM_URL_ENV.get(controller, ""), "")
        if controller not in DEMO_CRMS or not url:
            continue
        engine = create_engine(url)
        try:
            added = create_demo_crm(engine, controller)
        finally:
            engine.dispose()
        log.info("demo CRM %s: %d rows added", controller, added)
