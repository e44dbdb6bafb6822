"""Cache stamps: what a worker built from rows that rarely change (the matcher's view of a
street's helpers, the catalogue) is kept while the rows' stamp stays the same.

Every write to those rows through a session — ORM changes at flush, and ``update``/``delete``
statements on their tables — gives the stamp a new random value in the same transaction
(``after_flush`` / ``do_orm_execute`` listeners, installed on import of ``api.store.db``). So a
reader that sees the old stamp sees the old rows or newer ones, and one that sees the new stamp
sees the new rows: a kept value is never older than the stamp it is filed under. Random values
(not counters) keep two databases, or a database made again, from sharing a stamp. A name
without a stamp row is never cached (always read afresh). Raw SQL text that writes these tables
bypasses the listeners: do not.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, bindparam, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm.attributes import get_history

from api.store.statuses import OrderStatus
from api.store.tables import (
    CacheStamp,
    CategoryRow,
    CirclePair,
    CircleTotal,
    HelperRow,
    ItemRow,
    OrderRow,
    ResidentRow,
    SkillRow,
    Street,
    StreetItemRow,
)

T = TypeVar("T")
CATALOGUE = "catalogue"
# A street's own item settings restamp the catalogue too: the effective catalogue of every
# street is filed under it (``api.services.ledger.street_catalogue``).
CATALOGUE_TABLES = (SkillRow, CategoryRow, ItemRow, StreetItemRow)
KEPT = 32  # values kept per process (a few per street: helpers; one catalogue per database)
# ``session.info`` key of what a reader keeps for one transaction of the catalogue (the street
# catalogues): forgotten at any flush that restamps the catalogue.
IN_TRANSACTION = "catalogue_in_transaction"


def helpers_name(street_id: int) -> str:
    return f"helpers:{street_id}"


def circles_name(street_id: int) -> str:
    """What the street's care circles are counted from besides its helpers: its residents, their
    orders' items and dates (the usual skills), the pairs' totals and staff's choices
    (``api.services.circles.targets``). Restamped by ORM writes of residents, orders, circle pairs
    and the street; by ``circles.totals.refresh_orders`` for the streets it refreshes (its own
    writes of the totals are marked ``CIRCLES_REFRESHING``); any other write of those tables by
    statement restamps every street's."""
    return f"circles:{street_id}"


# ``session.info`` key set while ``circles.totals`` writes the totals it restamps itself.
CIRCLES_REFRESHING = "circles_refreshing"
CIRCLE_TABLES = (ResidentRow, OrderRow, CirclePair, CircleTotal)
_CIRCLE_TABLE_NAMES = frozenset(t.__tablename__ for t in CIRCLE_TABLES)
_CATALOGUE_TABLE_NAMES = frozenset(t.__tablename__ for t in CATALOGUE_TABLES)
# An order's columns the circles read (a status matters only to or from cancelled).
_ORDER_COLUMNS = ("street_id", "resident_id", "item", "date")


def current(session: Session, name: str) -> str | None:
    """The stamp of ``name`` as this session's transaction sees it (None: not stamped)."""
    return session.scalar(select(CacheStamp.stamp).where(CacheStamp.name == name))


def current_many(session: Session, names: Iterable[str]) -> dict[str, str | None]:
    """The stamps of ``names`` in one read (None: not stamped)."""
    names = list(names)
    found = {name: stamp for name, stamp in session.execute(_stamps(), {"names": names})}
    return {name: found.get(name) for name in names}


@cache  # built once, run with each call's names
def _stamps() -> Select[str, str]:
    return select(CacheStamp.name, CacheStamp.stamp).where(
        CacheStamp.name.in_(bindparam("names", expanding=True))
    )


class StampedCache:
    """Values built from stamped rows, kept per database and name while the stamp holds."""

    def __init__(self, kept: int = KEPT) -> None:
        self._values: OrderedDict[tuple[str, str], tuple[str, Any]] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    def get(self, session: Session, name: str, build: Callable[[], T], stamp: str | None = "") -> T:
        """The value kept for ``name`` if its stamp still holds, else ``build()`` (kept under
        the stamp read before building: what it builds is at least that new). ``stamp``: the
        stamp the caller just read in this transaction (default: read it here)."""
        if stamp == "":
            stamp = current(session, name)
        if stamp is None:
            return build()
        key = (str(session.get_bind().engine.url), name)
        with self._lock:
            found = self._values.get(key)
            if found is not None and found[0] == stamp:
                self._values.move_to_end(key)
                return found[1]  # type: ignore[no-any-return]
        value = build()
        with self._lock:
            self._values[key] = (stamp, value)
            self._values.move_to_end(key)
            while len(self._values) > self._kept:
                self._values.popitem(last=False)
        return value

    def peek(self, session: Session, name: str, stamp: str | None) -> Any:
        """The value kept for ``name`` under ``stamp`` (as just read), or None: nothing built."""
        key = (str(session.get_bind().engine.url), name)
        with self._lock:
            found = self._values.get(key)
        return found[1] if stamp is not None and found is not None and found[0] == stamp else None

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


