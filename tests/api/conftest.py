"""Databases and clients for the service tests.

Every test that asks for ``db_url`` runs twice: on a fresh SQLite file and on a fresh PostgreSQL
database (created from a migrated template) when ``QUNBANG_TEST_PG_URL`` names a server. With
``QUNBANG_REQUIRE_PG=1`` (CI) a missing server fails the PostgreSQL runs instead of skipping them.

Database states that many tests start from (``world``: the seeded tiny street with accounts; a
module's "matched by a nightly run" fixture …) are *cached states* (``database_state``): each
test process builds a state once per database kind in a scratch database, which then serves as
the template of every test database that starts from it (a file copy on SQLite, ``CREATE
DATABASE … TEMPLATE`` on PostgreSQL). A test still gets a database of its own, in exactly the
state the fixtures would have built, and the fixtures return the values they returned then.

The tests' sessions, the after-test invariant check and the ``client`` app run on engines kept
for the whole test process (``SharedEngines``), pointed at each test's database in turn, so that
SQLAlchemy compiles each query once per process instead of once per test.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.http.app import create_app
from api.services.accounts import auth
from api.services.accounts.auth import add_user
from api.services.actor import Actor, actor_of
from api.services.ledger.seed import seed_street
from api.services.matching.invariants import check_database
from api.services.matching.problem import forget_kept
from api.services.offers.assign import local_today
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
    library's defaults), also for the hash a login of an unknown username is checked against."""
    original, original_dummy = auth.HASHER, auth._DUMMY_HASH
    auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    auth._DUMMY_HASH = auth.HASHER.hash("qunbang-dummy-password")
    yield
    auth.HASHER, auth._DUMMY_HASH = original, original_dummy


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


# ----------------------------------------------------------------------------- cached states


@dataclass(frozen=True)
class StateContext:
    """What a state's builder works on: a scratch database holding every earlier state of the
    chain, the settings a test on it would get, and the values the earlier states returned."""

    url: str
    sessions: sessionmaker[Session]
    settings: Settings
    values: dict[str, Any]


@dataclass(frozen=True)
class DatabaseState:
    """A fixture's database state: ``build`` puts a database holding the ``needs`` states into
    this one and returns the fixture's value. ``module`` is the test module defining it (None:
    this conftest, every module)."""

    name: str
    module: str | None
    build: Callable[[StateContext], Any]
    needs: tuple[str, ...]
    settings: Callable[[str], Settings]


_STATES: dict[tuple[str | None, str], DatabaseState] = {}
_VALUES = pytest.StashKey[dict[str, Any]]()


def make_settings(url: str) -> Settings:
    """The settings the ``settings`` fixture gives a test on ``url``."""
    return Settings(
        database_url=url, tick_seconds=0, nightly_time_limit_s=5, rematch_time_limit_s=2
    )


def database_state(
    name: str,
    build: Callable[[StateContext], Any],
    *,
    needs: tuple[str, ...] = ("world",),
    settings: Callable[[str], Settings] = make_settings,
) -> Any:
    """A fixture ``name`` (assign it to that name in the test module) whose database state
    ``build`` makes, cached per test process and database kind (see the module docstring).
    ``build`` must depend only on its context (and the calendar day, which is part of the key),
    as a fixture of the same dependencies would."""
    module = None if build.__module__ == __name__ else build.__module__
    _STATES[(module, name)] = DatabaseState(name, module, build, needs, settings)

    @pytest.fixture(name=name)
    def state(request: pytest.FixtureRequest, db_url: str) -> Any:
        return request.node.stash[_VALUES][name]

    state.__doc__ = build.__doc__
    return state


def _chain(request: pytest.FixtureRequest) -> tuple[DatabaseState, ...]:
    """The states the test asks for, with the states they need, each after its needs."""
    module = request.module.__name__ if request.module else None

    def lookup(name: str) -> DatabaseState | None:
        return _STATES.get((module, name)) or _STATES.get((None, name))

    chain: list[DatabaseState] = []

    def add(state: DatabaseState) -> None:
        if state in chain:
            return
        for need in state.needs:
            needed = lookup(need)
            assert needed is not None, f"state {state.name} needs unknown state {need}"
            add(needed)
        chain.append(state)

    for name in request.fixturenames:
        found = lookup(name)
        if found is not None:
            add(found)
    return tuple(chain)


