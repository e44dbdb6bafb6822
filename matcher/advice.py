"""One next step an office can take for an order left unmatched, as data (``Step``).

For each unmatched order the plan's other visits are kept as they are, and single relaxations of
one rule are tried, each for one helper or for the order or its item: the first that lets a full
team (lead skill and language included) serve the order gives the step, with that team as proof.
The steps, in the order of preference (what asks least of the office and of the resident first):

1. ``ASSIGN_NOW``: nothing to relax, a team is free now (the solver's candidate cut or the hand
   rule missed it): send it by hand.
2. ``RAISE_LIMIT``: a helper fit for the visit but at their daily limit (orders or minutes) takes
   one more; the helper with the fewest visits in the plan, then the nearest, is asked.
3. ``EXTEND_RADIUS``: the nearest helper fit for the visit but living beyond their own radius goes
   that far once.
4. ``MOVE_WINDOW``: the window (same length) moves to the nearest time, on the half hour between
   07:00 and 21:00, at which a team is free.
5. ``WIDEN_DISTANCE``: the item's maximum distance grows to the smallest half kilometre that
   brings in enough helpers.
6. ``SMALLER_TEAM``: a team of the largest smaller size is sent.
7. ``ADD_SKILL``: the nearest helper who is free and near but lacks a skill (or the resident's
   language) would fit: the office checks the ledger or finds someone who has it.
8. ``FIND_HELPER``: no single change is enough (a helper from outside, another day).

The step agrees with the order's reason: only the steps ``STEPS`` lists for it are tried (a
funnel reason names the first rule no team passes, so only relaxing that rule or an earlier one
can help). An order whose reason is not a funnel one (the plan took its helpers) is first judged
on every capacity step, and its reason then follows the step: ``AT_LIMIT`` for a raised limit,
``NOT_FREE`` for a moved window (``OUTRANKED`` stays: the rival took the helpers either way).

``relax`` makes the problem in which the step is taken: there the step's team, added to the plan,
breaks no rule (``matcher.verify.check_plan``); that is what the tests check.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from matcher.candidates import Eligibility, OrderContext
from matcher.model import Problem, replace
from matcher.result import Reason, Step, StepKind, Window
from matcher.travel import TravelTable

Plan = tuple[list[int], int | None]  # helper indices and start of a covered order

CAPACITY_STEPS = (
    StepKind.ASSIGN_NOW,
    StepKind.RAISE_LIMIT,
    StepKind.EXTEND_RADIUS,
    StepKind.MOVE_WINDOW,
    StepKind.WIDEN_DISTANCE,
    StepKind.SMALLER_TEAM,
)
# The steps tried for each reason, in order; FIND_HELPER is every reason's last resort.
STEPS: dict[Reason, tuple[StepKind, ...]] = {
    Reason.NO_SKILL: (StepKind.SMALLER_TEAM, StepKind.ADD_SKILL),
    Reason.OUT_OF_REACH: (
        StepKind.EXTEND_RADIUS,
        StepKind.WIDEN_DISTANCE,
        StepKind.SMALLER_TEAM,
    ),
    Reason.NOT_FREE: tuple(k for k in CAPACITY_STEPS if k is not StepKind.RAISE_LIMIT),
    Reason.AT_LIMIT: tuple(k for k in CAPACITY_STEPS if k is not StepKind.MOVE_WINDOW),
    Reason.OUTRANKED: CAPACITY_STEPS,
}
DAY = (7 * 60, 21 * 60)  # the hours a moved window may take
SHIFT = 30  # minutes between the moved windows tried
MOVE_POOL = 60  # the nearest helpers judged for a moved window
KM_TOLERANCE = 1e-9


@dataclass
class Day:
    """What the plan leaves of every helper's day: visits, minutes, and trips (timed)."""

    visits: np.ndarray
    minutes: np.ndarray
    trips: dict[int, list[tuple[int, int]]]


def plan_day(
    eligibility: Eligibility, contexts: list[OrderContext], covered: Mapping[int, Plan]
) -> Day:
    problem = eligibility.problem
    visits = np.zeros(len(problem.helpers), dtype=np.int64)
    minutes = np.zeros(len(problem.helpers), dtype=np.int64)
    trips: dict[int, list[tuple[int, int]]] = {}
    for order_index, (team, start) in covered.items():
        ctx = contexts[order_index]
        for helper in team:
            leg = eligibility.travel.leg(problem.helpers[helper], ctx.order)
            trip = leg.minutes_round_trip if leg else 0
            visits[helper] += 1
            minutes[helper] += ctx.duration + trip
            if ctx.timed and start is not None:
                out = (trip + 1) // 2
                trips.setdefault(helper, []).append(
                    (start - out, start + ctx.duration + trip - out)
                )
    return Day(visits, minutes, trips)


