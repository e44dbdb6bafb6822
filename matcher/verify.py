"""Solver-independent check of a ``Result`` against its ``Problem``: a list of violations.

The checker re-derives travel itself (it does not use ``matcher.travel``) so that a bug shared by a
solver and its travel table cannot hide here. Each broken fact is one ``Violation`` whose ``rule``
is a stable code (see ``Rule``) and whose message names the ids involved.

Rules about a solution (team, reach, timing, loads, pins) are checked on the assignments given. An
``INFEASIBLE`` result is "no plan at all" (its ``message`` says why): it must carry no assignments,
but need not list the orders as unmatched, and its pinned orders are not reported as dropped. The
same holds for pins of an ``UNKNOWN`` result without assignments.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations
from typing import NamedTuple

from matcher.model import Frozen, GeoTravel, Helper, Location, MatrixTravel, Order, Problem
from matcher.params import ObjectiveWeights
from matcher.result import Assignment, Reason, Result, Status, Unmatched
from matcher.weights import order_weight

EARTH_RADIUS_KM = 6371.0088
KM_TOLERANCE = 1e-9
DEFAULT_WAIT_BOOST = 0.1  # equal to SolveParams().wait_boost


class Rule(StrEnum):
    UNKNOWN_ID = "unknown_id"
    DUPLICATE_ORDER = "duplicate_order"
    DUPLICATE_HELPER = "duplicate_helper"
    SKILL = "skill"
    LEAD_SKILL = "lead_skill"
    LANGUAGE = "language"
    BLOCKED = "blocked"
    REACH = "reach"
    WINDOW = "window"
    AVAILABILITY = "availability"
    OVERLAP = "overlap"
    MAX_ORDERS = "max_orders"
    MAX_MINUTES = "max_minutes"
    TEAM_SIZE = "team_size"
    PINNED = "pinned"
    UNMATCHED = "unmatched"
    COVERAGE_FIGURE = "coverage_figure"
    INFEASIBLE_WITH_ASSIGNMENTS = "infeasible_with_assignments"


# The rules a team with a place still to fill may break for now (size, lead skill, language):
# a team being filled one member at a time is not yet complete.
COMPLETE_TEAM_RULES = frozenset({Rule.TEAM_SIZE, Rule.LEAD_SKILL, Rule.LANGUAGE})


class Violation(Frozen):
    """One broken fact: which rule, which order and helper (when one is involved), and why."""

    rule: Rule
    order: str | None
    helper: str | None
    message: str


class _Leg(NamedTuple):
    km_round_trip: float
    minutes_round_trip: int

    @property
    def minutes_out(self) -> int:
        return math.ceil(self.minutes_round_trip / 2)

    @property
    def minutes_back(self) -> int:
        return self.minutes_round_trip - self.minutes_out


@dataclass(frozen=True)
class _Visit:
    """An accepted assignment: a known order, its known distinct helpers and the whole team."""

    order: Order
    helpers: tuple[Helper, ...]
    team: tuple[str, ...]  # distinct ids as given, unknown ones included
    start: int | None


def verify(
    problem: Problem, result: Result, wait_boost: float = DEFAULT_WAIT_BOOST
) -> list[Violation]:
    """Every hard rule and result figure that ``result`` breaks for ``problem``; empty if none.

    ``wait_boost`` must be the value the solver used, since order weights depend on it.
    """
    legs = _Legs(problem)
    violations: list[Violation] = []
    visits = _accept_assignments(problem, result, violations)
    violations += _check_status(result)
    for visit in visits:
        violations += _check_team(problem, visit)
        violations += _check_reach(problem, legs, visit)
        violations += _check_window(problem, visit)
        violations += _check_availability(problem, legs, visit)
    by_helper: dict[str, list[_Visit]] = defaultdict(list)
    for visit in visits:
        for helper in visit.helpers:
            by_helper[helper.id].append(visit)
    for helper in problem.helpers:
        violations += _check_overlap(legs, helper, by_helper[helper.id])
        violations += _check_load(problem, legs, helper, by_helper[helper.id])
    if result.status in (Status.OPTIMAL, Status.FEASIBLE) or result.assignments:
        violations += _check_pinned(problem, visits)
    violations += _check_unmatched(problem, result, visits)
    violations += _check_figures(problem, result, visits, wait_boost)
    return violations


def assert_valid(problem: Problem, result: Result, wait_boost: float = DEFAULT_WAIT_BOOST) -> None:
    """Raise ``AssertionError`` listing every violation of ``verify``."""
    violations = verify(problem, result, wait_boost)
    if violations:
        lines = "\n".join(f"  [{v.rule}] {v.message}" for v in violations)
        raise AssertionError(f"{len(violations)} violation(s) in {result.solver} result:\n{lines}")


HARD_RULES = frozenset(
    {
        Rule.UNKNOWN_ID,
        Rule.DUPLICATE_ORDER,
        Rule.DUPLICATE_HELPER,
        Rule.SKILL,
        Rule.LEAD_SKILL,
        Rule.LANGUAGE,
        Rule.BLOCKED,
        Rule.REACH,
        Rule.WINDOW,
        Rule.AVAILABILITY,
        Rule.OVERLAP,
        Rule.MAX_ORDERS,
        Rule.MAX_MINUTES,
        Rule.TEAM_SIZE,
        Rule.PINNED,
    }
)


def check_plan(problem: Problem, assignments: Iterable[Assignment]) -> list[Violation]:
    """The hard rules that a proposed set of assignments breaks for ``problem`` (the others of
    its orders left uncovered): what a person choosing a team by hand, or a claim, must pass.
    Figures and bookkeeping of a solver's ``Result`` are not judged here."""
    chosen = tuple(assignments)
    covered = {a.order for a in chosen}
    result = Result(
        solver="check",
        status=Status.FEASIBLE,
        stages=(),
        gap=0.0,
        runtime_s=0.0,
        assignments=chosen,
        unmatched=tuple(
            Unmatched(order=o.id, reason=Reason.NOT_FREE)
            for o in problem.orders
            if o.id not in covered
        ),
        weights=ObjectiveWeights(),
        weighted_coverage=0,
        weighted_demand=0,
    )
    return [
        v
        for v in verify(problem, result)
        if v.rule in HARD_RULES and (v.rule is not Rule.PINNED or v.order in covered)
    ]