# ----------------------------------------------------------------------------- re-stamping


def restamp(session: Session, names: Iterable[str]) -> None:
    """Give each name a new stamp (creating its row), in the session's transaction."""
    names = sorted(set(names))
    if not names:
        return
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for name in names:
        statement = dialect.insert(CacheStamp).values(name=name, stamp=uuid.uuid4().hex)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["name"], set_={"stamp": statement.excluded.stamp}
            )
        )


def _restamp_all_helpers(session: Session) -> None:
    _restamp_like(session, "helpers:%")


def _restamp_like(session: Session | Connection, pattern: str) -> None:
    connection = session.connection() if isinstance(session, Session) else session
    connection.execute(
        update(CacheStamp).where(CacheStamp.name.like(pattern)).values(stamp=uuid.uuid4().hex)
    )


def restamp_all_circles(session: Session | Connection) -> None:
    """Every street's circles restamped (a bulk change of what they are counted from)."""
    _restamp_like(session, "circles:%")


def _changed_names(session: Session) -> tuple[set[str], bool, bool]:
    """The stamps the pending changes touch, whether some helper's street is unknown, and
    whether some circle's street is (every street's circles are then restamped)."""
    names: set[str] = set()
    unknown = every_circle = False
    stamped = (*CATALOGUE_TABLES, Street, HelperRow, ResidentRow, OrderRow, CirclePair)
    dirty = [
        o
        for o in session.dirty
        if isinstance(o, stamped) and session.is_modified(o, include_collections=False)
    ]
    for obj in (*session.new, *dirty, *session.deleted):
        if isinstance(obj, CATALOGUE_TABLES):
            names.add(CATALOGUE)
        elif isinstance(obj, Street):
            names.update((helpers_name(obj.id), circles_name(obj.id)))
        elif isinstance(obj, HelperRow):
            streets = _streets(obj)
            unknown |= None in streets
            names.update(helpers_name(s) for s in streets if s is not None)
        elif isinstance(obj, OrderRow) and obj in session.dirty and not _order_changed(obj):
            continue  # a status change within the living ones: the circles read none of it
        elif isinstance(obj, ResidentRow | OrderRow):
            streets = _streets(obj)
            every_circle |= None in streets
            names.update(circles_name(s) for s in streets if s is not None)
        elif isinstance(obj, CirclePair):
            every_circle = True  # a staff choice: rare, and the row names no street
    return names, unknown, every_circle


def _streets(obj: Any) -> set[int | None]:
    return {obj.street_id, *get_history(obj, "street_id").deleted}


def _living_status_only(state: ORMExecuteState) -> bool:
    """Whether the statement only moves orders between statuses other than cancelled (and bumps
    their version): what every offer answer and claim does, and nothing the circles read."""
    table = getattr(state.statement, "table", None)
    if not state.is_update or getattr(table, "name", None) != OrderRow.__tablename__:
        return False
    values = getattr(state.statement, "_values", None) or {}
    columns = {getattr(c, "key", str(c)) for c in values}
    if not columns <= {"status", "version"}:
        return False
    status = values.get(next((c for c in values if getattr(c, "key", None) == "status"), None))
    if status is None:
        return True  # the version alone
    given = getattr(status, "value", None)
    if getattr(status, "key", None) == "status" and given is None:  # bound at execution
        params = state.parameters
        rows: Sequence[Mapping[str, Any]] = (
            params if isinstance(params, Sequence) else [params or {}]
        )
        statuses = {row.get("status") for row in rows}
    else:
        statuses = {given}
    return None not in statuses and OrderStatus.CANCELLED not in statuses


def _order_changed(order: OrderRow) -> bool:
    if any(get_history(order, c).has_changes() for c in _ORDER_COLUMNS):
        return True
    status = get_history(order, "status")
    cancelled = OrderStatus.CANCELLED
    return status.has_changes() and cancelled in {*status.added, *status.deleted}


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    names, unknown, every_circle = _changed_names(session)
    if CATALOGUE in names:
        session.info.pop(IN_TRANSACTION, None)
    restamp(session, names)
    if unknown:
        _restamp_all_helpers(session)
    if every_circle:
        restamp_all_circles(session)


@event.listens_for(Session, "do_orm_execute")
def _bulk_writes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    name = getattr(getattr(state.statement, "table", None), "name", None)  # ORM or Core
    if name in _CIRCLE_TABLE_NAMES:  # inserts too: the circle totals are written by statement
        if not state.session.info.get(CIRCLES_REFRESHING) and not _living_status_only(state):
            restamp_all_circles(state.session)
    elif state.is_insert:
        return  # only the circles' tables are watched for inserts
    elif name == HelperRow.__tablename__:
        _restamp_all_helpers(state.session)
    elif name in _CATALOGUE_TABLE_NAMES:
        state.session.info.pop(IN_TRANSACTION, None)
        restamp(state.session, [CATALOGUE])