class _Order:
    """One unmatched order judged helper by helper against what the plan leaves of the day."""

    def __init__(self, eligibility: Eligibility, day: Day, ctx: OrderContext) -> None:
        self.ctx, self.day = ctx, day
        problem = eligibility.problem
        self.problem = problem
        item, resident = ctx.item, problem.resident(ctx.order.resident)
        km_rt, self.trip, present = eligibility.travel.arrays_for_order(ctx.order)
        self.km = km_rt / 2
        self.usable = present.copy()
        self.usable[eligibility.blocked_from(resident.id)] = False
        self.skilled = eligibility.skill_mask(item)
        self.lead = eligibility.lead_mask(item)
        count = len(problem.helpers)
        language = resident.language
        self.speaks = eligibility.speaker_mask(language) if language else np.ones(count, bool)
        radius, max_orders, room = eligibility.limits()
        self.radius_ok = self.km <= radius + KM_TOLERANCE
        cap = item.max_distance_km
        self.cap_ok = np.ones(count, bool) if cap is None else self.km <= cap + KM_TOLERANCE
        self.short = np.maximum(0, day.minutes + ctx.duration + self.trip - room)  # minutes
        self.orders_ok = day.visits + 1 <= max_orders
        self.limit_ok = self.orders_ok & (self.short == 0)
        self._ranges: dict[tuple[int, int, int], tuple[tuple[int, int], ...]] = {}

    # ------------------------------------------------------------------ time

    def ranges(
        self, index: int, span: tuple[int, int] | None = None
    ) -> tuple[tuple[int, int], ...]:
        """Starts in ``span`` (default: the order's) at which the trip fits their free time."""
        lo, hi = span or self.ctx.start_range or (0, 0)
        key = (index, lo, hi)
        if key not in self._ranges:
            trip = int(self.trip[index])
            out, back = (trip + 1) // 2, trip - (trip + 1) // 2
            found = []
            for start, end in self._free(index):
                first, last = max(lo, start + out), min(hi, end - self.ctx.duration - back)
                if first <= last:
                    found.append((first, last))
            self._ranges[key] = tuple(found)
        return self._ranges[key]

    def _free(self, index: int) -> list[tuple[int, int]]:
        """The helper's availability with the plan's trips taken out (touching ends are fine)."""
        windows = [(w.start, w.end) for w in self.problem.helpers[index].availability]
        for lo, hi in self.day.trips.get(index, ()):
            pieces = []
            for start, end in windows:
                if start < lo:
                    pieces.append((start, min(end, lo)))
                if end > hi:
                    pieces.append((max(start, hi), end))
            windows = [(a, b) for a, b in pieces if b > a]
        return windows

    def time_ok(self, mask: np.ndarray) -> np.ndarray:
        """``mask`` narrowed to helpers with a free start (all of them for an untimed order)."""
        if not self.ctx.timed:
            return mask
        out = mask.copy()
        for index in np.flatnonzero(mask).tolist():
            out[index] = bool(self.ranges(index))
        return out

    # ------------------------------------------------------------------ teams

    def nearest(self, mask: np.ndarray) -> list[int]:
        indices = np.flatnonzero(mask)
        return indices[np.argsort(self.km[indices], kind="stable")].tolist()

    def team(
        self,
        pool: list[int],
        must: int | None = None,
        size: int | None = None,
        span: tuple[int, int] | None = None,
        granted: bool = False,
    ) -> tuple[list[int], int | None] | None:
        """A team of ``size`` (default: the order's) from ``pool`` (nearest first) with ``must``
        in it, the lead skill and the language, and for a timed order a start all share
        (``granted``: ``must`` counts as holding the lead skill and the language)."""
        size = size or self.ctx.team
        if not self.ctx.timed:
            team = self._pick(pool, must, size, granted)
            return (team, None) if team else None
        spans = {i: self.ranges(i, span) for i in pool}
        points = sorted({a for i in pool for a, _ in spans[i]})
        for point in points:
            here = [i for i in pool if any(a <= point <= b for a, b in spans[i])]
            if must is not None and must not in here:
                continue
            team = self._pick(here, must, size, granted)
            if team:
                return team, point
        return None

    def _pick(
        self, pool: list[int], must: int | None, size: int, granted: bool
    ) -> list[int] | None:
        team = [must] if must is not None else []
        rest = [i for i in pool if i != must]

        def has(mask: np.ndarray) -> bool:
            return any(mask[i] or (granted and i == must) for i in team)

        if self.ctx.needs_lead and not has(self.lead):
            both = [i for i in rest if self.lead[i] and self.speaks[i]]
            leads = (
                both
                if self.ctx.needs_language and not has(self.speaks) and both
                else [i for i in rest if self.lead[i]]
            )
            if not leads:
                return None
            team.append(leads[0])
            rest.remove(leads[0])
        if self.ctx.needs_language and not has(self.speaks):
            speakers = [i for i in rest if self.speaks[i]]
            if not speakers:
                return None
            team.append(speakers[0])
            rest.remove(speakers[0])
        team += rest[: max(0, size - len(team))]
        return team if len(team) == size else None


