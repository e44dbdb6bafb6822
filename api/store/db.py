"""Engines, sessions and migrations. SQLite (the embedded default, WAL mode) and PostgreSQL share
one Alembic history."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Engine,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date

import api.store.stamps  # noqa: F401  (its listeners re-stamp cached rows on every write)
from api.extras import require

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("qunbang.store")
MIGRATIONS = Path(__file__).parent / "migrations"
WRITE_OPTION = "qunbang_write"
WRITE_LOCK_KEY = 0x51_42_57  # "QBW": Qunbang's writers' advisory lock on PostgreSQL
ORDER_LOCK_KEY = 0x51_42_4F  # "QBO": one order (with the street's lock shared)
HELPER_LOCK_KEY = 0x51_42_48  # "QBH": one helper's day (with the street's lock shared)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created and the file put in WAL mode."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(_server_url(parsed), pool_size=10, max_overflow=20, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    # pysqlite's own transaction handling defers BEGIN; take it over so that a transaction
    # starts when SQLAlchemy says so, and write transactions can lock up front (begin_write).
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _server_url(url: URL) -> URL:
    """A database server's URL, PostgreSQL through psycopg (3): a bare ``postgresql://`` would
    mean psycopg2, which Qunbang does not install. Without the ``[postgres]`` extra: one clear
    line (``MissingExtra``), not an ImportError from inside SQLAlchemy."""
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername == "postgresql+psycopg":
        require("postgres")
    return url


def _sqlite_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get(WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write(
    session: Session,
    street_id: int | None = None,
    order_id: int | None = None,
    helper_ids: Iterable[int] = (),
    *,
    after_read: bool = False,
) -> None:
    """Start a write transaction; writers of one street queue, one at a time.

    On PostgreSQL a writer takes transaction-scoped advisory locks: with ``street_id``, that
    street's lock (and the all-streets lock shared), so writers of different streets never wait
    on each other; without, the all-streets lock exclusively (it waits for every street's
    writers). What a writer reads to decide (a helper's remaining day, an order still open) then
    cannot change under it before it commits — e.g. two re-matches or a claim and a re-match
    booking the same helper's last free hour. Reads never wait. Never solve while holding it:
    solve first, then take the lock, re-check and write.

    On SQLite, a single file has one writer at a time: BEGIN IMMEDIATE takes the database's write
    lock at once (whatever the street), so concurrent writers wait on the busy timeout instead of
    failing on a stale snapshot. Write transactions are kept short for that reason.

    ``order_id`` (with ``street_id``), on PostgreSQL: a writer that changes one order only (a
    helper's answer, a re-match filling its places) shares the street's lock with other such
    writers and takes that order's own lock, and the lock of each helper in ``helper_ids``
    (those it adds to the team: it may add nobody else). Such writers go ahead together unless
    they touch the same order or add the same helper; street-wide writers (nightly run, claims,
    staff) still wait for them and they for those.

    ``after_read``: the open transaction has only read (e.g. which street and order an answer
    touches). On PostgreSQL the locks are then taken in it, saving a round trip to end it and
    one to begin anew: under READ COMMITTED every statement after the locks reads afresh, so
    nothing read before them is trusted more than if it had been committed first. SQLite ends
    it and begins IMMEDIATE as always."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if session.in_transaction() and not (after_read and postgres):
        session.commit()
    if not postgres:
        session.connection(execution_options={WRITE_OPTION: True})
        return
    if street_id is None:
        session.execute(text("SELECT pg_advisory_xact_lock(:key, 0)"), {"key": WRITE_LOCK_KEY})
        return
    # Always the all-streets lock first, then the street's, then an order's, then helpers' in
    # id order: no two writers wait on each other in a circle. One round trip: the statements
    # of a DO block run in order (its keys are integers this function formats itself).
    street_lock = "pg_advisory_xact_lock" + ("_shared" if order_id is not None else "")
    locks = [
        f"pg_advisory_xact_lock_shared({WRITE_LOCK_KEY}, 0)",
        f"{street_lock}({WRITE_LOCK_KEY}, {int(street_id)})",
    ]
    if order_id is not None:  # keys are int4: a clash only queues
        locks.append(f"pg_advisory_xact_lock({ORDER_LOCK_KEY}, {int(order_id) % 2**31})")
        locks += [
            f"pg_advisory_xact_lock({HELPER_LOCK_KEY}, {int(h) % 2**31})"
            for h in sorted(set(helper_ids))
        ]
    session.execute(text("DO $$BEGIN " + " ".join(f"PERFORM {lock};" for lock in locks) + " END$$"))


class local_date(FunctionElement[dt.date]):
    """``local_date(column, timezone)``: the date, in the named time zone, of a naive UTC time
    column. PostgreSQL converts it itself; SQLite by a function each connection registers."""

    type = Date()
    inherit_cache = True


@compiles(local_date, "postgresql")
def _local_date_postgresql(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    column, zone = list(element.clauses)
    return (
        f"CAST(timezone({compiler.process(zone, **kw)}, timezone('UTC', "
        f"{compiler.process(column, **kw)})) AS DATE)"
    )


@compiles(local_date)
def _local_date_sqlite(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"qunbang_local_date({compiler.process(element.clauses, **kw)})"


def _sqlite_local_date(value: str | None, zone: str) -> str | None:
    if value is None:
        return None
    utc = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return utc.astimezone(ZoneInfo(zone)).date().isoformat()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" listener issues BEGIN
    dbapi_connection.create_function("qunbang_local_date", 2, _sqlite_local_date,
                                     deterministic=True)  # fmt: skip
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that rolls back on any error and is always closed."""
    session = factory()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # here: only migrating needs Alembic (slow to import)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def dialect_of(session: Session) -> str:
    """The name of the database the session talks to ("postgresql", "sqlite")."""
    return session.get_bind().dialect.name


def among_bound(column: Any, name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN :name`` for a list of ids or dates bound at each execution, in a statement
    built once per dialect and run many times (building and keying a statement costs more than
    running a small one). On PostgreSQL as ``column = ANY(:name)``: one statement text whatever
    the list's length, so the driver prepares it once per connection and the server stops
    planning it on every call (an IN list of another length is another statement, planned
    afresh: about 1 ms for a join)."""
    if dialect == "postgresql":
        return cast(ColumnElement[bool], column == any_(bindparam(name, type_=ARRAY(column.type))))
    return cast(ColumnElement[bool], column.in_(bindparam(name, expanding=True)))