@dataclass
class _Cached:
    template: str  # a SQLite file or a PostgreSQL database
    values: dict[str, Any]


@dataclass
class StateCache:
    """One test process's cached states of one database kind, keyed by chain and day."""

    kind: str
    base: str  # the migrated, empty template
    folder: Path
    cached: dict[tuple[Any, ...], _Cached] = field(default_factory=dict)

    def template(self, chain: tuple[DatabaseState, ...]) -> _Cached:
        """The template holding ``chain`` (built now, on top of its prefix's, if new)."""
        if not chain:
            return _Cached(self.base, {})
        today = local_today(chain[-1].settings("sqlite://"))
        key = (today, *((state.module, state.name) for state in chain))
        if key not in self.cached:
            below = self.template(chain[:-1])
            url, name = self._copy(below.template)
            state = chain[-1]
            engine = make_engine(url)
            try:
                context = StateContext(
                    url, session_factory(engine), state.settings(url), copy.deepcopy(below.values)
                )
                value = state.build(context)
            finally:
                engine.dispose()
            if self.kind == "sqlite":  # fold the WAL into the file that gets copied
                with sqlite3.connect(name) as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.cached[key] = _Cached(name, {**context.values, state.name: value})
        return self.cached[key]

    def new(self, template: str, folder: Path) -> tuple[str, str]:
        """A database copied from ``template`` (a SQLite file in ``folder``): (url, SQLite file
        or PostgreSQL database)."""
        return self._copy(template, folder / "qunbang.db")

    def _copy(self, template: str, path: Path | None = None) -> tuple[str, str]:
        if self.kind == "sqlite":
            path = path or self.folder / f"qb_{uuid.uuid4().hex[:12]}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}", str(path)
        assert PG_URL
        name = f"qb_{uuid.uuid4().hex[:12]}"
        admin = _admin(PG_URL)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        admin.dispose()
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name

    def drop(self, name: str) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{name}{suffix}").unlink(missing_ok=True)
            return
        assert PG_URL
        admin = _admin(PG_URL)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    def close(self) -> None:
        for cached in self.cached.values():
            self.drop(cached.template)