def advise(
    eligibility: Eligibility,
    ctx: OrderContext,
    day: Day,
    kinds: Iterable[StepKind],
) -> Step:
    """The first of ``kinds`` that would let a team serve the order, else FIND_HELPER."""
    judged = _Order(eligibility, day, ctx)
    base = judged.usable & judged.skilled & judged.radius_ok & judged.cap_ok
    free = judged.time_ok(base & judged.limit_ok)
    for kind in kinds:
        step = _TRIES[kind](judged, free)
        if step is not None:
            return step
    return Step(kind=StepKind.FIND_HELPER)


def _ids(judged: _Order, team: list[int]) -> tuple[str, ...]:
    return tuple(sorted(judged.problem.helpers[i].id for i in team))


def _assign_now(judged: _Order, free: np.ndarray) -> Step | None:
    found = judged.team(judged.nearest(free))
    if found is None:
        return None
    team, start = found
    return Step(kind=StepKind.ASSIGN_NOW, team=_ids(judged, team), start=start,
                count=int(free.sum()))  # fmt: skip


def _one_more(judged: _Order, free: np.ndarray, asked: np.ndarray, kind: StepKind) -> Step | None:
    """Each of the ``asked`` helpers in turn (fewest visits, then nearest), with the free ones."""
    pool = judged.nearest(free)
    order = sorted(judged.nearest(asked), key=lambda i: judged.day.visits[i])
    for helper in order:
        found = judged.team(sorted([*pool, helper], key=lambda i: judged.km[i]), must=helper)
        if found is None:
            continue
        team, start = found
        km = float(judged.km[helper])
        raising = kind is StepKind.RAISE_LIMIT
        return Step(
            kind=kind,
            helper=judged.problem.helpers[helper].id,
            team=_ids(judged, team),
            start=start,
            count=len(order),
            km=round(km, 3) if raising else math.ceil(km * 10) / 10,
            minutes=int(judged.short[helper]) if raising and judged.orders_ok[helper] else None,
        )
    return None


def _raise_limit(judged: _Order, free: np.ndarray) -> Step | None:
    base = judged.usable & judged.skilled & judged.radius_ok & judged.cap_ok
    return _one_more(judged, free, judged.time_ok(base & ~judged.limit_ok), StepKind.RAISE_LIMIT)


def _extend_radius(judged: _Order, free: np.ndarray) -> Step | None:
    far = judged.usable & judged.skilled & ~judged.radius_ok & judged.cap_ok & judged.limit_ok
    return _one_more(judged, free, judged.time_ok(far), StepKind.EXTEND_RADIUS)


def _move_window(judged: _Order, free: np.ndarray) -> Step | None:
    ctx = judged.ctx
    window = ctx.order.window
    if window is None:
        return None
    fit = judged.usable & judged.skilled & judged.radius_ok & judged.cap_ok & judged.limit_ok
    pool = judged.nearest(fit)[:MOVE_POOL]
    lo, hi = min(DAY[0], window.start), max(DAY[1], window.end)
    starts = sorted(
        range(lo, hi - window.length + 1, SHIFT), key=lambda s: (abs(s - window.start), s)
    )
    for start in starts:
        if start == window.start:
            continue
        span = (start, start + window.length - ctx.duration if ctx.order.flexible_start else start)
        found = judged.team(pool, span=span)
        if found is None:
            continue
        team, begin = found
        count = sum(bool(judged.ranges(i, span)) for i in pool)
        return Step(kind=StepKind.MOVE_WINDOW, team=_ids(judged, team), start=begin, count=count,
                    window=Window(start=start, end=start + window.length))  # fmt: skip
    return None


def _widen_distance(judged: _Order, free: np.ndarray) -> Step | None:
    if judged.ctx.item.max_distance_km is None:
        return None
    beyond = judged.usable & judged.skilled & judged.radius_ok & ~judged.cap_ok & judged.limit_ok
    far = judged.nearest(judged.time_ok(beyond))
    tried: set[float] = set()
    for helper in far:
        limit = math.ceil(float(judged.km[helper]) * 2 - KM_TOLERANCE) / 2
        limit = limit if limit >= judged.km[helper] else limit + 0.5
        if limit in tried:
            continue
        tried.add(limit)
        brought = [i for i in far if judged.km[i] <= limit]
        found = judged.team(sorted([*judged.nearest(free), *brought], key=lambda i: judged.km[i]))
        if found is not None:
            team, start = found
            return Step(kind=StepKind.WIDEN_DISTANCE, team=_ids(judged, team), start=start,
                        count=len(brought), km=limit)  # fmt: skip
    return None


