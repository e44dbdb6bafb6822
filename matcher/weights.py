"""The integer weight of an order in the coverage stage, shared by every solver and report."""

from __future__ import annotations

from collections.abc import Iterable

from matcher.model import Order, Problem

WEIGHT_SCALE = 100


def order_weight(problem: Problem, order: Order, wait_boost: float) -> int:
    """Priority-weighted value of covering ``order``: resident weight x priority, raised by
    ``wait_boost`` per day waited, scaled to an integer (a plain order of a weight-1 resident is
    100)."""
    resident = problem.resident(order.resident)
    boost = 1.0 + wait_boost * order.days_waited
    return max(1, round(WEIGHT_SCALE * resident.priority_weight * order.priority * boost))


def continuity_misses(circle: Iterable[str], helpers: Iterable[str]) -> tuple[int, int]:
    """Continuity, defined once: each visiting member who is not in the resident's circle is one
    miss (a resident with no circle yet has nothing to miss). Returns (misses, members counted):
    the objective charges ``weights.continuity`` per miss, the figures report
    1 - misses / members as the continuity rate."""
    familiar = set(circle)
    if not familiar:
        return 0, 0
    team = list(helpers)
    return sum(h not in familiar for h in team), len(team)
