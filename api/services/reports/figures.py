"""The report's figures for a period, per grid, community and street, counted by three grouped
queries (orders with their results and ratings; follow-ups; volunteer hours and points, from the
honour roll's running totals), each grouped by community and grid, then summed up the tree
here. No per-order work in Python: a street with a year of history is counted by the database.

What each figure counts (the README repeats it for the office):

- An order belongs to the period of the date it was first asked for (``first_date``; an order
  rolled over to a later day stays in its first period), and to the community and grid of its
  resident. Cancelled orders are left out of every figure.
- ``orders``: the period's orders. ``matched``: those a team took (assigned, done or confirmed).
- ``on_time``: done (or confirmed) by the order's deadline (``due_at``; the visit's ``done_at``,
  else its confirmation). An order without a deadline (placed before deadlines existed) counts
  as on time once done.
- ``overdue``: done after its deadline, or still owed (open, offered, assigned) with the deadline
  passed at the time of the report. The rest of the orders are still within their deadline, so
  ``orders = on_time + overdue + within deadline``.
- ``completion rate`` (办结率): on time ÷ (on time + overdue): of the orders whose result was due,
  the share delivered by the deadline; orders still within their deadline are not counted yet.
- ``satisfaction`` (满意率): the share of the period's rated orders scored 4 or 5 (of 5).
- ``follow-ups``: the follow-up visits due in the period (``due_date``) and how many of them were
  done (recorded, whenever).
- ``volunteer hours``: the hours ledger's (``api.services.hours``: each confirmed member's
  minutes from check-in to check-out, else the item's planned duration; corrections and
  reversals included), by the visit's date, counted where each volunteer belongs (their
  community and grid), as volunteer records are kept — the same minutes as the certificate.
- ``points``: the net points the ledger entered in the period (base, bonus and reversals, by the
  entry's time in the street's time zone), where each volunteer belongs. A reversal lowers the
  period it is made in: a closed period's figure never changes. Points spent in the shop are
  not granted ones: a redemption's debit and a cancelled receipt's refund are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from api.store.db import dialect_of
from api.store.statuses import (
    LIVE_ASSIGNMENT_STATUSES,
    OPEN_ORDER_STATUSES,
    FollowUpStatus,
    OrderStatus,
)
from api.store.tables import (
    AssignmentRow,
    FeedbackRow,
    FollowUpRow,
    HelperRow,
    HonourDay,
    OrderRow,
    ResidentRow,
)

SATISFIED_SCORE = 4  # a rating of 4 or 5 (of 5) counts as satisfied
FINISHED = (OrderStatus.DONE, OrderStatus.CONFIRMED)
TAKEN = (OrderStatus.ASSIGNED, OrderStatus.DONE, OrderStatus.CONFIRMED)
Place = tuple[int, int | None]  # (community id, grid id or None: people of no grid)


@dataclass(frozen=True)
class Figures:
    """One row's counts; the rates are derived (None where nothing was counted)."""

    orders: int = 0
    matched: int = 0
    on_time: int = 0
    overdue: int = 0
    rated: int = 0
    satisfied: int = 0
    follow_ups_due: int = 0
    follow_ups_done: int = 0
    volunteer_minutes: int = 0
    points: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def completion_rate(self) -> float | None:
        """办结率: on time ÷ (on time + overdue)."""
        due = self.on_time + self.overdue
        return self.on_time / due if due else None

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率: rated 4 or 5 ÷ rated."""
        return self.satisfied / self.rated if self.rated else None

    @property
    def volunteer_hours(self) -> float:
        return self.volunteer_minutes / 60


def total(rows: Iterable[Figures]) -> Figures:
    result = Figures()
    for row in rows:
        result = result + row
    return result


@dataclass(frozen=True)
class Scope:
    """Whose figures: a street, or one community of it."""

    street_id: int
    community_id: int | None = None


def figures_by_place(
    session: Session,
    scope: Scope,
    start: dt.date,
    end: dt.date,
    now: dt.datetime,
) -> dict[Place, Figures]:
    """The figures of the dates ``start`` ≤ day < ``end`` (street-local) per (community, grid)
    of ``scope``; places with nothing to count are absent."""
    counted: dict[Place, dict[str, int]] = {}
    dialect = dialect_of(session)
    for query in (
        _orders(scope, start, end, now, dialect),
        _follow_ups(scope, start, end, dialect),
        _helper_totals(scope, start, end, dialect),
    ):
        for row in session.execute(query).mappings():
            place = (row["community_id"], row["grid_id"])
            values = counted.setdefault(place, {})
            for name, value in row.items():
                if name not in ("community_id", "grid_id"):
                    values[name] = int(value or 0)
    return {place: Figures(**values) for place, values in counted.items()}


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _orders(scope: Scope, start: dt.date, end: dt.date, now: dt.datetime, dialect: str) -> Any:
    """Orders, matched, on time, overdue, rated and satisfied, per the resident's place."""
    asked = func.coalesce(OrderRow.first_date, OrderRow.date)
    finished_at = func.coalesce(AssignmentRow.done_at, AssignmentRow.confirmed_at)
    finished = OrderRow.status.in_(FINISHED)
    has_deadline = OrderRow.due_at.is_not(None)
    late = and_(finished, has_deadline, finished_at.is_not(None), finished_at > OrderRow.due_at)
    owed_late = and_(OrderRow.status.in_(OPEN_ORDER_STATUSES), has_deadline, OrderRow.due_at < now)
    live = and_(
        AssignmentRow.order_id == OrderRow.id,
        AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),  # at most one per order
    )
    query = (
        select(
            ResidentRow.community_id,
            ResidentRow.grid_id,
            func.count(OrderRow.id).label("orders"),
            _count(OrderRow.status.in_(TAKEN)).label("matched"),
            _count(and_(finished, ~late)).label("on_time"),
            _count(or_(late, owed_late)).label("overdue"),
            func.count(FeedbackRow.id).label("rated"),
            _count(FeedbackRow.score >= SATISFIED_SCORE).label("satisfied"),
        )
        .select_from(OrderRow)
        .join(ResidentRow, ResidentRow.id == OrderRow.resident_id)
        .outerjoin(AssignmentRow, live)
        .outerjoin(FeedbackRow, FeedbackRow.order_id == OrderRow.id)
        .where(
            OrderRow.street_id == scope.street_id,
            # ``date`` only moves on from ``first_date`` (roll-over), so this narrows the scan
            # to the street's index without losing an order of the period.
            OrderRow.date >= start,
            asked >= start,
            asked < end,
            OrderRow.status != OrderStatus.CANCELLED,
        )
        .group_by(ResidentRow.community_id, ResidentRow.grid_id)
    )
    return _in_community(query, ResidentRow, scope, dialect)