# ----------------------------------------------------------------------------- travel


class _Legs:
    """Round-trip km and minutes per (helper, order), computed from the problem's travel spec."""

    def __init__(self, problem: Problem) -> None:
        self._problem = problem
        self._matrix: dict[tuple[str, str], _Leg] | None = None
        self._geo = GeoTravel()
        if isinstance(problem.travel, MatrixTravel):
            self._matrix = {
                (leg.helper, leg.order): _Leg(leg.km_round_trip, leg.minutes_round_trip)
                for leg in problem.travel.legs
            }
        else:
            self._geo = problem.travel

    def get(self, helper: Helper, order: Order) -> _Leg | None:
        """The leg, or None when a travel matrix has no entry for the pair."""
        if self._matrix is not None:
            return self._matrix.get((helper.id, order.id))
        home = self._problem.resident(order.resident).location
        km = 2 * _haversine_km(helper.location, home) * self._geo.detour_factor
        speed = helper.speed_kmh if helper.speed_kmh is not None else self._geo.speed_kmh
        return _Leg(km, math.ceil(km / speed * 60 - 1e-9))

    def occupied(self, helper: Helper, visit: _Visit) -> tuple[int, int] | None:
        """``[start - out, start + duration + back]`` for a timed visit, else None."""
        if visit.order.window is None or visit.start is None:
            return None
        leg = self.get(helper, visit.order) or _Leg(0.0, 0)
        end = visit.start + self._problem.duration(visit.order) + leg.minutes_back
        return visit.start - leg.minutes_out, end


def _haversine_km(a: Location, b: Location) -> float:
    lat_a, lat_b = math.radians(a.lat), math.radians(b.lat)
    half_dlat, half_dlon = (lat_b - lat_a) / 2, math.radians(b.lon - a.lon) / 2
    h = math.sin(half_dlat) ** 2 + math.cos(lat_a) * math.cos(lat_b) * math.sin(half_dlon) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# ----------------------------------------------------------------------------- identities


def _accept_assignments(
    problem: Problem, result: Result, violations: list[Violation]
) -> list[_Visit]:
    """Visits for the assignments with a known order, first occurrence of each order only.

    Unknown ids and duplicates are reported into ``violations`` and left out of later checks.
    """
    orders = {o.id for o in problem.orders}
    helpers = {h.id for h in problem.helpers}
    seen: set[str] = set()
    visits: list[_Visit] = []
    for assignment in result.assignments:
        order_id = assignment.order
        if order_id not in orders:
            text = f"assignment names unknown order {order_id!r}"
            violations.append(_v(Rule.UNKNOWN_ID, text, order_id))
            continue
        if order_id in seen:
            violations.append(
                _v(Rule.DUPLICATE_ORDER, f"order {order_id!r} is assigned twice", order_id)
            )
            continue
        seen.add(order_id)
        for helper_id, count in Counter(assignment.helpers).items():
            if helper_id not in helpers:
                text = f"order {order_id!r} names unknown helper {helper_id!r}"
                violations.append(_v(Rule.UNKNOWN_ID, text, order_id, helper_id))
            if count > 1:
                text = f"helper {helper_id!r} appears {count} times in the team of {order_id!r}"
                violations.append(_v(Rule.DUPLICATE_HELPER, text, order_id, helper_id))
        team = tuple(dict.fromkeys(assignment.helpers))
        known = tuple(problem.helper(h) for h in team if h in helpers)
        visits.append(_Visit(problem.order(order_id), known, team, assignment.start))
    return visits


