"""The integer weight of an order in the coverage stage, shared by every solver and report."""

from __future__ import annotations

from matcher.model import Order, Problem

WEIGHT_SCALE = 100


def order_weight(problem: Problem, order: Order, wait_boost: float) -> int:
    """Priority-weighted value of covering ``order``: resident weight x priority, raised by
    ``wait_boost`` per day waited, scaled to an integer (a plain order of a weight-1 resident is
    100)."""
    resident = problem.resident(order.resident)
    boost = 1.0 + wait_boost * order.days_waited
    return max(1, round(WEIGHT_SCALE * resident.priority_weight * order.priority * boost))
