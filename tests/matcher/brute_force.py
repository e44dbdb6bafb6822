"""Exact optimum of the coverage stage by exhaustive search, for tiny grid-aligned problems.

Written from the rules in ``matcher.model`` and ``matcher.travel``'s docstring only; it shares no
code with the solvers (nor with ``matcher.verify``), so that a misreading there cannot hide here.

The search is a branch and bound over orders (pinned first, then heaviest first): each order is
skipped or given one of its feasible teams. Order counts and minutes are booked as teams are
chosen; start times are a separate small search over the chosen timed orders on the
``step``-minute grid, kept incrementally (a new order first tries to fit around the current
starts, and only if that fails are all starts searched again). A branch is cut when covering every
remaining order that has a team at all could not beat the best plan found so far.

Exact when some optimal plan has every start on the grid; ``tests.matcher.strategies`` explains why
that holds for its grid-aligned examples, and ``best_weighted_coverage`` refuses problems whose
time data is off the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

from matcher.model import GeoTravel, Helper, Location, Order, Problem
from matcher.weights import order_weight

EARTH_RADIUS_KM = 6371.0088
KM_TOLERANCE = 1e-9

Legs = dict[tuple[int, int], tuple[float, int]]  # (helper, order) index -> round-trip km, minutes


@dataclass(frozen=True)
class _Team:
    """One way to staff an order: its members, their minutes, and when it may start."""

    members: tuple[int, ...]
    minutes: tuple[int, ...]  # per member: service plus round-trip travel
    starts: tuple[int, ...] | None  # grid starts at which every member is available; None untimed
    trips: tuple[tuple[int, int], ...]  # per member: busy (before, after) the start


@dataclass(frozen=True)
class _Job:
    index: int
    weight: int
    pinned: bool
    teams: tuple[_Team, ...]


def best_weighted_coverage(problem: Problem, wait_boost: float = 0.1, step: int = 10) -> int | None:
    """The largest total weight (``matcher.weights.order_weight``) of orders that can be covered
    together under every hard rule, with each pinned order covered by a team that includes its
    pinned helpers; ``None`` when the pins cannot all be honoured. Timed visits start on the
    ``step``-minute grid; raises ``ValueError`` when the problem's time data is off that grid
    (the answer would not be exact)."""
    legs = _legs(problem)
    _require_grid(problem, legs, step)
    jobs = [_job(problem, legs, j, wait_boost, step) for j in range(len(problem.orders))]
    if any(job.pinned and not job.teams for job in jobs):
        return None
    jobs = sorted(
        (job for job in jobs if job.teams), key=lambda job: (not job.pinned, -job.weight, job.index)
    )
    search = _Search(problem, jobs)
    search.run(0, 0, {}, {})
    return search.best if search.best >= 0 else None


# ----------------------------------------------------------------------------- travel


def _legs(problem: Problem) -> Legs:
    """Round-trip km and minutes for every (helper, order) pair that has a leg."""
    travel = problem.travel
    if not isinstance(travel, GeoTravel):
        helper_at = {h.id: i for i, h in enumerate(problem.helpers)}
        order_at = {o.id: j for j, o in enumerate(problem.orders)}
        return {
            (helper_at[g.helper], order_at[g.order]): (g.km_round_trip, g.minutes_round_trip)
            for g in travel.legs
        }
    legs = {}
    for i, helper in enumerate(problem.helpers):
        for j, order in enumerate(problem.orders):
            home = problem.resident(order.resident).location
            km = 2 * _haversine_km(helper.location, home) * travel.detour_factor
            speed = helper.speed_kmh or travel.speed_kmh
            legs[(i, j)] = (km, math.ceil(km / speed * 60 - 1e-9))
    return legs


def _haversine_km(a: Location, b: Location) -> float:
    lat_a, lat_b = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat_b - lat_a, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat_a) * math.cos(lat_b) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _out_and_back(minutes_round_trip: int) -> tuple[int, int]:
    """The travel docstring's split: out is the larger half."""
    out = (minutes_round_trip + 1) // 2
    return out, minutes_round_trip - out


def _require_grid(problem: Problem, legs: Legs, step: int) -> None:
    """Every time quantity a timed visit depends on must be a multiple of ``step``."""
    timed = {j for j, o in enumerate(problem.orders) if o.window is not None}
    values = [m for (_, j), (_, rt) in legs.items() if j in timed for m in _out_and_back(rt)]
    for j in sorted(timed):
        order = problem.orders[j]
        assert order.window is not None
        values += [order.window.start, order.window.end, problem.duration(order)]
    if timed:
        values += [b for h in problem.helpers for w in h.availability for b in (w.start, w.end)]
    off = [value for value in values if value % step]
    if off:
        raise ValueError(f"time data is not on the {step}-minute grid (e.g. {off[0]})")


# ----------------------------------------------------------------------------- teams


def _job(problem: Problem, legs: Legs, j: int, wait_boost: float, step: int) -> _Job:
    """Every team that could serve order ``j`` if it were the helpers' only order."""
    order = problem.orders[j]
    item, resident = problem.item_of(order), problem.resident(order.resident)
    duration = problem.duration(order)
    pinned = {i for i, h in enumerate(problem.helpers) if h.id in order.pinned}
    able = [i for i in range(len(problem.helpers)) if _may_serve(problem, legs, i, j)]
    grid = _grid_starts(order, duration, step)
    teams = []
    for members in combinations(able, problem.team_size(order)):
        chosen = [problem.helpers[i] for i in members]
        if (
            not pinned <= set(members)
            or (item.lead_skill and not any(item.lead_skill in h.skills for h in chosen))
            or (resident.language and not any(resident.language in h.languages for h in chosen))
        ):
            continue
        trips = []
        for i in members:
            out, back = _out_and_back(legs[(i, j)][1])
            trips.append((out, duration + back))
        starts = None
        if grid is not None:
            starts = tuple(s for s in grid if _all_available(chosen, trips, s))
            if not starts:
                continue
        minutes = tuple(duration + legs[(i, j)][1] for i in members)
        teams.append(_Team(members, minutes, starts, tuple(trips)))
    return _Job(j, order_weight(problem, order, wait_boost), bool(order.pinned), tuple(teams))