def _check_status(result: Result) -> list[Violation]:
    if result.status is Status.INFEASIBLE and result.assignments:
        count = len(result.assignments)
        text = f"status is INFEASIBLE but the result carries {count} assignment(s)"
        return [_v(Rule.INFEASIBLE_WITH_ASSIGNMENTS, text)]
    return []


# ----------------------------------------------------------------------------- one visit


def _check_team(problem: Problem, visit: _Visit) -> list[Violation]:
    """Skills, lead skill, language, blocked pairs and the exact team size."""
    order, item = visit.order, problem.item_of(visit.order)
    resident = problem.resident(order.resident)
    found: list[Violation] = []
    for helper in visit.helpers:
        missing = sorted(item.required_skills - helper.skills)
        if missing:
            text = f"helper {helper.id!r} lacks skills {missing} for order {order.id!r}"
            found.append(_v(Rule.SKILL, text, order.id, helper.id))
        if resident.id in helper.blocked_residents:
            text = f"helper {helper.id!r} is blocked from resident {resident.id!r} ({order.id!r})"
            found.append(_v(Rule.BLOCKED, text, order.id, helper.id))
    if item.lead_skill and not any(item.lead_skill in h.skills for h in visit.helpers):
        text = f"no one in the team of order {order.id!r} holds lead skill {item.lead_skill!r}"
        found.append(_v(Rule.LEAD_SKILL, text, order.id))
    if resident.language and not any(resident.language in h.languages for h in visit.helpers):
        text = f"no one in the team of order {order.id!r} speaks {resident.language!r}"
        found.append(_v(Rule.LANGUAGE, text, order.id))
    size = problem.team_size(order)
    if len(visit.team) != size:
        text = f"order {order.id!r} has {len(visit.team)} helper(s), needs exactly {size}"
        found.append(_v(Rule.TEAM_SIZE, text, order.id))
    return found


def _check_reach(problem: Problem, legs: _Legs, visit: _Visit) -> list[Violation]:
    """One-way km within the helper's radius and the item's max distance; the leg must exist."""
    order, limit = visit.order, problem.item_of(visit.order).max_distance_km
    found: list[Violation] = []
    for helper in visit.helpers:
        leg = legs.get(helper, order)
        if leg is None:
            text = f"no travel leg from helper {helper.id!r} to order {order.id!r}"
            found.append(_v(Rule.REACH, text, order.id, helper.id))
            continue
        km = leg.km_round_trip / 2
        if km > helper.radius_km + KM_TOLERANCE:
            text = (
                f"helper {helper.id!r} is {km:.3f} km from order {order.id!r}, "
                f"beyond their {helper.radius_km} km radius"
            )
            found.append(_v(Rule.REACH, text, order.id, helper.id))
        if limit is not None and km > limit + KM_TOLERANCE:
            text = (
                f"helper {helper.id!r} is {km:.3f} km from order {order.id!r}, "
                f"beyond the item's {limit} km limit"
            )
            found.append(_v(Rule.REACH, text, order.id, helper.id))
    return found


def _check_window(problem: Problem, visit: _Visit) -> list[Violation]:
    """Timed orders start in their window (exactly at its start unless flexible); untimed don't."""
    order, start, window = visit.order, visit.start, visit.order.window
    if window is None:
        if start is None:
            return []
        return [_v(Rule.WINDOW, f"untimed order {order.id!r} has start {start}", order.id)]
    if start is None:
        return [_v(Rule.WINDOW, f"timed order {order.id!r} has no start", order.id)]
    end = start + problem.duration(order)
    if not order.flexible_start and start != window.start:
        text = f"order {order.id!r} starts at {start}, its fixed start is {window.start}"
        return [_v(Rule.WINDOW, text, order.id)]
    if start < window.start or end > window.end:
        text = (
            f"order {order.id!r} runs {start}-{end}, outside its window {window.start}-{window.end}"
        )
        return [_v(Rule.WINDOW, text, order.id)]
    return []


def _check_availability(problem: Problem, legs: _Legs, visit: _Visit) -> list[Violation]:
    """Each member's whole trip, travel included, lies inside one of their availability windows."""
    found: list[Violation] = []
    for helper in visit.helpers:
        span = legs.occupied(helper, visit)
        if span is None:
            continue
        begin, end = span
        if not any(w.start <= begin and end <= w.end for w in helper.availability):
            text = (
                f"helper {helper.id!r} is busy {begin}-{end} for order {visit.order.id!r}, "
                f"outside their availability"
            )
            found.append(_v(Rule.AVAILABILITY, text, visit.order.id, helper.id))
    return found