@pytest.fixture(scope="session")
def sqlite_states(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cache = StateCache("sqlite", str(sqlite_template), tmp_path_factory.mktemp("states"))
    yield cache
    cache.close()


@pytest.fixture(scope="session")
def pg_states(pg_template: str | None):  # type: ignore[no-untyped-def]
    if pg_template is None:
        yield None
        return
    cache = StateCache("postgresql", pg_template, Path("."))
    yield cache
    cache.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path, sqlite_states, pg_states, shared_engines
) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, migrated database of its own, holding the cached states the test asks for
    (empty when it asks for none)."""
    if request.param == "sqlite":
        states: StateCache = sqlite_states
    else:
        if not PG_URL:
            if REQUIRE_PG:
                pytest.fail("QUNBANG_REQUIRE_PG=1 but QUNBANG_TEST_PG_URL is not set")
            pytest.skip("no PostgreSQL: set QUNBANG_TEST_PG_URL (make test-pg)")
        states = pg_states
    cached = states.template(_chain(request))
    url, name = states.new(cached.template, tmp_path)
    clear_stamped_caches()
    request.node.stash[_VALUES] = copy.deepcopy(cached.values)
    yield url
    shared_engines.release(url)  # no pooled connection outlives the test's database
    states.drop(name)


def clear_stamped_caches() -> None:
    """Drop what the process keeps per database URL
    (``api.services.matching.problem.forget_kept``): the
    kept engines (``SharedEngines``) serve every test's database under one URL, so each test
    starts with nothing kept, as it would with engines of its own."""
    forget_kept()


class SharedEngines:
    """Engines kept for the whole test process, pointed at each test's database in turn: one per
    database kind for the tests' own sessions and the invariant check, and one for the app.

    SQLAlchemy caches compiled statements per engine: with fresh engines for every test,
    compiling the same queries again (the app's, the fixtures', the checker's) cost more than
    running them. A connection is opened on the database its kind points at (``do_connect``);
    ``release`` closes the pooled connections when a test is done with its database."""

    def __init__(self) -> None:
        self.engines: dict[tuple[str, str], Engine] = {}
        self.targets: dict[str, str] = {}

    def at(self, url: str, purpose: str = "test") -> Engine:
        """The ``purpose`` engine of ``url``'s kind, opening its connections on ``url``'s
        database (as ``make_engine(url)`` would)."""
        parsed = make_url(url)
        kind = parsed.get_backend_name()
        assert parsed.database
        self.targets[kind] = parsed.database
        if (kind, purpose) not in self.engines:
            engine = make_engine(url)

            def to_target(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> None:
                if kind == "sqlite":
                    cargs[0] = self.targets[kind]
                else:
                    cparams["dbname"] = self.targets[kind]

            event.listen(engine, "do_connect", to_target)
            self.engines[(kind, purpose)] = engine
        return self.engines[(kind, purpose)]

    def release(self, url: str) -> None:
        kind = make_url(url).get_backend_name()
        for (engine_kind, _purpose), engine in self.engines.items():
            if engine_kind == kind:
                engine.dispose()


@pytest.fixture(scope="session")
def shared_engines() -> Iterator[SharedEngines]:
    engines = SharedEngines()
    yield engines
    for engine in engines.engines.values():
        engine.dispose()


@pytest.fixture(autouse=True)
def _database_invariants(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test with a database, ``check_database`` must find nothing broken in it
    (a test that builds a broken state on purpose says so: ``@pytest.mark.broken_db("why")``)."""
    if "db_url" not in request.fixturenames or request.node.get_closest_marker("broken_db"):
        yield
        return
    engines: SharedEngines = request.getfixturevalue("shared_engines")
    url = request.getfixturevalue("db_url")  # set up first, so it is dropped after the check
    yield
    engine = engines.at(url)
    try:
        with session_factory(engine)() as session:
            violations = check_database(session)
    finally:
        engines.release(url)
    if violations:
        lines = "\n".join(f"  {v}" for v in violations)
        pytest.fail(f"{len(violations)} database invariant(s) broken after the test:\n{lines}")


@pytest.fixture
def sessions(db_url: str, shared_engines: SharedEngines) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test's database."""
    yield session_factory(shared_engines.at(db_url))
    shared_engines.release(db_url)


@dataclass
class World:
    """A seeded tiny street with accounts: street-wide staff, staff of the first community only,
    a planner, and helper accounts for the first helpers (usernames ``helper1`` …)."""

    street_id: int
    communities: list[int]
    helper_ids: list[int]


def _seed_world(state: StateContext) -> World:
    """The tiny street seeded with orders dated ``DATE`` and the accounts ``World`` names."""
    with state.sessions() as session:
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


world = database_state("world", _seed_world, needs=())


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


def kept_engine_app(settings: Settings, shared_engines: SharedEngines) -> FastAPI:
    """``create_app(settings)`` on the process's kept app engine (see ``SharedEngines``)."""
    app = create_app(settings, ticker=False)
    app.state.engine = shared_engines.at(settings.database_url, "app")
    app.state.sessions = session_factory(app.state.engine)
    return app


@pytest.fixture
def client(settings: Settings, world: World, shared_engines: SharedEngines) -> Iterator[TestClient]:
    with TestClient(kept_engine_app(settings, shared_engines)) as test_client:
        yield test_client


def actor_named(session: Session, username: str) -> Actor:
    """The actor a request by ``username`` carries."""
    return actor_of(session.scalars(select(UserRow).where(UserRow.username == username)).one())


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for ``username``."""
    response = client.post("/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
