"""The integer weight of an order in the coverage stage, shared by every solver and report."""

from __future__ import annotations

from collections.abc import Iterable

from matcher.model import Order, Problem, Resident

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


def continuity_units(resident: Resident, helper: str) -> float:
    """Continuity units charged for sending ``helper`` to ``resident`` (the objective multiplies
    them by ``weights.continuity``). Without pair weights this is ``continuity_misses`` for one
    member: 1 outside the circle, 0 in it, 0 for a resident with no circle. A pair weight above 1
    (``Resident.circle_weights``: good scores) makes the others cost more: everyone is charged
    the resident's highest weight less their own (outsiders' own is 0), so costs stay
    non-negative and the best-liked member costs nothing."""
    if not resident.circle:
        return 0.0
    weights = resident.circle_weights or (1.0,) * len(resident.circle)
    own = dict(zip(resident.circle, weights, strict=True)).get(helper, 0.0)
    return max(weights) - own
