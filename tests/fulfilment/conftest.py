"""Fulfilment fixtures: the demo CRM on SQLite and PostgreSQL (the same kind as the DSR database),
the built-in data maps, and verified tickets of the demo subjects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from dsr.controllers import ControllerProfile, load_profile
from dsr.datamap import DataMap, load_datamap_for
from dsr.fulfilment.delivery import DeliveryConfig
from dsr.fulfilment.vault import parse_key
from dsr.service.demo import load_demo_data
from dsr.service.demo_crm import create_demo_crm
from tests.support.database import PG_ADMIN_URL
from tests.support.fulfilment import KEY, NOW, Tickets


@pytest.fixture
def crm_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second database for the demo CRM, of the same kind as `db_url`."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/crm.sqlite3"
        return
    admin: Engine = request.getfixturevalue("pg_admin_engine")
    name = f"dsr_crm_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def crm(crm_url: str) -> Iterator[Engine]:
    """The kmb2 demo CRM, filled."""
    engine = create_engine(crm_url)
    create_demo_crm(engine, "kmb2")
    yield engine
    engine.dispose()


@pytest.fixture
def env(crm: Engine, crm_url: str) -> dict[str, str]:
    return {"DSR_CRM_KMB2_URL": crm_url}


@pytest.fixture(scope="session")
def kmb2_map() -> DataMap:
    datamap = load_datamap_for("kmb2")
    assert datamap is not None
    return datamap


@pytest.fixture(scope="session")
def kmb2() -> ControllerProfile:
    return load_profile("kmb2")


@pytest.fixture
def delivery(tmp_path: Path) -> DeliveryConfig:
    return DeliveryConfig(directory=tmp_path / "packages", key=parse_key(KEY), days=14, max_uses=2,
                          base_url="https://dsr.example.org")


@pytest.fixture
def tickets(sessions: sessionmaker[Session]) -> Tickets:
    load_demo_data(sessions, ["kmb2", "komsa"], now=NOW)
    return Tickets(sessions)
