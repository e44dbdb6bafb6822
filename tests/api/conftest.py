"""Databases and clients for the service tests.

Every test that asks for ``db_url`` runs twice: on a fresh SQLite file and on a fresh PostgreSQL
database (created from a migrated template) when ``QUNBANG_TEST_PG_URL`` names a server. With
``QUNBANG_REQUIRE_PG=1`` (CI) a missing server fails the PostgreSQL runs instead of skipping them.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.deps import Actor, actor_of
from api.services import auth
from api.services.auth import add_user
from api.services.invariants import check_database
from api.services.seed import seed_street
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import Community, HelperRow, Street, UserRow
from matcher.generator import preset

PG_URL = os.environ.get("QUNBANG_TEST_PG_URL")
REQUIRE_PG = os.environ.get("QUNBANG_REQUIRE_PG") == "1"
DATE = dt.date(2026, 11, 23)
PASSWORD = "correct-horse-9"


def _admin(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Tests hash dozens of passwords: use argon2id's cheapest settings (production keeps the
    library's defaults)."""
    original = auth.HASHER
    auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth.HASHER = original


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating every time is slow)."""
    path = tmp_path_factory.mktemp("template") / "qunbang.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL template database, one per test worker."""
    if not PG_URL:
        yield None
        return
    name = f"qb_tpl_{uuid.uuid4().hex[:10]}"
    admin = _admin(PG_URL)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    migrate(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path, sqlite_template, pg_template) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, migrated, empty database."""
    if request.param == "sqlite":
        shutil.copy(sqlite_template, tmp_path / "qunbang.db")
        yield f"sqlite:///{tmp_path / 'qunbang.db'}"
        return
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("QUNBANG_REQUIRE_PG=1 but QUNBANG_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL: set QUNBANG_TEST_PG_URL (make test-pg)")
    name = f"qb_{uuid.uuid4().hex[:12]}"
    admin = _admin(PG_URL)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(autouse=True)
def _database_invariants(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test with a database, ``check_database`` must find nothing broken in it
    (a test that builds a broken state on purpose says so: ``@pytest.mark.broken_db("why")``)."""
    if "db_url" not in request.fixturenames or request.node.get_closest_marker("broken_db"):
        yield
        return
    url = request.getfixturevalue("db_url")  # set up first, so it is dropped after the check
    yield
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            violations = check_database(session)
    finally:
        engine.dispose()
    if violations:
        lines = "\n".join(f"  {v}" for v in violations)
        pytest.fail(f"{len(violations)} database invariant(s) broken after the test:\n{lines}")


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


@dataclass
class World:
    """A seeded tiny street with accounts: street-wide staff, staff of the first community only,
    a planner, and helper accounts for the first helpers (usernames ``helper1`` …)."""

    street_id: int
    communities: list[int]
    helper_ids: list[int]


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    with sessions() as session:
        seeded = seed_street(session, preset("tiny", seed=1), order_date=DATE)
        street = seeded.street
        communities = list(
            session.scalars(
                select(Community.id).where(Community.street_id == street.id).order_by(Community.id)
            )
        )
        helper_ids = list(
            session.scalars(
                select(HelperRow.id).where(HelperRow.street_id == street.id).order_by(HelperRow.id)
            )
        )
        add_user(session, "staff", PASSWORD, "staff", street_id=street.id)
        add_user(
            session, "staff_c1", PASSWORD, "staff", street_id=street.id, community_id=communities[0]
        )
        add_user(session, "planner", PASSWORD, "planner", street_id=street.id)
        for n, helper_id in enumerate(helper_ids[:6], start=1):
            add_user(session, f"helper{n}", PASSWORD, "helper", helper_id=helper_id)
        session.commit()
        assert session.get(Street, street.id) is not None
    return World(street.id, communities, helper_ids)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url, tick_seconds=0, nightly_time_limit_s=5, rematch_time_limit_s=2
    )


@pytest.fixture
def client(settings: Settings, world: World) -> Iterator[TestClient]:
    with TestClient(create_app(settings, ticker=False)) as test_client:
        yield test_client


def actor_named(session: Session, username: str) -> Actor:
    """The actor a request by ``username`` carries."""
    return actor_of(session.scalars(select(UserRow).where(UserRow.username == username)).one())


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for ``username``."""
    response = client.post("/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
