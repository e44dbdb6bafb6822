"""Databases and clients for the service tests.

Every test that asks for ``db_url`` runs twice: on a fresh SQLite file and on a fresh PostgreSQL
database (created from a migrated template) when ``QUNBANG_TEST_PG_URL`` names a server. With
``QUNBANG_REQUIRE_PG=1`` (CI) a missing server fails the PostgreSQL runs instead of skipping them.

Database states that many tests start from (``world``: the seeded tiny street with accounts; a
module's "matched by a nightly run" fixture …) are *cached states* (``database_state``): a state
is built once per test run and database kind in a scratch database, which then serves as
the template of every test database that starts from it (a file copy on SQLite, ``CREATE
DATABASE … TEMPLATE`` on PostgreSQL). Under ``pytest -n`` the test processes share them: the
first process that needs a state (or the migrated, empty template under all of them) builds it
under a file lock and leaves it, with the fixture's value, for the others (``run_once``); the
main process drops them when the run ends (tests/conftest.py). A test still gets a database of
its own, in exactly the state the fixtures would have built, and the fixtures return the values
they returned then. (On PostgreSQL the database of a test that is done is emptied and refilled
with the next test's template rows rather than dropped and copied anew: ``_Refill``.)

The tests' sessions, the after-test invariant check and the ``client`` app run on engines kept
for the whole test process (``SharedEngines``), pointed at each test's database in turn, so that
SQLAlchemy compiles each query once per process instead of once per test.
"""

from __future__ import annotations

import copy
import datetime as dt
import fcntl
import hashlib
import os
import pickle
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.http.app import create_app
from api.services.accounts import auth
from api.services.accounts.auth import add_user
from api.services.actor import Actor, actor_of
from api.services.circles.targets import forget_counts
from api.services.ledger.seed import seed_street
from api.services.matching.invariants import check_database
from api.services.matching.problem import forget_kept
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import Base, Community, HelperRow, Street, UserRow
from matcher.generator import preset

PG_URL = os.environ.get("QUNBANG_TEST_PG_URL")
REQUIRE_PG = os.environ.get("QUNBANG_REQUIRE_PG") == "1"
DATE = dt.date(2026, 11, 23)
PASSWORD = "correct-horse-9"


T = TypeVar("T")


@contextmanager
def sql_statements(bind: Engine | Connection) -> Iterator[list[str]]:
    """The SQL statements the engine of ``bind`` (an engine, or a session's ``get_bind()``)
    sends inside the block, as text: an executemany counts once, and SQLite's driver's own BEGIN
    (sent as a statement by the store) counts too."""
    sent: list[str] = []
    engine = bind.engine

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _admin(url: str):  # type: ignore[no-untyped-def]
    return create_engine(url, isolation_level="AUTOCOMMIT")


def shared_folder() -> Path | None:
    """The folder the test processes of this run share (made by tests/conftest.py in the main
    process); None when there is none (then each process keeps its own states)."""
    folder = os.environ.get("QUNBANG_TEST_SHARED")
    return Path(folder) if folder and Path(folder).is_dir() else None


def shared_name(key: str) -> str:
    """A name for something made once per run (a PostgreSQL database): the run's id (the main
    process drops every database named after it when the run ends) and a digest of ``key``."""
    run = os.environ.get("QUNBANG_TEST_RUN", "")
    return f"qb_st_{run}_{hashlib.sha1(key.encode()).hexdigest()[:16]}"


