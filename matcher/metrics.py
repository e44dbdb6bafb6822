"""Figures staff and planners read off a result: coverage, travel, load, continuity."""

from __future__ import annotations

import statistics
from collections import Counter

from matcher.model import Frozen, Problem
from matcher.result import Result
from matcher.travel import TravelTable
from matcher.weights import continuity_misses


class Summary(Frozen):
    solver: str
    status: str
    orders_total: int
    orders_covered: int
    weighted_coverage_pct: float
    travel_km_total: float
    travel_km_mean: float
    travel_km_max: float
    helpers_used: int
    load_max: int  # most orders given to one helper
    load_spread: float  # standard deviation of orders per used helper
    # share of visiting members, at residents with a circle, who are in it
    # (matcher.weights.continuity_misses)
    continuity_rate: float
    gap: float
    runtime_s: float
    unmatched_by_reason: dict[str, int]


def trip_km(problem: Problem, result: Result) -> list[float]:
    """Round-trip km of every visit: one per helper per covered order (0 without a leg)."""
    table = TravelTable(problem)
    trips = []
    for assignment in result.assignments:
        order = problem.order(assignment.order)
        for helper_id in assignment.helpers:
            leg = table.leg(problem.helper(helper_id), order)
            trips.append(leg.km_round_trip if leg else 0.0)
    return trips


def summarize(problem: Problem, result: Result) -> Summary:
    """Plain figures for ``result``; travel is round-trip km per visiting helper."""
    trips = trip_km(problem, result)
    load: Counter[str] = Counter(h for a in result.assignments for h in a.helpers)
    misses = counted = 0
    for assignment in result.assignments:
        circle = problem.resident(problem.order(assignment.order).resident).circle
        missed, members = continuity_misses(circle, assignment.helpers)
        misses, counted = misses + missed, counted + members
    loads = list(load.values())
    return Summary(
        solver=result.solver,
        status=str(result.status),
        orders_total=len(problem.orders),
        orders_covered=len(result.assignments),
        weighted_coverage_pct=100 * result.coverage_ratio,
        travel_km_total=sum(trips),
        travel_km_mean=statistics.fmean(trips) if trips else 0.0,
        travel_km_max=max(trips, default=0.0),
        helpers_used=len(load),
        load_max=max(loads, default=0),
        load_spread=statistics.pstdev(loads) if loads else 0.0,
        continuity_rate=1 - misses / counted if counted else 1.0,
        gap=result.gap,
        runtime_s=result.runtime_s,
        unmatched_by_reason=dict(Counter(str(u.reason) for u in result.unmatched)),
    )
