"""The facts of each resident-helper pair, read from the database (the one place this converts):
the ledger's circle, visits (accepted members of done or confirmed visits) and their scores (the
pair's running totals, ``circles.totals``) and staff's last choice. ``matcher.circles`` decides
what they mean; the problem builder, the pages and the planner all ask through here."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.services.circles.totals import KEPT
from api.store.db import among_bound, dialect_of
from api.store.statuses import LIVE_ASSIGNMENT_STATUSES, OfferStatus
from api.store.tables import (
    AssignmentRow,
    CirclePair,
    CircleTotal,
    HelperRow,
    OfferRow,
    OrderRow,
)
from matcher.circles import (
    PairFacts,
    StaffChoice,
    Standing,
    blocked_helpers,
    continuity_weight,
    standing,
    standing_of,
)


@dataclass(frozen=True)
class PairRecord:
    """One pair's facts with what a page shows besides: when it began, the last visit, the mean
    score."""

    resident_id: int
    helper_id: int
    facts: PairFacts
    first_visit: dt.date | None = None
    last_visit: dt.date | None = None
    scores: int = 0
    mean_score: float | None = None
    added_at: dt.datetime | None = None

    @property
    def standing(self) -> Standing:
        return standing(self.facts)

    @property
    def weight(self) -> float:
        return continuity_weight(self.facts)


Pairs = dict[int, dict[int, PairRecord]]  # resident id → helper id → record


@dataclass
class _Seen:
    """What the reads found of one pair."""

    ledger: bool = False
    visits: int = 0
    first: dt.date | None = None
    last: dt.date | None = None
    low: int = 0
    good: int = 0
    scored: int = 0
    total: int = 0
    pair: CirclePair | None = None

    def record(self, resident_id: int, helper_id: int) -> PairRecord:
        pair = self.pair
        facts = PairFacts(
            in_ledger=self.ledger,
            visits=self.visits,
            low_scores=self.low,
            good_scores=self.good,
            staff=StaffChoice(pair.staff) if pair is not None and pair.staff else None,
            kept_lows=pair.kept_lows if pair is not None else 0,
        )
        return PairRecord(
            resident_id=resident_id,
            helper_id=helper_id,
            facts=facts,
            first_visit=self.first,
            last_visit=self.last,
            scores=self.scored,
            mean_score=self.total / self.scored if self.scored else None,
            added_at=pair.added_at if pair is not None else None,
        )


def pair_records(session: Session, residents: Iterable[Any], helper_id: int | None = None) -> Pairs:
    """Every pair of the residents (rows with ``id`` and ``circle``: ORM or plain) with a fact
    (in the ledger's circle, served, scored, or a staff choice); with ``helper_id``, only that
    helper's pairs. Three reads, whatever the number of residents."""
    pairs: Pairs = defaultdict(dict)
    for (r, h), seen in _read(session, residents, helper_id).items():
        pairs[r][h] = seen.record(r, h)
    return dict(pairs)


def member_ids(session: Session, residents: Iterable[Any]) -> dict[int, set[int]]:
    """Each resident's circle members (helper ids; a resident with none: absent): the members
    ``pair_records`` finds, judged by ``matcher.circles.standing_of`` on the facts as read,
    without a record each (the circle target count judges a street's tens of thousands)."""
    found: dict[int, set[int]] = defaultdict(set)
    for (r, h), seen in _read(session, residents, None).items():
        pair = seen.pair
        member = standing_of(
            in_ledger=seen.ledger,
            visits=seen.visits,
            low_scores=seen.low,
            staff=pair.staff or None if pair is not None else None,
            kept_lows=pair.kept_lows if pair is not None else 0,
        )
        if member == Standing.MEMBER:
            found[r].add(h)
    return dict(found)


def _read(
    session: Session, residents: Iterable[Any], helper_id: int | None
) -> dict[tuple[int, int], _Seen]:
    """What the three reads find of each pair of the residents (of ``helper_id`` only, if
    given)."""
    rows = {r.id: r for r in residents}
    if not rows:
        return {}
    dialect = dialect_of(session)
    bound = {"residents": list(rows)}
    found: dict[tuple[int, int], _Seen] = defaultdict(_Seen)
    for r, h, visits, first, last, low, good, scored, total in session.execute(
        _totals(dialect), bound
    ):
        if helper_id is None or h == helper_id:
            seen = found[(r, h)]
            seen.visits, seen.first, seen.last = visits, first, last
            seen.low, seen.good, seen.scored, seen.total = low, good, scored, total
    for pair in session.scalars(_choices(dialect), bound):
        if helper_id is None or pair.helper_id == helper_id:
            found[(pair.resident_id, pair.helper_id)].pair = pair
    codes = sorted({c for r in rows.values() for c in r.circle})
    by_code: dict[str, int] = {}
    if codes:
        query = select(HelperRow.code, HelperRow.id).where(HelperRow.code.in_(codes))
        by_code = {code: h for code, h in session.execute(query)}
    for resident in rows.values():
        for code in resident.circle:
            named = by_code.get(code)
            if named is not None and (helper_id is None or named == helper_id):
                found[(resident.id, named)].ledger = True
    return found


@cache
def _choices(dialect: str) -> Select[CirclePair]:
    return select(CirclePair).where(among_bound(CirclePair.resident_id, "residents", dialect))


@cache
def _totals(dialect: str) -> Select[Any]:
    """Per resident (bound as ``residents``) and helper: the pair's running totals
    (``circles.totals.KEPT``: visits served, first and last day, low and good scores, how many
    scored, their sum)."""
    return select(*KEPT).where(among_bound(CircleTotal.resident_id, "residents", dialect))


def members_of(records: dict[int, PairRecord]) -> dict[int, float]:
    """A resident's circle members (helper id → continuity weight)."""
    return {h: record.weight for h, record in records.items() if record.standing == Standing.MEMBER}


def blocked_of(pairs: Pairs) -> dict[int, set[int]]:
    """Helper id → the residents they are blocked from (two low scores)."""
    found: dict[int, set[int]] = defaultdict(set)
    for resident_id, records in pairs.items():
        facts = {str(h): record.facts for h, record in records.items()}
        for h in blocked_helpers(facts):
            found[int(h)].add(resident_id)
    return dict(found)


def blocks_for(
    session: Session, pairs: Pairs, orders: Iterable[OrderRow], pins: dict[int, list[int]]
) -> dict[int, set[int]]:
    """Helper id → residents they are blocked from, in a problem of ``orders``. A member who
    accepted one of these orders before the block came stays on it (``pins``: a re-run keeps
    accepted members): for them that resident is not blocked in this problem, so one late
    score cannot make a street's plan impossible. Claimers and new teams have accepted nothing
    yet: the block holds for them."""
    blocked = blocked_of(pairs)
    pinned = [
        (order.id, order.resident_id, h)
        for order in orders
        for h in pins.get(order.id, ())
        if order.resident_id in blocked.get(h, ())
    ]
    if not pinned:
        return blocked
    accepted = set(
        session.execute(
            select(AssignmentRow.order_id, OfferRow.helper_id)
            .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
            .where(
                AssignmentRow.order_id.in_({order_id for order_id, _, _ in pinned}),
                AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
                OfferRow.status == OfferStatus.ACCEPTED,
            )
        ).tuples()
    )
    for order_id, resident_id, h in pinned:
        if (order_id, h) in accepted:
            blocked[h].discard(resident_id)
    return blocked
