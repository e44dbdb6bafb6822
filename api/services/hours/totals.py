"""The honour roll's running totals (``honour_days``, migration 0019): per helper and street day,
the hours ledger's minutes and visits (a reversal undoes one) by the visit's day, and the points
that count towards the roll (``earned``) by the day they were credited, street time.

What counts is said here once, as the ledgers' rows grouped by helper and day (``_hours_days``,
``_points_days``): the writers add the groups of the entries they just wrote (``add_hours``,
``add_points``, in their transaction), ``rebuild`` fills the table from the whole ledgers (bulk
loads; migration 0019 filled it with this rule as it stood then, frozen as SQL), and
``problems`` (the invariant checker) compares the table with the same groups. The honour roll
then sums at most a row per helper and day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, case, delete, func, insert, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.settings import get_settings
from api.store.db import local_date
from api.store.statuses import HoursKind, PointsKind
from api.store.tables import HelperRow, HonourDay, HoursEntry, PointsEntry, RedemptionRow

Problem = tuple[str, str]
Key = tuple[int, int, dt.date]  # helper, their street, day
Figures = tuple[int, int, int]  # minutes, visits, points
Groups = Select[int, int, dt.date, int, int, int]  # helper, street, day, minutes, visits, points
COLUMNS = ("helper_id", "street_id", "day", "minutes", "visits", "points")


def earned() -> ColumnElement[bool]:
    """The points entries that count as points granted (the monthly report, the honour roll):
    every entry but the shop's — a redemption's debit, and the refund of a cancelled receipt."""
    refund = select(RedemptionRow.id).where(RedemptionRow.refund_entry_id == PointsEntry.id)
    return (PointsEntry.kind != PointsKind.REDEMPTION) & ~refund.exists()


def points_day(timezone: str) -> ColumnElement[dt.date]:
    """A points entry's day: when it was credited, street time."""
    return local_date(PointsEntry.created_at, timezone)


def _hours_days(
    where: ColumnElement[bool] | None = None,
) -> Groups:
    one = case((HoursEntry.kind == HoursKind.VISIT, 1), else_=-1)  # a reversal undoes a visit
    visit: ColumnElement[int] = func.sum(one)
    query = (
        select(
            HoursEntry.helper_id,
            HelperRow.street_id,
            HoursEntry.served_on,
            func.sum(HoursEntry.minutes),
            visit,
            literal(0),
        )
        .join(HelperRow, HelperRow.id == HoursEntry.helper_id)
        .group_by(HoursEntry.helper_id, HelperRow.street_id, HoursEntry.served_on)
    )
    return query if where is None else query.where(where)


def _points_days(timezone: str, where: ColumnElement[bool] | None = None) -> Groups:
    day = points_day(timezone)
    query = (
        select(
            PointsEntry.helper_id,
            HelperRow.street_id,
            day,
            literal(0),
            literal(0),
            func.sum(PointsEntry.amount),
        )
        .join(HelperRow, HelperRow.id == PointsEntry.helper_id)
        .where(earned())
        .group_by(PointsEntry.helper_id, HelperRow.street_id, day)
    )
    return query if where is None else query.where(where)


def add_hours(session: Session, entry_ids: Iterable[int]) -> None:
    """Add hours entries just written (flushed) to the totals, in the caller's transaction."""
    ids = sorted(set(entry_ids))
    if ids:
        _upsert(session, _hours_days(HoursEntry.id.in_(ids)))


def add_points(session: Session, entry_ids: Iterable[int], timezone: str | None = None) -> None:
    """Add points entries just written (flushed) to the totals, in the caller's transaction: those
    that count (a shop's entry adds nothing; a receipt's refund counts for nothing once the
    receipt names it, so add it after that)."""
    ids = sorted(set(entry_ids))
    if ids:
        zone = timezone or get_settings().timezone
        _upsert(session, _points_days(zone, PointsEntry.id.in_(ids)))


def _upsert(session: Session, groups: Groups) -> None:
    session.flush()
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(HonourDay).from_select(list(COLUMNS), groups)
    added = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["helper_id", "day"],
            set_={
                "minutes": HonourDay.minutes + added.minutes,
                "visits": HonourDay.visits + added.visits,
                "points": HonourDay.points + added.points,
            },
        )
    )


def rebuild(session: Session, timezone: str | None = None) -> None:
    """Fill the totals afresh from the whole ledgers (set-based: one grouped INSERT … SELECT)."""
    connection = session.connection()
    connection.execute(delete(HonourDay))
    groups = union_all(_hours_days(), _points_days(timezone or get_settings().timezone)).subquery()
    helper_id, street_id, day, minutes, visits, points = groups.c
    summed = select(
        helper_id, street_id, day, func.sum(minutes), func.sum(visits), func.sum(points)
    ).group_by(helper_id, street_id, day)
    connection.execute(insert(HonourDay).from_select(list(COLUMNS), summed))


def problems(session: Session, street_id: int | None, timezone: str | None = None) -> list[Problem]:
    """Where the totals differ from the ledgers' groups (the street's helpers, or everyone's)."""
    zone = timezone or get_settings().timezone
    expected: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    hours, points = _hours_days(), _points_days(zone)
    kept = select(HonourDay.helper_id, HonourDay.street_id, HonourDay.day, HonourDay.minutes,
                  HonourDay.visits, HonourDay.points)  # fmt: skip
    if street_id is not None:
        mine = select(HelperRow.id).where(HelperRow.street_id == street_id)
        hours = hours.where(HoursEntry.helper_id.in_(mine))
        points = points.where(PointsEntry.helper_id.in_(mine))
        kept = kept.where(HonourDay.helper_id.in_(mine))
    groups: tuple[Groups, Groups] = (hours, points)
    for query in groups:
        for helper_id, street, day, minutes, visits, amount in session.execute(query).tuples():
            figures = expected[(helper_id, street, _date(day))]
            figures[0] += int(minutes or 0)
            figures[1] += int(visits or 0)
            figures[2] += int(amount or 0)
    found: list[Problem] = []
    seen: set[Key] = set()
    for helper_id, street, day, minutes, visits, amount in session.execute(kept):
        key = (helper_id, street, _date(day))
        seen.add(key)
        want: tuple[int, ...] = tuple(expected.get(key, [0, 0, 0]))
        if (minutes, visits, amount) != want:
            found.append(_problem(key, (minutes, visits, amount), want))
    for key, figures in sorted(expected.items()):
        if key not in seen and any(figures):
            found.append(_problem(key, (0, 0, 0), tuple(figures)))
    return found


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _problem(key: Key, kept: tuple[int, ...], want: tuple[int, ...]) -> Problem:
    helper_id, street_id, day = key
    return (
        "honour_totals",
        f"helper {helper_id} (street {street_id}) on {day.isoformat()}: totals (minutes, visits, "
        f"points) {kept}, ledgers {want}",
    )