def run_once(key: str, make: Callable[[Path | None], T]) -> T:
    """``make(folder)``'s value, made once per test run: the first process to ask makes it
    (holding a lock, so that the others wait rather than make it again) and leaves it pickled
    in the shared folder, where the others read it. ``folder`` is where ``make`` may put files
    that outlive the process (the shared folder; None when there is none, and then each
    process makes its own)."""
    folder = shared_folder()
    if folder is None:
        return make(None)
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    with open(folder / f"{digest}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = folder / f"{digest}.pickle"
            if done.exists():
                return pickle.loads(done.read_bytes())  # type: ignore[no-any-return]
            value = make(folder)
            partial = folder / f"{digest}.partial"
            partial.write_bytes(pickle.dumps(value))
            partial.rename(done)
            return value
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Tests hash dozens of passwords: use argon2id's cheapest settings (production keeps the
    library's defaults), also for the hash a login of an unknown username is checked against
    (made by whichever hasher is in use)."""
    original = auth.HASHER
    auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth.HASHER = original


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating every time is slow); one per
    test run (``run_once``)."""

    def make(folder: Path | None) -> Path:
        path = (folder or tmp_path_factory.mktemp("template")) / "qunbang.db"
        migrate(f"sqlite:///{path}")
        return path

    return run_once("sqlite-template", make)


@pytest.fixture(scope="session")
def _pg_base() -> Iterator[tuple[str, _Rows | None] | None]:
    """A migrated PostgreSQL template database, one per test run (``run_once``; one per test
    process when they share no folder), and its rows (read once, here: a connection to a
    template would make a ``CREATE DATABASE … TEMPLATE`` of another process fail)."""
    if not PG_URL:
        yield None
        return
    url = PG_URL

    def make(folder: Path | None) -> tuple[str, _Rows | None]:
        name = shared_name("pg-template") if folder else f"qb_tpl_{uuid.uuid4().hex[:10]}"
        admin = _admin(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        migrate(make_url(url).set(database=name).render_as_string(hide_password=False))
        return name, _Refill._read(name)

    base = run_once("pg-template", make)
    yield base
    if shared_folder() is None:
        admin = _admin(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{base[0]}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_template(_pg_base: tuple[str, _Rows | None] | None) -> str | None:
    """The migrated PostgreSQL template database (None without a server)."""
    return _pg_base[0] if _pg_base else None


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
    rows: Any = None  # PostgreSQL: the template's _Rows (None: read them when needed)


@dataclass(frozen=True)
class _Rows:
    """What a PostgreSQL template holds, to put back into a database: the statements that empty
    every table (children first), the rows of each table that has any (binary ``COPY``, parents
    first), the statement that sets each sequence where the template has it (empty: no
    sequences) and the schema's fingerprint."""

    empty: str
    filled: tuple[tuple[str, bytes], ...]
    sequences: str
    schema: str


class _Refill:
    """PostgreSQL: a database a test is done with is emptied and refilled with the next test's
    template rows (about 10 ms for our small states), instead of dropped and a new one copied
    from the template (``CREATE DATABASE … TEMPLATE``: about 270 ms of the server's CPU, most of
    it copying the system catalogs; a third of the suite's time went there).

    The next test sees exactly the template's rows, ids and sequences; other sessions on the
    database are ended first (as ``DROP DATABASE … WITH (FORCE)`` would). A database whose
    schema no longer matches its template's (tables, columns, types, indexes) is not refilled
    but dropped, as is one refilled ``USES`` times (deleted rows stay behind until vacuumed)."""

    USES = 40
    _FINGERPRINT = text(
        "SELECT md5(string_agg(c.relname || ':' || c.relkind::text || ':' || a.attname || ':'"
        " || a.atttypid::text, ',' ORDER BY c.relname, a.attnum))"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid"
        " WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped"
    )

    def __init__(self) -> None:
        self.rows: dict[str, _Rows | None] = {}  # by template; None: cannot be refilled
        self.uses: dict[str, int] = {}

    def refill(self, name: str, template: str) -> bool:
        """Make database ``name`` hold exactly ``template``'s rows; False if it cannot be (the
        caller drops it)."""
        rows = self._rows(template)
        if rows is None:
            return False
        with psycopg.connect(self._conninfo(name), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            if conn.execute(str(self._FINGERPRINT)).fetchone() != (rows.schema,):
                return False
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(rows.empty)
                for table, data in rows.filled:
                    with cursor.copy(f'COPY "{table}" FROM STDIN (FORMAT binary)') as copy_in:
                        copy_in.write(data)
                if rows.sequences:
                    cursor.execute(rows.sequences)
        self.uses[name] = self.uses.get(name, 0) + 1
        return True

    def worn(self, name: str) -> bool:
        return self.uses.get(name, 0) >= self.USES

    def forget(self, name: str) -> None:
        self.uses.pop(name, None)

    def _rows(self, template: str) -> _Rows | None:
        if template not in self.rows:
            self.rows[template] = self._read(template)
        return self.rows[template]

    @classmethod
    def _read(cls, template: str) -> _Rows | None:
        """The template's rows, or None if it holds a table the app's metadata does not know
        (then its parents-first order is unknown)."""
        order = ["alembic_version", *(table.name for table in Base.metadata.sorted_tables)]
        with psycopg.connect(cls._conninfo(template)) as conn:
            present = {
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            }
            if present - set(order):
                return None
            tables = [name for name in order if name in present]
            filled = []
            for table in tables:
                if conn.execute(f'SELECT EXISTS (SELECT FROM "{table}")').fetchone() == (True,):
                    data = bytearray()
                    with conn.cursor().copy(f'COPY "{table}" TO STDOUT (FORMAT binary)') as out:
                        for block in out:
                            data += block
                    filled.append((table, bytes(data)))
            positions = conn.execute(
                "SELECT format('setval(%L, %s, %s)', quote_ident(sequencename),"
                " coalesce(last_value, start_value), (last_value IS NOT NULL)::text)"
                " FROM pg_sequences WHERE schemaname = 'public'"
            ).fetchall()
            (schema,) = conn.execute(str(cls._FINGERPRINT)).fetchone() or ("",)
            guarded = cls._guarded(conn)
        sequences = "SELECT " + ", ".join(p for (p,) in positions) if positions else ""
        # Children first; a table whose own triggers refuse a DELETE (the append-only points
        # ledger) is truncated instead, with every table that refers to it, before the rest.
        empty = [f'DELETE FROM "{table}"' for table in reversed(tables) if table not in guarded]
        if guarded:
            empty.insert(0, "TRUNCATE " + ", ".join(f'"{table}"' for table in sorted(guarded)))
        return _Rows("; ".join(empty), tuple(filled), sequences, schema)

    @staticmethod
    def _guarded(conn: psycopg.Connection[Any]) -> set[str]:
        """The tables with triggers of their own (not the foreign keys'), and every table that
        refers to one of them."""
        guarded = {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND NOT t.tgisinternal"
            )
        }
        refers = conn.execute(
            "SELECT c.relname, p.relname FROM pg_constraint k"
            " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE k.contype = 'f' AND n.nspname = 'public'"
        ).fetchall()
        while True:
            more = {child for child, parent in refers if parent in guarded} - guarded
            if not more:
                return guarded
            guarded |= more

    @staticmethod
    def _conninfo(name: str) -> str:
        assert PG_URL
        url = make_url(PG_URL).set(drivername="postgresql", database=name)
        return url.render_as_string(hide_password=False)


@dataclass
class StateCache:
    """One test process's cached states of one database kind, keyed by chain and day."""

    kind: str
    base: str  # the migrated, empty template
    folder: Path
    cached: dict[tuple[Any, ...], _Cached] = field(default_factory=dict)
    spare: list[str] = field(default_factory=list)  # PostgreSQL: databases to refill
    refill: _Refill = field(default_factory=lambda: _Refill())
    owned: list[str] = field(default_factory=list)  # templates this process made for itself

    def template(self, chain: tuple[DatabaseState, ...]) -> _Cached:
        """The template holding ``chain`` (built now, on top of its prefix's, if new; once per
        test run: ``run_once``)."""
        if not chain:
            return _Cached(self.base, {})
        today = local_today(chain[-1].settings("sqlite://"))
        key = (today, *((state.module, state.name) for state in chain))
        if key not in self.cached:
            below = self.template(chain[:-1])
            cached = run_once(
                f"state {self.kind} {key!r}", lambda folder: self._build(chain, below, key, folder)
            )
            if cached.rows is not None:
                self.refill.rows[cached.template] = cached.rows
            self.cached[key] = cached
        return self.cached[key]

    def _build(
        self,
        chain: tuple[DatabaseState, ...],
        below: _Cached,
        key: tuple[Any, ...],
        folder: Path | None,
    ) -> _Cached:
        """A new template: ``below``'s copied, and the chain's last state built on it. In the
        run's shared folder (or, PostgreSQL, named after the run) when there is one."""
        if folder is None:
            url, name = self._copy(below.template)
            self.owned.append(name)
        elif self.kind == "sqlite":
            digest = hashlib.sha1(repr(key).encode()).hexdigest()[:16]
            url, name = self._copy(below.template, folder / f"state-{digest}.db")
        else:
            url, name = self._copy(below.template, name=shared_name(repr(key)))
        state = chain[-1]
        engine = make_engine(url)
        try:
            context = StateContext(
                url, session_factory(engine), state.settings(url), copy.deepcopy(below.values)
            )
            value = state.build(context)
        finally:
            engine.dispose()
        rows = None
        if self.kind == "sqlite":  # fold the WAL into the file that gets copied
            with sqlite3.connect(name) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:  # read now: later, a connection to it could fail another's CREATE DATABASE
            rows = _Refill._read(name)
        return _Cached(name, {**context.values, state.name: value}, rows)

    def new(self, template: str, folder: Path) -> tuple[str, str]:
        """A database copied from ``template`` (a SQLite file in ``folder``): (url, SQLite file
        or PostgreSQL database). On PostgreSQL, a database an earlier test was done with is
        refilled with the template's rows instead, when there is one (``_Refill``)."""
        while self.spare:
            name = self.spare.pop()
            if self.refill.refill(name, template):
                return self._url(name), name
            self.drop(name)
        return self._copy(template, folder / "qunbang.db")

    def done(self, name: str) -> None:
        """A test is done with its database: dropped, or on PostgreSQL kept to be refilled for
        the next test (a few times: the emptied rows stay behind until vacuumed)."""
        if self.kind == "sqlite" or self.refill.worn(name) or len(self.spare) >= 2:
            self.refill.forget(name)
            self.drop(name)
        else:
            self.spare.append(name)

    def _copy(
        self, template: str, path: Path | None = None, name: str | None = None
    ) -> tuple[str, str]:
        if self.kind == "sqlite":
            path = path or self.folder / f"qb_{uuid.uuid4().hex[:12]}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}", str(path)
        assert PG_URL
        name = name or f"qb_{uuid.uuid4().hex[:12]}"
        admin = _admin(PG_URL)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        admin.dispose()
        return self._url(name), name

    def _url(self, name: str) -> str:
        assert PG_URL
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

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
        """Drop the spare databases and the templates this process made for itself (shared
        ones stay for the other processes; the main process drops them at the end)."""
        for name in [*self.spare, *self.owned]:
            self.drop(name)


@pytest.fixture(scope="session")
def sqlite_states(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cache = StateCache("sqlite", str(sqlite_template), tmp_path_factory.mktemp("states"))
    yield cache
    cache.close()


@pytest.fixture(scope="session")
def pg_states(_pg_base: tuple[str, _Rows | None] | None):  # type: ignore[no-untyped-def]
    if _pg_base is None:
        yield None
        return
    cache = StateCache("postgresql", _pg_base[0], Path("."))
    cache.refill.rows[_pg_base[0]] = _pg_base[1]
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
    states.done(name)


def clear_stamped_caches() -> None:
    """Drop what the process keeps per database URL
    (``api.services.matching.problem.forget_kept``): the
    kept engines (``SharedEngines``) serve every test's database under one URL, so each test
    starts with nothing kept, as it would with engines of its own."""
    forget_kept()
    forget_counts()


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


_APPS: dict[str, FastAPI] = {}


def kept_engine_app(settings: Settings, shared_engines: SharedEngines) -> FastAPI:
    """``create_app(settings)`` on the process's kept app engine (see ``SharedEngines``). The
    app is kept too, one per process and settings (the database apart), with its state set
    afresh for each test: FastAPI builds each router's table of routes on its first walk, which
    cost every test a quarter second when each had a new app."""
    key = settings.model_copy(update={"database_url": ""}).model_dump_json()
    if key not in _APPS:
        _APPS[key] = create_app(settings, ticker=False)
    app = _APPS[key]
    app.state.settings = settings
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
