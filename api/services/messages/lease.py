"""Named leases: one holder at a time across every worker process and machine (e.g. the ticker).

A holder takes a lease that is free, expired or already its own with one atomic statement — an
``INSERT … ON CONFLICT (name) DO UPDATE … WHERE the lease is expired or mine`` — committed at
once; there is no read-then-write for two workers to interleave. On PostgreSQL the conflicting
insert waits for the row and re-checks the condition on its newest version; on SQLite writers
queue on the write lock (``BEGIN IMMEDIATE``). A holder that stops renewing (its process died)
loses the lease when ``expires_at`` passes, and the next ``acquire`` by anyone else takes it.

Times are the application's clock (naive UTC, as every stored time): the holders of one lease
should run on machines whose clocks agree to well within the lease's time to live.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket

from sqlalchemy import delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.store.db import WRITE_OPTION
from api.store.tables import LeaseRow, utcnow


def new_holder() -> str:
    """A name for this process that no other process shares: ``host:pid:random``."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(6)}"


def acquire(
    session: Session,
    name: str,
    holder: str,
    ttl: dt.timedelta,
    now: dt.datetime | None = None,
) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; True if ``holder``
    holds it now. The lease is taken when it is free, expired, or ``holder``'s already; the
    change is committed before this returns."""
    now = now or utcnow()
    begin_row_write(session)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(LeaseRow).values(name=name, holder=holder, expires_at=now + ttl)
    stmt = stmt.on_conflict_do_update(
        index_elements=[LeaseRow.name],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=or_(LeaseRow.holder == stmt.excluded.holder, LeaseRow.expires_at <= now),
    ).returning(LeaseRow.holder)
    taken = session.execute(stmt).scalar_one_or_none()
    session.commit()
    return taken == holder


def release(session: Session, name: str, holder: str) -> bool:
    """Give the lease up at once (only its holder can); True if ``holder`` held it."""
    begin_row_write(session)
    result = session.execute(
        delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder)
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


def holder_of(session: Session, name: str, now: dt.datetime | None = None) -> str | None:
    """Who holds the lease ``name`` at ``now`` (None: free or expired)."""
    row = session.get(LeaseRow, name, populate_existing=True)
    now = now or utcnow()
    return row.holder if row is not None and row.expires_at > now else None


def begin_row_write(session: Session) -> None:
    """A fresh transaction for one atomic statement (an upsert, a compare-and-set UPDATE). On
    SQLite it takes the write lock up front (``BEGIN IMMEDIATE``: no stale snapshot to fail
    on); unlike ``begin_write`` it takes no PostgreSQL advisory lock — the statement is atomic
    by itself and need not queue behind a long matching run."""
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={WRITE_OPTION: True})