def _follow_ups(scope: Scope, start: dt.date, end: dt.date, dialect: str) -> Any:
    """Follow-ups due in the period and how many of them were done, per the resident's place."""
    query = (
        select(
            ResidentRow.community_id,
            ResidentRow.grid_id,
            func.count(FollowUpRow.id).label("follow_ups_due"),
            _count(FollowUpRow.status == FollowUpStatus.DONE).label("follow_ups_done"),
        )
        .select_from(FollowUpRow)
        .join(OrderRow, OrderRow.id == FollowUpRow.order_id)
        .join(ResidentRow, ResidentRow.id == OrderRow.resident_id)
        .where(
            _not_searched(OrderRow.street_id, dialect) == scope.street_id,
            FollowUpRow.due_date >= start,
            FollowUpRow.due_date < end,
        )
        .group_by(ResidentRow.community_id, ResidentRow.grid_id)
    )
    return _in_community(query, ResidentRow, scope, dialect)


def _helper_totals(scope: Scope, start: dt.date, end: dt.date, dialect: str) -> Any:
    """The volunteers' minutes (the hours ledger's, reversals included, by the visit's day) and
    net points (``earned``, by the street-local day they were credited) of the period, per the
    volunteer's place: from the honour roll's running totals (``api.services.hours.totals``,
    which says what counts; at most a row per helper and day, read by the street's index)."""
    query = (
        select(
            HelperRow.community_id,
            HelperRow.grid_id,
            func.sum(HonourDay.minutes).label("volunteer_minutes"),
            func.sum(HonourDay.points).label("points"),
        )
        .select_from(HonourDay)
        .join(HelperRow, HelperRow.id == HonourDay.helper_id)
        .where(
            HonourDay.street_id == scope.street_id,
            HonourDay.day >= start,
            HonourDay.day < end,
            # The same street (the totals keep the helper's): said of the helpers too, so that
            # the join reads the street's helpers by index, not the whole city's.
            HelperRow.street_id == scope.street_id,
        )
        .group_by(HelperRow.community_id, HelperRow.grid_id)
    )
    return _in_community(query, HelperRow, scope, dialect)


def _not_searched(column: Any, dialect: str) -> Any:
    """On SQLite, ``column`` as an expression no index answers (``+ 0``): the period's
    follow-ups are a small part of the street's, so read them first and look up their orders,
    rather than walk every order of the street by its ``street_id`` index, which SQLite does
    without table statistics (300-1,500 ms against 10-40 ms for a street with a year of
    history, bench/report_bench.py). PostgreSQL, which has statistics, gets the column: hidden,
    it hash-joined the period's follow-ups with every order of the city (93 ms for the big
    street of bench/city_db_bench.py against 27 ms with the street's index)."""
    return column + 0 if dialect == "sqlite" else column


def _in_community(
    query: Any, table: type[ResidentRow] | type[HelperRow], scope: Scope, dialect: str
) -> Any:
    if scope.community_id is None:
        return query
    # The period's rows are found by date as for the street, then kept if of the community:
    # searched by community, SQLite walked the community's whole year instead.
    return query.where(_not_searched(table.community_id, dialect) == scope.community_id)
