"""matcher.split: a street cut into parts, the parts' plans merged and repaired into one."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pytest

from matcher.eligible import eligible_helpers
from matcher.generator import generate_street_with_layout, preset
from matcher.model import Problem, replace
from matcher.params import SolveParams
from matcher.result import Assignment, Result, Status
from matcher.solve import solve, solve_greedy
from matcher.split import merge, repair_problem, solve_split, split_problem
from matcher.verify import verify
from tests.factories import at, helper, order, problem, resident, window

PARAMS = SolveParams(time_limit_s=2, workers=1, seed=0)


@cache
def street() -> tuple[Problem, dict[str, str]]:
    """A small generated street (120 orders, 3 communities) and each resident's community."""
    spec = preset("scarce", seed=3, orders=120).model_copy(update={"communities": 3})
    built, layout = generate_street_with_layout(spec)
    return built, {r.id: layout.community_of(r.id) for r in built.residents}


def one_by_one(problems: Sequence[Problem], params: SolveParams) -> list[Result]:
    return [solve(p, params) for p in problems]


def test_parts_hold_every_order_once_within_the_size() -> None:
    """Every order lands in exactly one part, and no part has more than ``max_orders``."""
    built, _ = street()
    parts = split_problem(built, 50)
    ids = [o.id for p in parts for o in p.problem.orders]
    assert sorted(ids) == sorted(o.id for o in built.orders)
    assert len(parts) == 3 and all(len(p.problem.orders) <= 50 for p in parts)


def test_each_helper_serves_one_part_first_and_the_repair_has_every_eligible_one() -> None:
    """In the first round every helper is in exactly one part (those reaching another part are
    marked shared); the repair problem of any orders has every helper eligible for them in the
    whole street."""
    built, _ = street()
    parts = split_problem(built, 50)
    homes = [h.id for p in parts for h in p.problem.helpers]
    assert len(homes) == len(set(homes))
    assert any(part.shared for part in parts)
    eligible = {o.order: {e.helper for e in o.helpers} for o in eligible_helpers(built)}
    some = [o.id for o in built.orders[::7]]
    repaired = {h.id for h in repair_problem(built, [], some).helpers}
    for order_id in some:
        assert eligible[order_id] <= repaired


def test_regions_are_kept_whole_when_a_cut_can_fall_between_them() -> None:
    """With the residents' communities given, a community is not cut across two parts when a
    cut between communities stays near even."""
    built, regions = street()
    parts = split_problem(built, 70, regions)
    seen: dict[str, set[int]] = {}
    for index, part in enumerate(parts):
        for order_ in part.problem.orders:
            seen.setdefault(regions[order_.resident], set()).add(index)
    assert sum(len(s) > 1 for s in seen.values()) <= len(parts) - 1


def test_split_plan_passes_the_verifier_and_is_never_below_the_hand_rule() -> None:
    """The plan of a split street breaks no rule and covers at least the hand rule's weighted
    demand (the hand rule's own plan when the merged one covers less); the record says how the
    street was split."""
    built, regions = street()
    result, record = solve_split(built, PARAMS, 50, one_by_one, regions)
    assert verify(built, result, PARAMS.wait_boost) == []
    assert result.weighted_coverage >= solve_greedy(built, PARAMS).weighted_coverage
    assert len(record.parts) == 3 and record.violations == 0 and record.by == "region"
    assert record.repaired_orders <= record.repair_orders


def shared_helper_street() -> Problem:
    """Two residents 4 km apart, one helper between them who is free 9-11 only, each resident
    wanting a visit at 9: one helper, two sides, one visit possible."""
    return problem(
        [helper("mid", "companionship", where=at(2), radius_km=5, availability=(window(8, 11),))],
        [resident("west", where=at(0)), resident("east", where=at(4))],
        [
            order("w1", "west", window=window(9, 10)),
            order("e1", "east", window=window(9, 10)),
        ],
    )


def test_a_boundary_helper_serves_one_side_first_and_both_in_the_repair() -> None:
    """The helper between two parts belongs to one side in the first round (listed as shared);
    the street's plan uses them once and passes the verifier."""
    built = shared_helper_street()
    parts = split_problem(built, 1)
    assert [len(p.problem.orders) for p in parts] == [1, 1]
    assert sorted(len(p.problem.helpers) for p in parts) == [0, 1]
    assert [p.shared for p in parts if p.problem.helpers] == [frozenset({"mid"})]
    result, record = solve_split(built, PARAMS, 1, one_by_one)
    assert verify(built, result, PARAMS.wait_boost) == []
    assert result.covered_orders == 1 and record.shared_helpers == 1
    assert record.repair_orders == 1 and record.repaired_orders == 0


def test_a_helper_booked_by_two_sides_keeps_one_side_only() -> None:
    """When two sides both book a helper at the same time, merge keeps one side's booking and
    drops the other's order."""
    built = shared_helper_street()
    sides = [replace(p.problem, helpers=built.helpers) for p in split_problem(built, 1)]
    results = one_by_one(sides, PARAMS)
    assert all(len(r.assignments) == 1 for r in results)  # each side booked ``mid`` at 9
    merged = merge(built, results)
    assert merged.conflicts == 1 and len(merged.dropped) == 1
    assert len(merged.assignments) == 1


def test_repair_leaves_each_helper_only_what_the_kept_plan_does_not_use() -> None:
    """The repair problem's helper has one order fewer, the kept visit's minutes committed and
    its trip cut out of their availability."""
    built = shared_helper_street()
    kept = [Assignment(order="w1", helpers=("mid",), start=540)]
    repaired = repair_problem(built, kept, ["e1"])
    (mid,) = repaired.helpers
    original = built.helper("mid")
    assert mid.max_orders == original.max_orders - 1
    assert mid.committed_minutes > 60
    assert all(w.end <= 540 or w.start >= 600 for w in mid.availability)
    assert [o.id for o in repaired.orders] == ["e1"]


def test_a_part_without_a_plan_gives_the_street_no_plan() -> None:
    """A part whose pins cannot be kept makes the whole street's result a plan-less one, as a
    single solve's would be (the nightly run then handles its pins)."""
    built = shared_helper_street()
    pinned = built.model_copy(
        update={
            "orders": (
                built.orders[0].model_copy(update={"pinned": ("mid",), "window": window(12, 13)}),
                built.orders[1],
            )
        }
    )
    result, _ = solve_split(pinned, PARAMS, 1, one_by_one)
    assert result.status in (Status.INFEASIBLE, Status.UNKNOWN) and not result.assignments


def test_max_orders_must_be_positive() -> None:
    """A part size below one is refused."""
    with pytest.raises(ValueError, match="max_orders"):
        split_problem(shared_helper_street(), 0)