def _smaller_team(judged: _Order, free: np.ndarray) -> Step | None:
    pool = judged.nearest(free)
    for size in range(judged.ctx.team - 1, 0, -1):
        found = judged.team(pool, size=size)
        if found is not None:
            team, start = found
            return Step(kind=StepKind.SMALLER_TEAM, team=_ids(judged, team), start=start,
                        count=len(pool), team_size=size)  # fmt: skip
    return None


def _add_skill(judged: _Order, free: np.ndarray) -> Step | None:
    """The nearest helper near and free enough who would fit with the skills (or language) they
    lack; only what the team then still misses is asked of them."""
    ctx, problem = judged.ctx, judged.problem
    near = judged.usable & judged.radius_ok & judged.cap_ok & judged.limit_ok
    lacking = judged.time_ok(near & ~(judged.skilled & judged.lead & judged.speaks))
    pool = judged.nearest(free)
    for helper in judged.nearest(lacking):
        found = judged.team(sorted([*pool, helper], key=lambda i: judged.km[i]), must=helper,
                            granted=True)  # fmt: skip
        if found is None:
            continue
        team, start = found
        held = problem.helpers[helper]
        others = [i for i in team if i != helper]
        skills = set(ctx.item.required_skills - held.skills)
        lead = ctx.item.lead_skill
        if lead and lead not in held.skills and not any(judged.lead[i] for i in others):
            skills.add(lead)
        language = problem.resident(ctx.order.resident).language
        if language in held.languages or any(judged.speaks[i] for i in others):
            language = None
        return Step(kind=StepKind.ADD_SKILL, helper=held.id, team=_ids(judged, team), start=start,
                    km=round(float(judged.km[helper]), 3), skills=tuple(sorted(skills)),
                    language=language, count=int(lacking.sum()))  # fmt: skip
    return None


_TRIES = {
    StepKind.ASSIGN_NOW: _assign_now,
    StepKind.RAISE_LIMIT: _raise_limit,
    StepKind.EXTEND_RADIUS: _extend_radius,
    StepKind.MOVE_WINDOW: _move_window,
    StepKind.WIDEN_DISTANCE: _widen_distance,
    StepKind.SMALLER_TEAM: _smaller_team,
    StepKind.ADD_SKILL: _add_skill,
}


def relax(problem: Problem, order_id: str, step: Step) -> Problem:
    """``problem`` with the step taken (the one rule it relaxes, for that helper, order or item)."""
    order = problem.order(order_id)
    kind = step.kind
    if kind is StepKind.RAISE_LIMIT and step.helper:
        helper = problem.helper(step.helper)
        leg_minutes = _trip_minutes(problem, step.helper, order_id)
        minutes = helper.max_minutes + problem.duration(order) + leg_minutes
        changed = replace(helper, max_orders=helper.max_orders + 1, max_minutes=minutes)
        return _with_helper(problem, changed)
    if kind is StepKind.EXTEND_RADIUS and step.helper and step.km:
        helper = problem.helper(step.helper)
        return _with_helper(problem, replace(helper, radius_km=max(helper.radius_km, step.km)))
    if kind is StepKind.ADD_SKILL and step.helper:
        helper = problem.helper(step.helper)
        languages = helper.languages | ({step.language} if step.language else set())
        changed = replace(helper, skills=helper.skills | set(step.skills), languages=languages)
        return _with_helper(problem, changed)
    if kind is StepKind.MOVE_WINDOW and step.window:
        moved = replace(order, window=step.window.model_dump())
        return _with_order(problem, moved)
    if kind is StepKind.SMALLER_TEAM and step.team_size:
        return _with_order(problem, replace(order, team_size=step.team_size))
    if kind is StepKind.WIDEN_DISTANCE and step.km:
        item = replace(problem.item_of(order), max_distance_km=step.km)
        items = tuple(item if i.code == item.code else i for i in problem.catalogue.items)
        return replace(problem, catalogue=replace(problem.catalogue, items=items))
    return problem


def _trip_minutes(problem: Problem, helper_id: str, order_id: str) -> int:
    leg = TravelTable(problem).leg(problem.helper(helper_id), problem.order(order_id))
    return leg.minutes_round_trip if leg else 0


def _with_helper(problem: Problem, changed: object) -> Problem:
    helpers = tuple(changed if h.id == changed.id else h for h in problem.helpers)  # type: ignore[attr-defined]
    return replace(problem, helpers=helpers)


def _with_order(problem: Problem, changed: object) -> Problem:
    orders = tuple(changed if o.id == changed.id else o for o in problem.orders)  # type: ignore[attr-defined]
    return replace(problem, orders=orders)
