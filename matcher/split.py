"""A street too large for one solve, split into parts solved apart and merged into one plan.

``split_problem`` cuts the orders into parts of at most ``max_orders`` (geographic bisection:
each cut halves a region across its longer side, so a part is a compact stretch of the street;
with ``regions``, e.g. the residents' communities, a cut falls between regions where that keeps
the parts within 25 % of even).

A helper near a boundary (whose radius reaches two parts or more) is available to both sides,
but may serve only once overall, so in two rounds: first each helper belongs to one side, the
part whose orders' centre is nearest (a pinned helper to the part of their pinned order), and
the parts are solved in parallel; then one more solve (``repair_problem``) takes every order
still uncovered, on either side, with every helper who reaches it and what the first round left
them (orders, minutes and free stretches of their day). Giving the shared helpers' whole day
to each side instead and repairing the double bookings afterwards was tried first: on a street
where most helpers reach every part, the sides booked the same helpers and the repair recovered
too little (below the hand rule on a 120-order test street). ``merge`` still settles a helper
booked twice (one pinned on two sides): the side with their pinned visits, else most visits,
keeps them and the other side's orders go to the repair. The plan returned is never below the
office's hand rule on the whole street (``matcher.greedy``: taken instead when it covers more),
and is checked by ``matcher.verify``; the ``SplitRecord`` says how the street was split.

Pure: ``solve_split`` takes a ``solve_many`` that solves a list of problems (in parallel, on a
cluster, or one after another) and returns their results in order.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from matcher.model import (
    MINUTES_PER_DAY,
    Frozen,
    Helper,
    MatrixTravel,
    Order,
    Problem,
    TimeWindow,
)
from matcher.params import SolveParams
from matcher.result import Assignment, Reason, Result, Stage, Status, Unmatched
from matcher.solve import solve_greedy
from matcher.travel import TravelTable
from matcher.verify import check_plan, verify
from matcher.weights import order_weight

DEFAULT_MAX_ORDERS = 2500  # more orders than this: solved in parts (qunbang nightly --all)
KM_PER_DEG_LAT = 6371.0088 * math.pi / 180
REACH_MARGIN = 1.02  # the flat-earth distance to a part's box may be off by a little
REGION_SLACK = 0.25  # a cut between regions may move this share of a half from the middle
REPAIR_TIME_SHARE = 0.25  # of the parts' time limit, for the repair solve

SolveMany = Callable[[Sequence[Problem], SolveParams], list[Result]]


class PartFigures(Frozen):
    """One part of a split street: its size, how it was solved, what it covered."""

    orders: int
    helpers: int
    shared_helpers: int  # of its helpers, those also available to another part
    status: Status
    covered: int
    runtime_s: float


class SplitRecord(Frozen):
    """How a street was split and merged (recorded with the run's figures)."""

    by: str  # "area" or "region"
    max_orders: int
    parts: tuple[PartFigures, ...]
    shared_helpers: int  # helpers reaching two parts or more (one side's, then both in repair)
    conflicts: int  # helpers booked by two sides beyond what they can do (pinned on both)
    dropped_orders: int  # orders taken off a side for those conflicts
    repair_orders: int  # orders still uncovered after the parts, given to the repair solve
    repaired_orders: int  # of those, covered by the repair solve
    repair_runtime_s: float
    hand_rule: bool  # the hand rule covered more than the merged plan: its plan was returned
    violations: int  # the verifier's findings on the plan returned (0 when sound)


class Part(Frozen):
    """One part: a problem of its own, with the ids of its helpers shared with another part."""

    problem: Problem
    shared: frozenset[str]


# ----------------------------------------------------------------------------- split


def split_problem(
    problem: Problem, max_orders: int, regions: Mapping[str, str] | None = None
) -> list[Part]:
    """Parts of at most ``max_orders`` orders each (one part when the street is that small).
    ``regions`` maps a resident id to a region name (e.g. their community)."""
    if max_orders < 1:
        raise ValueError("max_orders must be at least 1")
    count = max(1, math.ceil(len(problem.orders) / max_orders))
    groups = _bisect(problem, list(problem.orders), count, regions or {})
    reach = _reach_sets(problem, groups)
    holders: dict[str, int] = defaultdict(int)
    for helpers in reach:
        for helper_id in helpers:
            holders[helper_id] += 1
    own = _home_sides(problem, groups, reach)
    return [
        Part(
            problem=_part_problem(problem, orders, mine),
            shared=frozenset(h for h in mine if holders[h] > 1),
        )
        for orders, mine in zip(groups, own, strict=True)
    ]


def _home_sides(
    problem: Problem, groups: list[list[Order]], reach: list[set[str]]
) -> list[set[str]]:
    """Per group, the helpers it has in the first round. Each helper goes to one group it
    reaches: the nearest (by the groups' centres) while that group has fewer helpers than its
    share of the orders asks, else the nearest with room; helpers with the clearest preference
    choose first. The helpers pinned to a group's orders are always its."""
    centres = [_centre(problem, orders) for orders in groups]
    shrink = math.cos(math.radians(centres[0][0])) if centres else 1.0
    total = sum(len(orders) for orders in groups)
    choices: list[tuple[float, str, list[int]]] = []
    for helper in problem.helpers:
        sides = [i for i, helpers in enumerate(reach) if helper.id in helpers]
        if not sides:
            continue
        lat, lon = helper.location.lat, helper.location.lon
        far = {i: (centres[i][0] - lat) ** 2 + ((centres[i][1] - lon) * shrink) ** 2 for i in sides}
        ranked = sorted(sides, key=lambda i: far[i])
        margin = far[ranked[1]] - far[ranked[0]] if len(ranked) > 1 else math.inf
        choices.append((-margin, helper.id, ranked))
    room = [math.ceil(len(choices) * len(orders) / total) if total else 0 for orders in groups]
    own: list[set[str]] = [set() for _ in groups]
    for _margin, helper_id, ranked in sorted(choices):
        home = next((i for i in ranked if len(own[i]) < room[i]), ranked[0])
        own[home].add(helper_id)
    for orders, mine in zip(groups, own, strict=True):
        mine.update(h for o in orders for h in o.pinned)
    return own


def _centre(problem: Problem, orders: Sequence[Order]) -> tuple[float, float]:
    where = [problem.resident(o.resident).location for o in orders]
    return sum(p.lat for p in where) / len(where), sum(p.lon for p in where) / len(where)


def _bisect(
    problem: Problem, orders: list[Order], count: int, regions: Mapping[str, str]
) -> list[list[Order]]:
    """``orders`` in ``count`` groups of near-equal size, cutting across the longer side."""
    if count <= 1 or len(orders) <= 1:
        return [orders]
    where = [problem.resident(o.resident).location for o in orders]
    lats, lons = [p.lat for p in where], [p.lon for p in where]
    wide = (max(lons) - min(lons)) * math.cos(math.radians(sum(lats) / len(lats)))
    along_lon = wide > max(lats) - min(lats)
    coordinate = lons if along_lon else lats
    position = {o.id: c for o, c in zip(orders, coordinate, strict=True)}
    centre = _region_centres(problem, orders, position, regions)

    def key(order: Order) -> tuple[float, str, float, str]:
        region = regions.get(order.resident, "")
        return (centre.get(region, position[order.id]), region, position[order.id], order.id)

    ordered = sorted(orders, key=key)
    left = count // 2
    cut = _cut(ordered, round(len(ordered) * left / count), regions)
    return _bisect(problem, ordered[:cut], left, regions) + _bisect(
        problem, ordered[cut:], count - left, regions
    )


def _region_centres(
    problem: Problem, orders: list[Order], position: dict[str, float], regions: Mapping[str, str]
) -> dict[str, float]:
    """The mean position of each region's orders (regions move across a cut as a whole)."""
    sums: dict[str, list[float]] = defaultdict(list)
    for order in orders:
        region = regions.get(order.resident)
        if region is not None:
            sums[region].append(position[order.id])
    return {region: sum(values) / len(values) for region, values in sums.items()}


def _cut(ordered: list[Order], target: int, regions: Mapping[str, str]) -> int:
    """The cut nearest ``target`` that falls between two regions, if one is near enough."""
    if not regions:
        return target
    slack = max(1, round(target * REGION_SLACK))
    names = [regions.get(o.resident, "") for o in ordered]
    for offset in range(slack + 1):
        for cut in (target - offset, target + offset):
            if 0 < cut < len(ordered) and names[cut - 1] != names[cut]:
                return cut
    return target


def _reach_sets(problem: Problem, groups: list[list[Order]]) -> list[set[str]]:
    """Per group, the helpers that may serve one of its orders: reaching its area (geo travel),
    having a leg to one of its orders (matrix travel), or pinned to one of them."""
    helpers = problem.helpers
    sets: list[set[str]] = []
    if isinstance(problem.travel, MatrixTravel):
        by_order: dict[str, set[str]] = defaultdict(set)
        for leg in problem.travel.legs:
            by_order[leg.order].add(leg.helper)
        for orders in groups:
            sets.append({h for o in orders for h in by_order[o.id]})
    else:
        lat = np.array([h.location.lat for h in helpers])
        lon = np.array([h.location.lon for h in helpers])
        radius = np.array([h.radius_km for h in helpers]) * REACH_MARGIN
        for orders in groups:
            where = [problem.resident(o.resident).location for o in orders]
            lat0, lat1 = min(p.lat for p in where), max(p.lat for p in where)
            lon0, lon1 = min(p.lon for p in where), max(p.lon for p in where)
            dlat = np.maximum(0.0, np.maximum(lat0 - lat, lat - lat1)) * KM_PER_DEG_LAT
            shrink = np.cos(np.radians(np.minimum(np.abs(lat), 89.0)))
            dlon = np.maximum(0.0, np.maximum(lon0 - lon, lon - lon1)) * KM_PER_DEG_LAT * shrink
            near = np.hypot(dlat, dlon) <= radius
            sets.append({helpers[i].id for i in np.flatnonzero(near)})
    for orders, chosen in zip(groups, sets, strict=True):
        chosen.update(h for o in orders for h in o.pinned)
    return sets


def _part_problem(problem: Problem, orders: Sequence[Order], helper_ids: set[str]) -> Problem:
    """The sub-problem of ``orders`` with the helpers ``helper_ids`` (in the street's order);
    references to people outside it (circles, blocked residents) are dropped."""
    helpers = [h for h in problem.helpers if h.id in helper_ids]
    return _subproblem(problem, orders, helpers)


def _subproblem(problem: Problem, orders: Sequence[Order], helpers: Sequence[Helper]) -> Problem:
    resident_ids = {o.resident for o in orders}
    helper_ids = {h.id for h in helpers}
    residents = [
        r
        if set(r.circle) <= helper_ids
        else r.model_copy(update={"circle": _kept(r.circle, helper_ids)})
        for r in problem.residents
        if r.id in resident_ids
    ]
    helpers = [
        h
        if h.blocked_residents <= resident_ids
        else h.model_copy(update={"blocked_residents": h.blocked_residents & resident_ids})
        for h in helpers
    ]
    travel = problem.travel
    if isinstance(travel, MatrixTravel):
        order_ids = {o.id for o in orders}
        legs = tuple(
            leg for leg in travel.legs if leg.order in order_ids and leg.helper in helper_ids
        )
        travel = MatrixTravel(legs=legs)
    return Problem.model_construct(
        date=problem.date,
        catalogue=problem.catalogue,
        helpers=tuple(helpers),
        residents=tuple(residents),
        orders=tuple(orders),
        travel=travel,
    )


def _kept(ids: Sequence[str], keep: set[str]) -> tuple[str, ...]:
    return tuple(i for i in ids if i in keep)


# ----------------------------------------------------------------------------- merge


class Merged(Frozen):
    """The sides' plans joined: what is kept, and the orders dropped for conflicts."""

    assignments: tuple[Assignment, ...]
    unmatched: tuple[Unmatched, ...]
    dropped: tuple[str, ...]
    conflicts: int


def merge(problem: Problem, results: Sequence[Result]) -> Merged:
    """Join the parts' plans; a helper booked by two sides beyond what they can do keeps the
    bookings of one side (the one with their pinned visits, else most visits, else the first)."""
    side_of: dict[str, int] = {}
    for index, result in enumerate(results):
        for assignment in result.assignments:
            side_of[assignment.order] = index
    every = [a for r in results for a in r.assignments]
    sides_of: dict[str, set[int]] = defaultdict(set)
    for assignment in every:
        for helper_id in assignment.helpers:
            sides_of[helper_id].add(side_of[assignment.order])
    twice = {h for h, sides in sides_of.items() if len(sides) > 1}
    # Only a helper booked on two sides can break a limit: each side's plan is sound alone.
    clashing = (
        {v.helper for v in check_plan(problem, every) if v.helper in twice} if twice else set()
    )
    dropped: set[str] = set()
    for helper_id in sorted(clashing):
        visits = [a for a in every if helper_id in a.helpers and a.order not in dropped]
        sides: dict[int, list[Assignment]] = defaultdict(list)
        for assignment in visits:
            sides[side_of[assignment.order]].append(assignment)
        if len(sides) < 2:
            continue  # one side's own plan: already sound within its part
        keep = max(
            sides, key=lambda s: (_pinned_visits(problem, helper_id, sides[s]), len(sides[s]), -s)
        )
        dropped.update(a.order for s, found in sides.items() if s != keep for a in found)
    kept = tuple(a for a in every if a.order not in dropped)
    unmatched = tuple(u for r in results for u in r.unmatched)
    return Merged(
        assignments=kept,
        unmatched=unmatched,
        dropped=tuple(sorted(dropped)),
        conflicts=len(clashing),
    )


def _pinned_visits(problem: Problem, helper_id: str, visits: list[Assignment]) -> int:
    return sum(helper_id in problem.order(a.order).pinned for a in visits)


def repair_problem(problem: Problem, kept: Sequence[Assignment], dropped: Sequence[str]) -> Problem:
    """The dropped orders with every helper reaching them, each left with what ``kept`` does
    not use of their day: fewer orders, the booked minutes as committed, and their availability
    without the stretches their kept visits occupy (travel included)."""
    orders = [problem.order(o) for o in dropped]
    near = _reach_sets(problem, [orders])[0] if orders else set()
    table = TravelTable(problem)
    booked: dict[str, list[Assignment]] = defaultdict(list)
    for assignment in kept:
        for helper_id in assignment.helpers:
            if helper_id in near:
                booked[helper_id].append(assignment)
    left = [
        _what_is_left(problem, table, h, booked.get(h.id, []))
        for h in problem.helpers
        if h.id in near
    ]
    pinned = {h for o in orders for h in o.pinned}
    helpers = [h for h in left if h.max_orders > 0 or h.id in pinned]
    return _subproblem(problem, orders, helpers)


def _what_is_left(
    problem: Problem, table: TravelTable, helper: Helper, visits: list[Assignment]
) -> Helper:
    if not visits:
        return helper
    minutes, spans = 0, []
    for assignment in visits:
        order = problem.order(assignment.order)
        leg = table.leg(helper, order)
        out, back, round_trip = (
            (leg.minutes_out, leg.minutes_back, leg.minutes_round_trip) if leg else (0, 0, 0)
        )
        duration = problem.duration(order)
        minutes += duration + round_trip
        if order.window is not None and assignment.start is not None:
            spans.append((assignment.start - out, assignment.start + duration + back))
    return helper.model_copy(
        update={
            "max_orders": max(0, helper.max_orders - len(visits)),
            "committed_minutes": helper.committed_minutes + minutes,
            "availability": _without(helper.availability, spans),
        }
    )


def _without(windows: Sequence[TimeWindow], spans: list[tuple[int, int]]) -> tuple[TimeWindow, ...]:
    """``windows`` less the busy ``spans`` (pieces too short to hold anything are dropped)."""
    pieces = [(w.start, w.end) for w in windows]
    for begin, end in spans:
        cut: list[tuple[int, int]] = []
        for start, stop in pieces:
            if end <= start or stop <= begin:
                cut.append((start, stop))
                continue
            if start < begin:
                cut.append((start, begin))
            if end < stop:
                cut.append((end, stop))
        pieces = cut
    return tuple(
        TimeWindow(start=max(0, a), end=min(MINUTES_PER_DAY, b)) for a, b in pieces if b > a
    )


# ----------------------------------------------------------------------------- the whole


def solve_split(
    problem: Problem,
    params: SolveParams,
    max_orders: int,
    solve_many: SolveMany,
    regions: Mapping[str, str] | None = None,
    hand_rule: Callable[[], Result] | None = None,
) -> tuple[Result, SplitRecord]:
    """Split, solve the parts with ``solve_many``, merge, repair and verify: one ``Result`` for
    the whole street and the record of the split. A part without any plan (its pins conflict, or
    nothing found in time) gives the whole street no plan, as one solve would. ``hand_rule``
    gives the hand rule's plan of the whole street (e.g. made meanwhile by another worker);
    without it, it is made here."""
    began = time.perf_counter()
    parts = split_problem(problem, max_orders, regions)
    results = solve_many([p.problem for p in parts], params)
    failed = next((i for i, r in enumerate(results) if _no_plan(r)), None)
    if failed is not None:
        result = _no_plan_result(problem, params, results[failed], failed, began)
        return result, _record(parts, results, regions, max_orders, None, [], None, [])
    merged = merge(problem, results)
    covered = {a.order for a in merged.assignments}
    uncovered = [o.id for o in problem.orders if o.id not in covered]
    repair: Result | None = None
    if uncovered:
        repair_params = params.model_copy(
            update={"time_limit_s": max(1.0, params.time_limit_s * REPAIR_TIME_SHARE)}
        )
        repaired = repair_problem(problem, merged.assignments, uncovered)
        repair = solve_many([repaired], repair_params)[0]
        if _no_plan(repair):
            repair = None
    result = _combined(problem, params, results, merged, repair, began)
    greedy = hand_rule() if hand_rule is not None else solve_greedy(problem, params)
    hand_rule_better = not _no_plan(greedy) and greedy.weighted_coverage > result.weighted_coverage
    if hand_rule_better:
        result = greedy.model_copy(update={"message": "split plan below the hand rule's"})
    violations = verify(problem, result, params.wait_boost)
    record = _record(parts, results, regions, max_orders, merged, uncovered, repair, violations)
    return result, record.model_copy(update={"hand_rule": hand_rule_better})


def _combined(
    problem: Problem,
    params: SolveParams,
    results: Sequence[Result],
    merged: Merged,
    repair: Result | None,
    began: float,
) -> Result:
    dropped = set(merged.dropped)
    assignments = list(merged.assignments)
    if repair is not None:  # it had every uncovered order: assigned or explained there
        assignments += repair.assignments
        unmatched = list(repair.unmatched)
    else:
        unmatched = [u for u in merged.unmatched if u.order not in dropped]
        unmatched += _dropped_unmatched(merged)
    covered = {a.order for a in assignments}
    weight = {o.id: order_weight(problem, o, params.wait_boost) for o in problem.orders}
    coverage = sum(weight[o] for o in covered)
    bound = sum(_coverage_bound(r) for r in results)
    stage = Stage(
        name="coverage",
        sense="max",
        status=Status.FEASIBLE,
        objective=coverage,
        bound=max(bound, coverage),
        gap=(max(bound, coverage) - coverage) / max(bound, coverage, 1),
        runtime_s=max(r.runtime_s for r in results),
    )
    reserves = {k: v for r in results for k, v in r.reserves.items() if k in covered}
    if repair is not None:
        reserves |= {k: v for k, v in repair.reserves.items() if k in covered}
    first = results[0]
    return Result(
        solver=first.solver,
        status=Status.FEASIBLE,
        stages=(stage,),
        gap=stage.gap,
        runtime_s=time.perf_counter() - began,
        assignments=tuple(sorted(assignments, key=lambda a: a.order)),
        unmatched=tuple(sorted(unmatched, key=lambda u: u.order)),
        weights=params.weights,
        weighted_coverage=coverage,
        weighted_demand=sum(weight.values()),
        candidate_limit=first.candidate_limit,
        message=f"split into {len(results)} parts",
        reserves=reserves,
    )


def _dropped_unmatched(merged: Merged) -> list[Unmatched]:
    """Dropped orders nothing repaired: unmatched for want of a free helper (the one who could
    was booked by the other side)."""
    return [Unmatched(order=o, reason=Reason.NOT_FREE) for o in merged.dropped]


def _coverage_bound(result: Result) -> float:
    stage = next((s for s in result.stages if s.name == "coverage"), None)
    return stage.bound if stage is not None else float(result.weighted_demand)


def _no_plan(result: Result) -> bool:
    return result.status in (Status.INFEASIBLE, Status.UNKNOWN) and not result.assignments


def _no_plan_result(
    problem: Problem, params: SolveParams, part: Result, index: int, began: float
) -> Result:
    demand = sum(order_weight(problem, o, params.wait_boost) for o in problem.orders)
    return part.model_copy(
        update={
            "runtime_s": time.perf_counter() - began,
            "weighted_demand": demand,
            "message": f"part {index + 1}: {part.message}",
        }
    )


def _record(
    parts: Sequence[Part],
    results: Sequence[Result],
    regions: Mapping[str, str] | None,
    max_orders: int,
    merged: Merged | None,
    uncovered: Sequence[str],
    repair: Result | None,
    violations: Sequence[object],
) -> SplitRecord:
    shared = set().union(*(p.shared for p in parts)) if parts else set()
    dropped = set(merged.dropped) if merged else set()
    repaired = {a.order for a in repair.assignments} if repair else set()
    return SplitRecord(
        by="region" if regions else "area",
        max_orders=max_orders,
        parts=tuple(
            PartFigures(
                orders=len(p.problem.orders),
                helpers=len(p.problem.helpers),
                shared_helpers=len(p.shared),
                status=r.status,
                covered=len(r.assignments),
                runtime_s=round(r.runtime_s, 3),
            )
            for p, r in zip(parts, results, strict=True)
        ),
        shared_helpers=len(shared),
        conflicts=merged.conflicts if merged else 0,
        dropped_orders=len(dropped),
        repair_orders=len(uncovered),
        repaired_orders=len(repaired),
        repair_runtime_s=round(repair.runtime_s, 3) if repair else 0.0,
        hand_rule=False,
        violations=len(violations),
    )
