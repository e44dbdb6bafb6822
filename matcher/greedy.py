"""The office's hand rule: highest priority first, each order to the nearest qualified free helpers.

This is the baseline every figure is compared with, and CP-SAT's starting point. Orders are taken
by weight (priority, resident weight and days waited), then by earliest start; each gets the
nearest helpers who hold the skills, are within reach, and are free at the earliest start at which
a full team (with lead skill and language) can be formed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from itertools import islice

from matcher.candidates import Candidate, Eligibility, OrderContext
from matcher.model import MINUTES_PER_DAY, Problem
from matcher.travel import Leg

START_POOL = 20  # nearest helpers with room whose free slots are tried as start times


@dataclass
class HelperDay:
    """A helper's day as the hand rule books it: how many orders and minutes are left, and the
    stretches already taken (travel included)."""

    orders_left: int
    minutes_left: int
    busy: list[tuple[int, int]] = field(default_factory=list)  # occupied [begin, end)


@dataclass
class GreedyOutcome:
    assignments: dict[int, tuple[list[int], int | None]]  # order index -> (helpers, start)
    teams: dict[int, list[Candidate]]  # order index -> the candidates sent (legs as booked)
    pin_errors: list[str]
    runtime_s: float


class _Lazy:
    """An order's skill-and-reach helpers, nearest first, turned into candidates on demand: the
    head of its ranking first (``Eligibility.ranked_head``), more only when the walk passes it."""

    def __init__(self, eligibility: Eligibility, ctx: OrderContext) -> None:
        self.eligibility, self.ctx = eligibility, ctx
        self.head = eligibility.ranked_head(ctx)
        self.cache: list[Candidate] = []
        # The order's candidate list was made from the same ranking: reuse what it holds.
        self.made = {c.helper: c for c in ctx.candidates}

    def __iter__(self):  # type: ignore[no-untyped-def]
        position = 0
        while True:
            if position == len(self.cache):
                if position == len(self.head.indices):
                    if self.head.complete:
                        return
                    self.head = self.eligibility.ranked_more(self.ctx)
                    if position == len(self.head.indices):
                        return
                self.cache.append(self._make(position))
            yield self.cache[position]
            position += 1

    def _make(self, position: int) -> Candidate:
        leg = Leg(float(self.head.km[position]), int(self.head.minutes[position]))
        index = int(self.head.indices[position])
        made = self.made.get(index)
        if made is not None and made.leg == leg:
            return made
        return self.eligibility.candidate(self.ctx, index, leg)


def greedy_assign(
    problem: Problem, eligibility: Eligibility, contexts: list[OrderContext]
) -> GreedyOutcome:
    """Run the hand rule; pinned orders are placed first with their pinned helpers."""
    began = time.perf_counter()
    days = [HelperDay(h.max_orders, h.max_minutes - h.committed_minutes) for h in problem.helpers]
    chosen: dict[int, tuple[list[int], int | None]] = {}
    teams: dict[int, list[Candidate]] = {}
    pin_errors: list[str] = []
    ranked = sorted(contexts, key=lambda c: (not c.pinned, -c.weight, _earliest(c), c.order.id))
    for ctx in ranked:
        if ctx.blocked_reason is not None and not ctx.pinned:
            continue
        team = _place(eligibility, ctx, days)
        if team is None:
            if ctx.pinned:
                pin_errors.append(f"order {ctx.order.id!r}: pinned helpers cannot all serve it")
            continue
        helpers, start = team
        for candidate in helpers:
            book(days[candidate.helper], ctx, candidate, start)
        chosen[ctx.index] = ([c.helper for c in helpers], start)
        teams[ctx.index] = helpers
    return GreedyOutcome(chosen, teams, pin_errors, time.perf_counter() - began)


def _earliest(ctx: OrderContext) -> int:
    return ctx.start_range[0] if ctx.start_range else MINUTES_PER_DAY


def _place(
    eligibility: Eligibility, ctx: OrderContext, days: list[HelperDay]
) -> tuple[list[Candidate], int | None] | None:
    lazy = _Lazy(eligibility, ctx)
    # Every pinned helper who can serve the order on their own account is a candidate (see
    # ``candidates._check_pins``); one who cannot is a pin error either way.
    by_helper = {c.helper: c for c in ctx.candidates}
    pinned = [by_helper[i] for i in ctx.pinned if i in by_helper]
    if len(pinned) < len(ctx.pinned):
        return None
    for start in _start_options(ctx, lazy, days, pinned):
        team = _team_at(ctx, lazy, days, start, pinned)
        if team is not None:
            return team, start
    return None


def _start_options(
    ctx: OrderContext, lazy: _Lazy, days: list[HelperDay], pinned: list[Candidate]
) -> list[int | None]:
    """Untimed: no start. Timed: the earliest free starts of the pinned helpers and of the
    nearest helpers with room (the office tries the earliest slot its nearest helpers can do)."""
    if ctx.start_range is None:
        return [None]
    lo, hi = ctx.start_range
    if lo == hi:
        return [lo]
    # Pinned helpers' free slots first; then, pinned or not, the nearest helpers with room.
    nearest = islice((c for c in lazy if _has_room(ctx, c, days)), START_POOL)
    pool = [*pinned, *nearest]
    options: list[int | None] = []
    for candidate in pool:
        start = earliest_free_start(ctx, candidate, days[candidate.helper])
        if start is not None and start not in options:
            options.append(start)
    return sorted(options, key=lambda start: start or 0)


def _has_room(ctx: OrderContext, candidate: Candidate, days: list[HelperDay]) -> bool:
    return _free(ctx, candidate, days[candidate.helper], None)


def earliest_free_start(ctx: OrderContext, candidate: Candidate, day: HelperDay) -> int | None:
    """The first start in the candidate's allowed ranges whose visit misses all busy periods."""
    leg = candidate.leg
    for first, last in candidate.starts or ():
        start = first
        moved = True
        while moved and start <= last:
            moved = False
            for begin, end in day.busy:
                if (
                    start - leg.minutes_out < end
                    and begin < start + ctx.duration + leg.minutes_back
                ):
                    start, moved = end + leg.minutes_out, True
        if start <= last:
            return start
    return None