def _may_serve(problem: Problem, legs: Legs, i: int, j: int) -> bool:
    """Skills, not blocked, a leg within the helper's radius and the item's maximum distance
    (one way), and room for this visit in the helper's day."""
    helper, order = problem.helpers[i], problem.orders[j]
    item = problem.item_of(order)
    if not item.required_skills <= helper.skills or order.resident in helper.blocked_residents:
        return False
    if (i, j) not in legs:
        return False
    km_round_trip, minutes = legs[(i, j)]
    limit = min(helper.radius_km, item.max_distance_km or math.inf)
    return (
        km_round_trip / 2 <= limit + KM_TOLERANCE
        and helper.max_orders >= 1
        and helper.committed_minutes + problem.duration(order) + minutes <= helper.max_minutes
    )


def _grid_starts(order: Order, duration: int, step: int) -> list[int] | None:
    if order.window is None:
        return None
    if not order.flexible_start:
        return [order.window.start]
    return list(range(order.window.start, order.window.end - duration + 1, step))


def _all_available(helpers: list[Helper], trips: list[tuple[int, int]], start: int) -> bool:
    """Each member's whole trip lies inside one of their availability windows."""
    return all(
        any(w.start <= start - before and start + after <= w.end for w in h.availability)
        for h, (before, after) in zip(helpers, trips, strict=True)
    )


# ----------------------------------------------------------------------------- search


class _Search:
    """Branch and bound over the jobs; ``best`` is the best total weight found (-1: none)."""

    def __init__(self, problem: Problem, jobs: list[_Job]) -> None:
        self.jobs = jobs
        self.orders_left = [h.max_orders for h in problem.helpers]
        self.minutes_left = [h.max_minutes - h.committed_minutes for h in problem.helpers]
        self.best = -1
        self.tail = [sum(job.weight for job in jobs[k:]) for k in range(len(jobs) + 1)]
        # full start searches already done, by the set of (order, team) they were asked about
        self.schedules: dict[frozenset[tuple[int, _Team]], dict[int, int] | None] = {}

    def run(self, k: int, value: int, teams: dict[int, _Team], starts: dict[int, int]) -> None:
        if value + self.tail[k] <= self.best:
            return
        if k == len(self.jobs):
            self.best = value
            return
        job = self.jobs[k]
        for team in job.teams:
            if not self._book(team, +1):
                continue
            placed = self._schedule(teams, starts, job.index, team)
            if placed is not None:
                teams[job.index] = team
                self.run(k + 1, value + job.weight, teams, placed)
                del teams[job.index]
            self._book(team, -1)
        if not job.pinned:
            self.run(k + 1, value, teams, starts)

    def _book(self, team: _Team, sign: int) -> bool:
        """Take (``sign`` +1, only if it fits) or give back (-1) the team's orders and minutes."""
        pairs = list(zip(team.members, team.minutes, strict=True))
        if sign > 0 and any(self.orders_left[i] < 1 or self.minutes_left[i] < m for i, m in pairs):
            return False
        for i, m in pairs:
            self.orders_left[i] -= sign
            self.minutes_left[i] -= sign * m
        return True

    def _schedule(
        self, teams: dict[int, _Team], starts: dict[int, int], index: int, team: _Team
    ) -> dict[int, int] | None:
        """Starts for the timed orders of ``teams`` plus the new one, or None if there are none."""
        if team.starts is None:
            return starts
        for start in team.starts:
            if all(_apart(team, start, teams[o], s) for o, s in starts.items()):
                return {**starts, index: start}
        timed = {o: t for o, t in teams.items() if t.starts is not None}
        timed[index] = team
        key = frozenset(timed.items())
        if key not in self.schedules:
            self.schedules[key] = _any_schedule(timed)
        return self.schedules[key]


def _apart(a: _Team, start_a: int, b: _Team, start_b: int) -> bool:
    """No helper in both teams has overlapping trips (touching ends are fine)."""
    trips_b = dict(zip(b.members, b.trips, strict=True))
    for i, (before_a, after_a) in zip(a.members, a.trips, strict=True):
        if i not in trips_b:
            continue
        before_b, after_b = trips_b[i]
        if start_a - before_a < start_b + after_b and start_b - before_b < start_a + after_a:
            return False
    return True


def _any_schedule(timed: dict[int, _Team]) -> dict[int, int] | None:
    """Starts for all ``timed`` orders, or None: depth first, fewest remaining starts first,
    dropping from the other orders' lists the starts that clash with each choice."""
    domains = {o: team.starts or () for o, team in timed.items()}
    return _place(timed, domains, {})


def _place(
    timed: dict[int, _Team], domains: dict[int, tuple[int, ...]], chosen: dict[int, int]
) -> dict[int, int] | None:
    if len(chosen) == len(timed):
        return chosen
    order = min((o for o in timed if o not in chosen), key=lambda o: (len(domains[o]), o))
    team = timed[order]
    for start in domains[order]:
        narrowed = dict(domains)
        for other, starts in domains.items():
            if other in chosen or other == order:
                continue
            narrowed[other] = tuple(s for s in starts if _apart(team, start, timed[other], s))
            if not narrowed[other]:
                break
        else:
            found = _place(timed, narrowed, {**chosen, order: start})
            if found is not None:
                return found
    return None
