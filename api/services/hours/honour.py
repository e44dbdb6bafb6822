"""The honour roll (先锋榜): a street's helpers ranked by their volunteer hours and their points
over any period, with each one's rank in the street and in their community. Hours count by the
visit's day, points by the day they were credited (street time). Staff read their street, or
their community only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from api.i18n import N_
from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput, Forbidden
from api.services.ledger.sheets import Value
from api.store.db import dialect_of
from api.store.statuses import Role
from api.store.tables import Community, HelperRow, HonourDay

ORDERINGS = ("hours", "points")
T = TypeVar("T")
MAX_PERIOD_DAYS = 366 * 10
SHEET_HEADERS = (
    N_("Rank in the street"), N_("Rank in the community"), N_("Ledger number"), N_("Name"),
    N_("Community"), N_("Volunteer hours"), N_("Visits"), N_("Points"),
)  # fmt: skip
SHEET_TITLE = N_("Honour roll")


class HonourRow(NamedTuple):
    """One helper on the roll (a named tuple: a city street's roll has 14,000 of them)."""

    helper_id: int
    code: str
    name: str
    community_id: int
    community: str
    minutes: int
    visits: int
    points: int
    street_rank: int
    community_rank: int

    @property
    def hours(self) -> float:
        return self.minutes / 60


@dataclass(frozen=True)
class HonourRoll:
    first: dt.date
    last: dt.date
    by: str
    community_id: int | None
    rows: list[HonourRow]


def honour_roll(
    session: Session,
    actor: Actor,
    first: dt.date,
    last: dt.date,
    by: str = "hours",
    community_id: int | None = None,
    limit: int | None = None,
) -> HonourRoll:
    """Helpers of the caller's street (or community; or ``community_id`` of it) with hours or
    points in ``first``..``last``, best first by ``by`` ("hours": hours, then points; "points":
    the other way round); ranks are competition ranks (equal figures share a rank)."""
    if actor.role != Role.STAFF or actor.street_id is None:
        raise Forbidden(_("only staff see the honour roll"))
    if by not in ORDERINGS:
        raise BadInput(_("order by hours or points"), "by")
    if last < first:
        raise BadInput(_("the period ends before it starts"), "last")
    if (last - first).days > MAX_PERIOD_DAYS:
        raise BadInput(_("a period is at most ten years"), "first")
    community = actor.community_id or community_id
    names = dict(
        session.execute(
            select(Community.id, Community.name).where(Community.street_id == actor.street_id)
        )
        .tuples()
        .all()
    )
    # Best first; equal figures by ledger number in code-point order, whatever the database's
    # collation. The street's rank is the window function's over the whole street (it depends
    # on figures only), whose sort the order reuses; the community's rows and the first
    # ``limit`` are cut in the database. A community rank counts the community's better rows,
    # which all come before it in this order: ``_community_ranks`` reads it off any head of
    # the roll, the whole street's or one community's.
    ranked = _ranked(actor.street_id, first, last, by).subquery()
    by_code: ColumnElement[Any] = ranked.c.code
    if dialect_of(session) == "postgresql":
        by_code = ranked.c.code.collate("C")  # SQLite compares texts by code point already
    one, two = _in_order(ranked.c.minutes, ranked.c.points, by)
    query = select(*ranked.c).order_by(one.desc(), two.desc(), by_code)
    if community is not None:
        query = query.where(ranked.c.community_id == community)
    if limit:
        query = query.limit(limit)
    # Read through Core, not the ORM's execute, and all at once: fetching a city street's
    # 14,000 rows one by one cost 60 ms more (bench/README.md, "A city's database").
    found = session.connection().execute(query).all()
    make = HonourRow._make  # C speed: the class's own constructor is Python
    rows = [
        make((helper_id, code, name, home, names.get(home, ""), minutes, visits, points,
              street_rank, community_rank))
        for (helper_id, code, name, home, minutes, visits, points, street_rank), community_rank
        in _community_ranks(found, by)
    ]  # fmt: skip
    return HonourRoll(first, last, by, community, rows)


def sheet_headers() -> list[str]:
    """The columns of the roll's CSV and XLSX downloads, in the reader's language."""
    return [_(header) for header in SHEET_HEADERS]


def sheet_cells(row: HonourRow) -> list[Value]:
    """A roll row as the downloads' cells (hours to a tenth)."""
    return [row.street_rank, row.community_rank, row.code, row.name, row.community,
            round(row.minutes / 60, 1), row.visits, row.points]  # fmt: skip


def _ranked(street_id: int, first: dt.date, last: dt.date, by: str) -> Select[Any]:
    """The street's helpers with hours or points in the period, from the running totals
    (``hours.totals``: at most a row per helper and day): who, their figures and their
    competition rank (1, 2, 2, 4) in the street, by ``by``'s order of the figures."""
    sums = (
        select(
            HonourDay.helper_id,
            func.sum(HonourDay.minutes).label("minutes"),
            func.sum(HonourDay.visits).label("visits"),
            func.sum(HonourDay.points).label("points"),
        )
        .where(HonourDay.street_id == street_id, HonourDay.day >= first, HonourDay.day <= last)
        .group_by(HonourDay.helper_id)
        .having(or_(func.sum(HonourDay.minutes) > 0, func.sum(HonourDay.points) > 0))
        .subquery()
    )
    one, two = _in_order(sums.c.minutes, sums.c.points, by)
    return (
        select(
            HelperRow.id,
            HelperRow.code,
            HelperRow.name,
            HelperRow.community_id,
            sums.c.minutes,
            sums.c.visits,
            sums.c.points,
            func.rank().over(order_by=(one.desc(), two.desc())).label("street_rank"),
        )
        .join(sums, sums.c.helper_id == HelperRow.id)
        .where(HelperRow.street_id == street_id)
    )


def _community_ranks(
    rows: Iterable[tuple[Any, ...]], by: str
) -> Iterator[tuple[tuple[Any, ...], int]]:
    """Each row of a roll (``_ranked``'s columns, best first) with its competition rank in its
    community: one more than the community's rows with better figures, which came before it."""
    seen: dict[int, tuple[int, tuple[int, int], int]] = {}  # community: rows, last figures, rank
    for row in rows:
        figures = _in_order(row[4], row[6], by)
        before = seen.get(row[3])
        if before is None:
            rank = count = 1
        else:
            count = before[0] + 1
            rank = before[2] if figures == before[1] else count
        seen[row[3]] = (count, figures, rank)
        yield row, rank


def _in_order(minutes: T, points: T, by: str) -> tuple[T, T]:
    """A helper's two figures (or their columns) in the order ``by`` ranks them."""
    return (minutes, points) if by == "hours" else (points, minutes)
