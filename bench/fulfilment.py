"""Fulfilment: discovery over a demo CRM of 1,000,000 customers on PostgreSQL, and the package build.

Targets (issue 16): discovery for one person across all systems of the map in under 2 s; the
package (HTML copy, JSON and CSV per category, manifest, ZIP, encrypted at rest) for a person with
10,000 records in under 5 s; memory flat (the peak of Python allocations while building the
package grows far less than the number of records).

The CRM is the kmb2 demo schema (`dsr.service.demo_crm`) filled by `generate_series`: 1,000,000
customers with one order, one invoice and one appointment each, and one customer with 10,000
orders.  Indexed as the map's README recommends: lower(email), customer_number, and the children's
customer_id.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from dsr.controllers import ControllerProfile, load_profile
from dsr.datamap import DataMap, Person, load_datamap_for
from dsr.fulfilment.connectors import Connector, open_connector
from dsr.fulfilment.discovery import search_system
from dsr.fulfilment.package import Source, build_package
from dsr.fulfilment.vault import EncryptingWriter, new_key, parse_key
from dsr.service.demo_crm import kmb2_metadata

PG_ADMIN = os.environ.get("DSR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CUSTOMERS = int(os.environ.get("BENCH_FULFIL_CUSTOMERS", "1000000"))
HEAVY = CUSTOMERS // 2  # the customer with many records
HEAVY_ORDERS = 10_000
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

FILL = [
    """INSERT INTO customers (id, customer_number, name, email, phone, street, postal_code, city, created_on,
                              restricted)
       SELECT g, 'K-' || (1000000 + g), 'Person ' || g, 'person' || g || '@example.com', '+49 531 ' || g,
              'Straße ' || (g % 500), lpad((10000 + g % 89999)::text, 5, '0'), 'Braunschweig',
              DATE '2020-01-01' + (g % 2000), false
       FROM generate_series(1, :n) AS g""",
    """INSERT INTO orders (id, customer_id, ordered_on, trade, description, site_address, restricted)
       SELECT g, g, DATE '2021-01-01' + (g % 1500), 'Sanitär', 'Auftrag ' || g, 'Straße ' || (g % 500), false
       FROM generate_series(1, :n) AS g""",
    """INSERT INTO invoices (id, customer_id, invoice_number, invoice_date, billing_name, billing_address,
                             amount_eur, restricted)
       SELECT g, g, 'RE-' || g, DATE '2021-02-01' + (g % 1500), 'Person ' || g, 'Straße ' || (g % 500),
              100 + g % 900, false
       FROM generate_series(1, :n) AS g""",
    """INSERT INTO appointments (id, customer_id, starts_at, site_address, note, restricted)
       SELECT g, g, TIMESTAMP '2022-01-01 08:00' + (g % 1000) * INTERVAL '1 day', 'Straße ' || (g % 500),
              'Termin', false
       FROM generate_series(1, :n) AS g""",
    """INSERT INTO orders (id, customer_id, ordered_on, trade, description, site_address, restricted)
       SELECT :n + g, :heavy, DATE '2021-01-01' + (g % 1500), 'Elektro', 'Wartungsauftrag Nr. ' || g,
              'Großbaustelle Süd, Halle ' || (g % 40), false
       FROM generate_series(1, :orders) AS g""",
]


def _database() -> tuple[str, str]:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"dsr_bench_crm_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def _drop(name: str) -> None:
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _package(sources: list[Source], connector: Connector, datamap: DataMap,
             profile: ControllerProfile) -> tuple[float, int, int]:
    key = parse_key(new_key())
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "package.zip.enc"
        tracemalloc.start()
        began = time.perf_counter()
        with target.open("wb") as handle:
            writer = EncryptingWriter(handle, key)
            built = build_package(writer, reference="DSR-2026-000001", profile=profile, datamap=datamap,
                                  sources=sources, connectors={"crm": connector}, language="de", now=NOW)
            writer.close()
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return elapsed, peak, built.records


def main() -> None:
    datamap = load_datamap_for("kmb2")
    assert datamap is not None
    profile = load_profile("kmb2")
    name, url = _database()
    try:
        engine = create_engine(url)
        kmb2_metadata.create_all(engine)
        began = time.perf_counter()
        with engine.begin() as conn:
            for statement in FILL:
                conn.execute(text(statement), {"n": CUSTOMERS, "heavy": HEAVY, "orders": HEAVY_ORDERS})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        print(f"   demo CRM: {CUSTOMERS:,} customers, {4 * CUSTOMERS + HEAVY_ORDERS:,} rows "
              f"(filled in {time.perf_counter() - began:.0f} s)")
        env = {"DSR_CRM_KMB2_URL": url}
        timings = []
        for number in sorted({CUSTOMERS // 8, CUSTOMERS // 3, CUSTOMERS - 1, 42, CUSTOMERS * 7 // 9}):
            person = Person(emails=(f"PERSON{number}@example.com",),
                            customer_number=f"K-{1_000_000 + number}")
            started = time.perf_counter()
            found = {}
            for system in datamap.systems:
                found.update(search_system(system, person, env))
            timings.append(time.perf_counter() - started)
            assert found["customers"] == [number] and found["orders"] == [number], found
        print(f"   discovery for one person, all systems of the map (new connection each, as the worker "
              f"does): median {statistics.median(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms "
              f"(target < 2000 ms)")
        crm = datamap.system("crm")
        heavy = Person(emails=(f"person{HEAVY}@example.com",))
        found = search_system(crm, heavy, env)
        connector = open_connector(crm, env)
        results = {}
        for orders in (1_000, HEAVY_ORDERS):
            sources = [Source(crm, crm.category(key),
                              tuple(found[key][: orders if key == "orders" else None]))
                       for key in ("customers", "orders", "invoices", "appointments")]
            results[orders] = _package(sources, connector, datamap, profile)
        connector.close()
        elapsed, peak, records = results[HEAVY_ORDERS]
        small_elapsed, small_peak, small_records = results[1_000]
        print(f"   package for one person with {records:,} records: {elapsed:.2f} s (target < 5 s); "
              f"peak Python memory {peak / 1e6:.1f} MB (with {small_records:,} records: "
              f"{small_peak / 1e6:.1f} MB, "
              f"{small_elapsed:.2f} s)")
    finally:
        _drop(name)


if __name__ == "__main__":
    main()