# ----------------------------------------------------------------------------- one helper


def _check_overlap(legs: _Legs, helper: Helper, visits: list[_Visit]) -> list[Violation]:
    """No two timed trips of one helper overlap; touching ends are fine."""
    spans = [(v, legs.occupied(helper, v)) for v in visits]
    timed = [(v, s) for v, s in spans if s is not None]
    found: list[Violation] = []
    for (first, (a0, a1)), (second, (b0, b1)) in combinations(timed, 2):
        if a0 < b1 and b0 < a1:
            text = (
                f"helper {helper.id!r} is busy {a0}-{a1} for order {first.order.id!r} "
                f"and {b0}-{b1} for order {second.order.id!r}"
            )
            found.append(_v(Rule.OVERLAP, text, second.order.id, helper.id))
    return found


def _check_load(
    problem: Problem, legs: _Legs, helper: Helper, visits: list[_Visit]
) -> list[Violation]:
    """Order count within ``max_orders``; committed + service + travel minutes within the cap.
    A helper the plan gives nothing breaks neither, even when work committed elsewhere (a team
    staff sent against the rule) already fills their day past the cap: the plan added nothing."""
    found: list[Violation] = []
    if not visits:
        return found
    if len(visits) > helper.max_orders:
        text = f"helper {helper.id!r} has {len(visits)} orders, above their {helper.max_orders}"
        found.append(_v(Rule.MAX_ORDERS, text, helper=helper.id))
    minutes = helper.committed_minutes
    for visit in visits:
        leg = legs.get(helper, visit.order) or _Leg(0.0, 0)
        minutes += problem.duration(visit.order) + leg.minutes_round_trip
    if minutes > helper.max_minutes:
        text = (
            f"helper {helper.id!r} has {minutes} min with {helper.committed_minutes} committed, "
            f"above their {helper.max_minutes}"
        )
        found.append(_v(Rule.MAX_MINUTES, text, helper=helper.id))
    return found


# ----------------------------------------------------------------------------- whole result


def _check_pinned(problem: Problem, visits: list[_Visit]) -> list[Violation]:
    teams = {v.order.id: set(v.team) for v in visits}
    found: list[Violation] = []
    for order in problem.orders:
        if not order.pinned:
            continue
        if order.id not in teams:
            text = f"pinned order {order.id!r} is not assigned"
            found.append(_v(Rule.PINNED, text, order.id))
            continue
        for helper_id in order.pinned:
            if helper_id not in teams[order.id]:
                text = f"helper {helper_id!r} is pinned to order {order.id!r} but not in its team"
                found.append(_v(Rule.PINNED, text, order.id, helper_id))
    return found


def _check_unmatched(problem: Problem, result: Result, visits: list[_Visit]) -> list[Violation]:
    """Every order is either assigned or unmatched, exactly once (at most once when INFEASIBLE);
    unmatched entries name existing orders."""
    assigned = {v.order.id for v in visits}
    unmatched = Counter(u.order for u in result.unmatched)
    known = {o.id for o in problem.orders}
    found = [
        _v(Rule.UNKNOWN_ID, f"unmatched entry names unknown order {order_id!r}", order_id)
        for order_id in unmatched
        if order_id not in known
    ]
    found += [
        _v(
            Rule.UNKNOWN_ID,
            f"order {u.order!r} is outranked by unknown order {u.outranked_by!r}",
            u.order,
        )
        for u in result.unmatched
        if u.outranked_by is not None and u.outranked_by not in known
    ]
    no_plan = result.status is Status.INFEASIBLE
    for order in problem.orders:
        times = int(order.id in assigned) + unmatched[order.id]
        if times > 1 or (times == 0 and not no_plan):
            text = f"order {order.id!r} appears {times} times in assignments and unmatched"
            found.append(_v(Rule.UNMATCHED, text, order.id))
    return found


def _check_figures(
    problem: Problem, result: Result, visits: list[_Visit], wait_boost: float
) -> list[Violation]:
    """``weighted_coverage`` and ``weighted_demand`` match the order weights."""
    coverage = sum(order_weight(problem, v.order, wait_boost) for v in visits)
    demand = sum(order_weight(problem, o, wait_boost) for o in problem.orders)
    found: list[Violation] = []
    if result.weighted_coverage != coverage:
        text = f"weighted_coverage is {result.weighted_coverage}, assignments give {coverage}"
        found.append(_v(Rule.COVERAGE_FIGURE, text))
    if result.weighted_demand != demand:
        text = f"weighted_demand is {result.weighted_demand}, the orders give {demand}"
        found.append(_v(Rule.COVERAGE_FIGURE, text))
    return found


def _v(rule: Rule, message: str, order: str | None = None, helper: str | None = None) -> Violation:
    return Violation(rule=rule, order=order, helper=helper, message=message)
