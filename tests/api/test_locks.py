"""Who waits for whom on PostgreSQL (``api.store.db.begin_write``): answers and re-matches of
different orders go ahead together; the same order, or the same helper added twice, queue;
street-wide writers wait for all of them; other streets never wait."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api.store.db import begin_write, make_engine

Lock = dict[str, object]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    if not db_url.startswith("postgresql"):
        pytest.skip("advisory locks are PostgreSQL's; SQLite has one writer at a time")
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _held(engine: Engine, lock: Lock) -> Session:
    session = Session(engine)
    begin_write(session, **lock)  # type: ignore[arg-type]
    return session


def _waits(engine: Engine, lock: Lock) -> bool:
    """Whether a writer asking for ``lock`` now would wait (it gives up after 300 ms)."""
    with Session(engine) as session:
        session.execute(text("SET lock_timeout = '300ms'"))
        session.commit()
        try:
            begin_write(session, **lock)  # type: ignore[arg-type]
        except OperationalError:
            session.rollback()
            return True
        session.rollback()
        return False


ANSWER_1 = {"street_id": 1, "order_id": 1}


@pytest.mark.parametrize(
    ("other", "waits"),
    [
        ({"street_id": 1, "order_id": 2}, False),  # an answer to another order
        ({"street_id": 1, "order_id": 2, "helper_ids": [8]}, False),  # a re-match elsewhere
        ({"street_id": 1, "order_id": 1}, True),  # the same order
        ({"street_id": 1}, True),  # a street-wide writer (nightly, claim, staff)
        ({}, True),  # the all-streets writer
        ({"street_id": 2}, False),  # another street's nightly run
    ],
)
def test_an_order_writer_blocks_only_what_touches_its_order_or_street(
    engine: Engine, other: Lock, waits: bool
) -> None:
    """While an answer to order 1 holds its locks, each other writer waits or not as listed."""
    holder = _held(engine, ANSWER_1)
    try:
        assert _waits(engine, other) is waits
    finally:
        holder.rollback()
        holder.close()


def test_two_rematches_adding_the_same_helper_queue(engine: Engine) -> None:
    """Re-matches of different orders adding the same helper queue (one then sees the other's
    offer in the helper's day); adding different helpers they go ahead together."""
    holder = _held(engine, {"street_id": 1, "order_id": 1, "helper_ids": [5, 7]})
    try:
        assert _waits(engine, {"street_id": 1, "order_id": 2, "helper_ids": [7]})
        assert not _waits(engine, {"street_id": 1, "order_id": 2, "helper_ids": [6]})
    finally:
        holder.rollback()
        holder.close()


def test_a_street_writer_holds_off_every_order_writer_of_its_street(engine: Engine) -> None:
    """While a street-wide writer works, no answer or re-match of that street starts."""
    holder = _held(engine, {"street_id": 1})
    try:
        assert _waits(engine, ANSWER_1)
        assert _waits(engine, {"street_id": 1, "order_id": 9, "helper_ids": [3]})
        assert not _waits(engine, {"street_id": 2, "order_id": 9})
    finally:
        holder.rollback()
        holder.close()
