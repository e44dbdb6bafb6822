"""The honour roll (先锋榜): a street's helpers ranked by their volunteer hours and their points
over any period, with each one's rank in the street and in their community. Hours count by the
visit's day, points by the day they were credited (street time). Staff read their street, or
their community only."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput, Forbidden
from api.settings import Settings
from api.store.statuses import Role
from api.store.tables import Community, HelperRow, HonourDay

ORDERINGS = ("hours", "points")
MAX_PERIOD_DAYS = 366 * 10


@dataclass(frozen=True)
class HonourRow:
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
    settings: Settings,
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
    helpers = select(HelperRow.id, HelperRow.code, HelperRow.name, HelperRow.community_id).where(
        HelperRow.street_id == actor.street_id
    )
    community = actor.community_id or community_id
    people = {row.id: row for row in session.execute(helpers)}
    minutes, visits, points = _totals(session, actor.street_id, first, last)
    names = dict(
        session.execute(
            select(Community.id, Community.name).where(Community.street_id == actor.street_id)
        )
        .tuples()
        .all()
    )
    ids = [h for h in people if minutes.get(h, 0) > 0 or points.get(h, 0) > 0]

    def figures(h: int) -> tuple[int, int]:
        pair = (minutes.get(h, 0), points.get(h, 0))
        return pair if by == "hours" else (pair[1], pair[0])

    ids.sort(key=lambda h: (tuple(-f for f in figures(h)), people[h].code))
    street_ranks = _ranks(ids, figures)
    by_community: dict[int, list[int]] = defaultdict(list)
    for h in ids:
        by_community[people[h].community_id].append(h)
    community_ranks: dict[int, int] = {}
    for members in by_community.values():
        community_ranks |= _ranks(members, figures)
    rows = [
        HonourRow(
            helper_id=h,
            code=people[h].code,
            name=people[h].name,
            community_id=people[h].community_id,
            community=names.get(people[h].community_id, ""),
            minutes=minutes.get(h, 0),
            visits=visits.get(h, 0),
            points=points.get(h, 0),
            street_rank=street_ranks[h],
            community_rank=community_ranks[h],
        )
        for h in ids
        if community is None or people[h].community_id == community
    ]
    return HonourRoll(first, last, by, community, rows[:limit] if limit else rows)


def _ranks(ordered: list[int], figures: Callable[[int], tuple[int, int]]) -> dict[int, int]:
    """Competition ranks (1, 2, 2, 4) of helpers already in order."""
    ranks: dict[int, int] = {}
    previous = None
    for position, helper_id in enumerate(ordered, start=1):
        current = figures(helper_id)
        if current != previous:
            rank, previous = position, current
        ranks[helper_id] = rank
    return ranks


def _totals(
    session: Session, street_id: int, first: dt.date, last: dt.date
) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """The street's helpers' minutes, visits and points in the period, from the running totals
    (``hours.totals``: at most a row per helper and day)."""
    query = (
        select(
            HonourDay.helper_id,
            func.sum(HonourDay.minutes),
            func.sum(HonourDay.visits),
            func.sum(HonourDay.points),
        )
        .join(HelperRow, HelperRow.id == HonourDay.helper_id)
        .where(HelperRow.street_id == street_id, HonourDay.day >= first, HonourDay.day <= last)
        .group_by(HonourDay.helper_id)
    )
    minutes, visits, points = {}, {}, {}
    for helper_id, spent, count, amount in session.execute(query):
        minutes[helper_id], visits[helper_id] = int(spent or 0), int(count or 0)
        points[helper_id] = int(amount or 0)
    return minutes, visits, points