def _team_at(
    ctx: OrderContext,
    lazy: _Lazy,
    days: list[HelperDay],
    start: int | None,
    pinned: list[Candidate],
) -> list[Candidate] | None:
    """The nearest free helpers at ``start``: pinned first, then a lead-skill holder and a
    speaker of the resident's language if still missing, then the nearest others."""
    team = list(pinned)
    if not all(_free(ctx, c, days[c.helper], start) for c in team):
        return None
    wants = [lambda c: c.has_lead, lambda c: c.speaks]
    needs = [ctx.needs_lead, ctx.needs_language]
    for want, needed in zip(wants, needs, strict=True):
        if needed and not any(want(c) for c in team):
            pick = _nearest_free(ctx, lazy, days, start, team, want)
            if pick is None:
                return None
            team.append(pick)
    while len(team) < ctx.team:
        pick = _nearest_free(ctx, lazy, days, start, team, lambda c: True)
        if pick is None:
            return None
        team.append(pick)
    return team if len(team) == ctx.team else None


def _nearest_free(
    ctx: OrderContext,
    lazy: _Lazy,
    days: list[HelperDay],
    start: int | None,
    team: list[Candidate],
    want,
) -> Candidate | None:  # type: ignore[no-untyped-def]
    taken = {c.helper for c in team}
    for candidate in lazy:
        if candidate.helper in taken or not want(candidate):
            continue
        if _free(ctx, candidate, days[candidate.helper], start):
            return candidate
    return None


def _free(ctx: OrderContext, candidate: Candidate, day: HelperDay, start: int | None) -> bool:
    minutes = ctx.duration + candidate.leg.minutes_round_trip
    if day.orders_left < 1 or day.minutes_left < minutes:
        return False
    if start is None:
        return True
    if not any(first <= start <= last for first, last in candidate.starts or ()):
        return False
    begin, end = _occupied(ctx, candidate, start)
    return all(end <= b or e <= begin for b, e in day.busy)


def fitting(ctx: OrderContext, candidate: Candidate, day: HelperDay) -> Candidate | None:
    """The candidate with its allowed starts cut to those at which the visit fits ``day``
    (``_free``'s rule for every start at once), None when none does or the day has no room
    left (orders or minutes). An untimed candidate is returned as it is when there is room."""
    if not _free(ctx, candidate, day, None):
        return None
    if candidate.starts is None:
        return candidate
    leg = candidate.leg
    # A visit starting at s takes [s - out, s + duration + back): it misses [begin, end) when
    # s <= begin - duration - back or s >= end + out.
    blocked = sorted(
        (begin - ctx.duration - leg.minutes_back + 1, end + leg.minutes_out - 1)
        for begin, end in day.busy
    )
    ranges: list[tuple[int, int]] = []
    for first, last in candidate.starts:
        for low, high in blocked:
            if high < first or low > last:
                continue
            if low > first:
                ranges.append((first, low - 1))
            first = max(first, high + 1)
            if first > last:
                break
        if first <= last:
            ranges.append((first, last))
    if not ranges:
        return None
    return (
        candidate if ranges == list(candidate.starts) else replace(candidate, starts=tuple(ranges))
    )


def unbook(day: HelperDay, ctx: OrderContext, candidate: Candidate, start: int | None) -> None:
    """Take a visit ``book`` booked out of ``day`` again."""
    day.orders_left += 1
    day.minutes_left += ctx.duration + candidate.leg.minutes_round_trip
    if start is not None:
        day.busy.remove(_occupied(ctx, candidate, start))


def _occupied(ctx: OrderContext, candidate: Candidate, start: int) -> tuple[int, int]:
    leg = candidate.leg
    return start - leg.minutes_out, start + ctx.duration + leg.minutes_back


def book(day: HelperDay, ctx: OrderContext, candidate: Candidate, start: int | None) -> None:
    """Book the candidate's visit at ``start`` into ``day`` (``unbook`` takes it out again)."""
    day.orders_left -= 1
    day.minutes_left -= ctx.duration + candidate.leg.minutes_round_trip
    if start is not None:
        day.busy.append(_occupied(ctx, candidate, start))
