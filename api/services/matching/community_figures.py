"""A run's figures per community: written with the run (``of_plan``), and what a community's
staff read instead of the street's (``scoped``)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from api.services.matching.problem import StreetProblem
from matcher.result import Result
from matcher.weights import order_weight

# Run-wide facts community staff still see: how the solver did, not what the street got.
RUN_WIDE = ("status", "gap", "wall_s", "runtime_s", "message", "certificate")


def of_plan(problem: StreetProblem, result: Result, wait_boost: float) -> dict[str, Any]:
    """Per community (by id, as text: JSON keys), its orders in the run, how many were covered
    and left unmatched, and its priority-weighted coverage (weights as the solver's)."""
    covered = {a.order for a in result.assignments}
    figures: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"orders": 0, "covered": 0, "unmatched": 0, "weighted_coverage": 0,
                 "weighted_demand": 0}
    )  # fmt: skip
    for key, row in problem.orders.items():
        entry = figures[str(row.resident.community_id)]
        weight = order_weight(problem.problem, problem.problem.order(key), wait_boost)
        entry["orders"] += 1
        entry["weighted_demand"] += weight
        if key in covered:
            entry["covered"] += 1
            entry["weighted_coverage"] += weight
        else:
            entry["unmatched"] += 1
    for entry in figures.values():
        demand = entry["weighted_demand"]
        entry["coverage_ratio"] = entry["weighted_coverage"] / demand if demand else 1.0
    return dict(figures)


def scoped(
    figures: dict[str, Any], community_id: int | None, unmatched: int | None
) -> dict[str, Any]:
    """The figures a reader of ``community_id`` sees (the street's when None): the community's
    counts and coverage and the run-wide solver facts, marked ``community``. A run written
    before the per-community figures gives only its unmatched count (``unmatched``: as the
    reader's scoped list has it)."""
    if community_id is None:
        return {k: v for k, v in figures.items() if k != "communities"}
    if not figures:
        return figures
    own = (figures.get("communities") or {}).get(str(community_id))
    base = {k: figures[k] for k in RUN_WIDE if k in figures} | {"community": True}
    if own is None:
        return base | {"unmatched": unmatched, "orders": None, "covered": None,
                       "coverage_ratio": None}  # fmt: skip
    return base | own
