"""The solver-independent checker: each rule is caught on a hand-written result that breaks it.

Travel in these cases: a helper at ``at(1.5)`` is 1.5 km from a resident at the origin, so 1.95 km
one way, 3.9 km round trip, 20 min at 12 km/h (10 out, 10 back).
"""

from __future__ import annotations

import pytest

from matcher.model import GeoTravel, MatrixTravel, Problem, TimeWindow, TravelLeg, replace
from matcher.params import ObjectiveWeights
from matcher.result import Assignment, Reason, Result, Status, Unmatched
from matcher.verify import Violation, assert_valid, verify
from matcher.weights import order_weight
from tests.factories import at, helper, order, problem, resident, window

NEAR = at(1.5)


def assign(order_id: str, *helpers: str, start: int | None = None) -> Assignment:
    return Assignment(order=order_id, helpers=helpers, start=start)


def unmatched(order_id: str, outranked_by: str | None = None) -> Unmatched:
    return Unmatched(order=order_id, reason=Reason.NOT_FREE, outranked_by=outranked_by)


def result_of(
    prob: Problem,
    *assignments: Assignment,
    left: tuple[Unmatched, ...] | None = None,
    status: Status = Status.FEASIBLE,
    wait_boost: float = 0.1,
) -> Result:
    """A result with correct figures; unmatched defaults to every order not assigned."""
    assigned = {a.order for a in assignments}
    known = {o.id: o for o in prob.orders}
    if left is None:
        left = tuple(unmatched(o.id) for o in prob.orders if o.id not in assigned)
    coverage = sum(order_weight(prob, known[o], wait_boost) for o in assigned if o in known)
    return Result(
        solver="hand",
        status=status,
        stages=(),
        gap=0.0,
        runtime_s=0.0,
        assignments=assignments,
        unmatched=left,
        weights=ObjectiveWeights(),
        weighted_coverage=coverage,
        weighted_demand=sum(order_weight(prob, o, wait_boost) for o in prob.orders),
    )


def rules(violations: list[Violation]) -> set[str]:
    return {v.rule for v in violations}


def chat(**order_fields: object) -> Problem:
    """One companion ``ann`` 1.5 km from resident ``r1`` who ordered a chat ``o1``."""
    helper_fields = order_fields.pop("helper_fields", {})
    assert isinstance(helper_fields, dict)
    return problem(
        [helper("ann", "companionship", where=NEAR, **helper_fields)],
        [resident("r1")],
        [order("o1", "r1", **order_fields)],
    )


# ----------------------------------------------------------------------------- clean results


def test_correct_result_has_no_violations() -> None:
    """A hand-checked result using teams, windows, travel and an unmatched order is clean."""
    prob = problem(
        [
            helper("ann", "companionship", "nursing", "physician", where=NEAR),
            helper("bo", "nursing", where=at(0, 1)),
            helper("cy", "cleaning", availability=(window(8, 9),)),
        ],
        [resident("r1"), resident("r2", where=at(0.5))],
        [
            order("o1", "r1", "HOMECARE", window=window(9, 10)),
            order("o2", "r2", "CHAT", window=window(10, 13), flexible_start=True),
            order("o3", "r1", "CHAT"),
            order("o4", "r1", "CLEAN", window=window(14, 16)),
        ],
    )
    result = result_of(
        prob,
        assign("o1", "ann", "bo", start=540),
        assign("o2", "ann", start=700),
        assign("o3", "ann"),
    )
    assert verify(prob, result) == []
    assert_valid(prob, result)


def test_touching_trips_are_not_an_overlap() -> None:
    """A trip may start the minute the previous one ends (travel included)."""
    prob = problem(
        [helper("ann", "companionship", where=NEAR)],
        [resident("r1")],
        [
            order("o1", "r1", window=window(9, 10)),
            order("o2", "r1", window=window(10 + 20 / 60, 11 + 20 / 60)),
        ],
    )
    result = result_of(prob, assign("o1", "ann", start=540), assign("o2", "ann", start=620))
    assert verify(prob, result) == []


def test_infeasible_result_without_assignments_is_clean() -> None:
    """An INFEASIBLE result listing every order as unmatched is valid, pins included."""
    prob = chat(pinned=("ann",))
    assert verify(prob, result_of(prob, status=Status.INFEASIBLE)) == []


def test_infeasible_result_need_not_list_orders() -> None:
    """An INFEASIBLE result is "no plan": leaving ``unmatched`` empty is valid, doubling is not."""
    prob = chat(pinned=("ann",))
    assert verify(prob, result_of(prob, left=(), status=Status.INFEASIBLE)) == []
    twice = (unmatched("o1"), unmatched("o1"))
    assert rules(verify(prob, result_of(prob, left=twice, status=Status.INFEASIBLE))) == {
        "unmatched"
    }


# ----------------------------------------------------------------------------- identities


def test_unknown_order_id() -> None:
    """An assignment naming an order that does not exist is reported."""
    prob = chat()
    result = result_of(prob, assign("o1", "ann"), assign("ghost", "ann"))
    assert rules(verify(prob, result)) == {"unknown_id"}


def test_unknown_helper_id() -> None:
    """A team naming a helper that does not exist is reported."""
    prob = problem([helper("ann", "heavy_lifting")], [resident("r1")], [order("o1", "r1", "MOVE")])
    found = verify(prob, result_of(prob, assign("o1", "ann", "ghost")))
    assert rules(found) == {"unknown_id"}
    assert found[0].helper == "ghost"


def test_duplicate_order() -> None:
    """An order assigned twice is reported once, not as an overlap or extra load."""
    prob = chat(window=window(9, 10))
    result = result_of(prob, assign("o1", "ann", start=540), assign("o1", "ann", start=540))
    assert rules(verify(prob, result)) == {"duplicate_order"}


def test_duplicate_helper() -> None:
    """A helper listed twice in one team is reported (and the team is then short)."""
    prob = problem([helper("ann", "heavy_lifting")], [resident("r1")], [order("o1", "r1", "MOVE")])
    found = verify(prob, result_of(prob, assign("o1", "ann", "ann")))
    assert rules(found) == {"duplicate_helper", "team_size"}


# ----------------------------------------------------------------------------- team


def test_skill() -> None:
    """A member without the item's required skill is reported."""
    prob = problem([helper("ann", "cleaning")], [resident("r1")], [order("o1", "r1")])
    found = verify(prob, result_of(prob, assign("o1", "ann")))
    assert rules(found) == {"skill"}
    assert (found[0].order, found[0].helper) == ("o1", "ann")


def test_skill_checked_for_every_member() -> None:
    """Each member must hold the required skills, not just one of them."""
    prob = problem(
        [helper("ann", "nursing", "physician"), helper("bo", "physician")],
        [resident("r1")],
        [order("o1", "r1", "HOMECARE")],
    )
    found = verify(prob, result_of(prob, assign("o1", "ann", "bo")))
    assert [(v.rule, v.helper) for v in found] == [("skill", "bo")]


def test_lead_skill() -> None:
    """A team in which nobody holds the lead skill is reported."""
    prob = problem(
        [helper("ann", "nursing"), helper("bo", "nursing")],
        [resident("r1")],
        [order("o1", "r1", "HOMECARE")],
    )
    assert rules(verify(prob, result_of(prob, assign("o1", "ann", "bo")))) == {"lead_skill"}


def test_language() -> None:
    """A team in which nobody speaks the resident's language is reported."""
    prob = problem(
        [helper("ann", "companionship"), helper("bo", "companionship", languages={"zh", "mn"})],
        [resident("r1", language="mn")],
        [order("o1", "r1")],
    )
    assert rules(verify(prob, result_of(prob, assign("o1", "ann")))) == {"language"}
    assert verify(prob, result_of(prob, assign("o1", "bo"))) == []


def test_blocked() -> None:
    """A helper blocked from the resident is reported."""
    prob = chat(helper_fields={"blocked_residents": {"r1"}})
    assert rules(verify(prob, result_of(prob, assign("o1", "ann")))) == {"blocked"}


@pytest.mark.parametrize("helpers", [(), ("ann", "bo", "cy")], ids=["empty", "too_many"])
def test_team_size_exact(helpers: tuple[str, ...]) -> None:
    """A team with fewer or more helpers than the team size is reported."""
    prob = problem(
        [helper(h, "heavy_lifting") for h in ("ann", "bo", "cy")],
        [resident("r1")],
        [order("o1", "r1", "MOVE")],
    )
    assert rules(verify(prob, result_of(prob, assign("o1", *helpers)))) == {"team_size"}


def test_partial_team() -> None:
    """One helper on a two-person item is a partial team."""
    prob = problem([helper("ann", "heavy_lifting")], [resident("r1")], [order("o1", "r1", "MOVE")])
    assert rules(verify(prob, result_of(prob, assign("o1", "ann")))) == {"team_size"}


def test_team_size_of_order_overrides_item() -> None:
    """The order's own team size is what counts."""
    prob = problem(
        [helper("ann", "heavy_lifting")], [resident("r1")], [order("o1", "r1", "MOVE", team_size=1)]
    )
    assert verify(prob, result_of(prob, assign("o1", "ann"))) == []


# ----------------------------------------------------------------------------- reach


def test_reach_radius() -> None:
    """A helper whose one-way km (great circle x detour) exceeds their radius is reported."""
    prob = chat(helper_fields={"radius_km": 1.9})  # 1.5 km x 1.3 = 1.95 km
    assert rules(verify(prob, result_of(prob, assign("o1", "ann")))) == {"reach"}
    prob = chat(helper_fields={"radius_km": 2.0})
    assert verify(prob, result_of(prob, assign("o1", "ann"))) == []


def test_reach_item_max_distance() -> None:
    """A helper beyond the item's max distance is reported even inside their radius."""
    prob = problem(
        [helper("ann", "nursing", where=at(1.6))], [resident("r1")], [order("o1", "r1", "BP")]
    )
    found = verify(prob, result_of(prob, assign("o1", "ann")))
    assert rules(found) == {"reach"}
    assert "2.0 km limit" in found[0].message


def test_reach_uses_detour_factor() -> None:
    """The detour factor scales the km: 1.95 km at 1.3 but 1.5 km at 1.0."""
    prob = chat(helper_fields={"radius_km": 1.6})
    straight = replace(prob, travel=GeoTravel(detour_factor=1.0))
    result = result_of(prob, assign("o1", "ann"))
    assert rules(verify(prob, result)) == {"reach"}
    assert verify(straight, result) == []


def test_reach_missing_matrix_leg() -> None:
    """With matrix travel, a pair absent from the matrix is reported."""
    legs = (TravelLeg(helper="bo", order="o1", km_round_trip=1.0, minutes_round_trip=5),)
    prob = problem(
        [helper("ann", "companionship"), helper("bo", "companionship")],
        [resident("r1")],
        [order("o1", "r1")],
        travel=MatrixTravel(legs=legs),
    )
    assert rules(verify(prob, result_of(prob, assign("o1", "ann")))) == {"reach"}
    assert verify(prob, result_of(prob, assign("o1", "bo"))) == []


def test_reach_matrix_km_is_halved() -> None:
    """Matrix km are round trip; reach compares half of them to the radius."""
    legs = (TravelLeg(helper="ann", order="o1", km_round_trip=6.0, minutes_round_trip=30),)
    prob = problem(
        [helper("ann", "companionship")],
        [resident("r1")],
        [order("o1", "r1")],
        travel=MatrixTravel(legs=legs),
    )
    assert verify(prob, result_of(prob, assign("o1", "ann"))) == []


# ----------------------------------------------------------------------------- timing


@pytest.mark.parametrize(
    ("fields", "start"),
    [
        ({"window": window(9, 10)}, 545),
        ({"window": window(9, 10)}, None),
        ({}, 540),
        ({"window": window(9, 11), "flexible_start": True}, 535),
        ({"window": window(9, 11), "flexible_start": True}, 601),
    ],
    ids=["fixed_moved", "timed_without_start", "untimed_with_start", "too_early", "too_late"],
)
def test_window(fields: dict[str, object], start: int | None) -> None:
    """Fixed starts, flexible windows and untimed orders are respected."""
    prob = chat(**fields)
    assert rules(verify(prob, result_of(prob, assign("o1", "ann", start=start)))) == {"window"}


def test_window_flexible_inside() -> None:
    """A flexible visit anywhere inside its window is fine, up to the last possible start."""
    prob = chat(window=window(9, 11), flexible_start=True)
    for start in (540, 570, 600):
        assert verify(prob, result_of(prob, assign("o1", "ann", start=start))) == []


def test_window_uses_order_duration() -> None:
    """An order's own duration replaces the item's when checking the window."""
    prob = chat(window=window(9, 11), flexible_start=True, duration_min=90)
    found = verify(prob, result_of(prob, assign("o1", "ann", start=600)))
    assert rules(found) == {"window"}


@pytest.mark.parametrize(
    ("free_from", "free_to", "fits"),
    [(530, 610, True), (540, 610, False), (530, 609, False)],
    ids=["exact", "no_time_to_go", "no_time_to_return"],
)
def test_availability_includes_travel(free_from: int, free_to: int, fits: bool) -> None:
    """The 10 min out and 10 min back must fit in an availability window, not just the visit."""
    free = (TimeWindow(start=free_from, end=free_to),)
    prob = chat(window=window(9, 10), helper_fields={"availability": free})
    found = verify(prob, result_of(prob, assign("o1", "ann", start=540)))
    assert rules(found) == (set() if fits else {"availability"})


@pytest.mark.parametrize(
    ("free_from", "free_to", "fits"),
    [(520, 619, True), (521, 619, False), (520, 618, False)],
    ids=["exact", "no_time_to_go", "no_time_to_return"],
)
def test_availability_uses_helper_speed(free_from: int, free_to: int, fits: bool) -> None:
    """A slower helper needs longer trips: 3.9 km at 6 km/h is 39 min (20 out, 19 back)."""
    fields = {"availability": (TimeWindow(start=free_from, end=free_to),), "speed_kmh": 6.0}
    prob = chat(window=window(9, 10), helper_fields=fields)
    found = verify(prob, result_of(prob, assign("o1", "ann", start=540)))
    assert rules(found) == (set() if fits else {"availability"})


def test_availability_must_be_one_window() -> None:
    """A trip spanning two adjacent availability windows is not inside either."""
    free = (window(8, 9.5), window(9.5, 12))
    prob = chat(window=window(9, 10), helper_fields={"availability": free})
    found = verify(prob, result_of(prob, assign("o1", "ann", start=540)))
    assert rules(found) == {"availability"}


def test_overlap() -> None:
    """Two trips of one helper that overlap once travel is counted are reported."""
    prob = problem(
        [helper("ann", "companionship", where=NEAR)],
        [resident("r1")],
        [
            order("o1", "r1", window=window(9, 10)),
            order("o2", "r1", window=window(10 + 19 / 60, 11 + 19 / 60)),
        ],
    )
    result = result_of(prob, assign("o1", "ann", start=540), assign("o2", "ann", start=619))
    found = verify(prob, result)
    assert rules(found) == {"overlap"}
    assert "'o1'" in found[0].message and "'o2'" in found[0].message


def test_untimed_orders_never_overlap() -> None:
    """Untimed orders only consume capacity, so they never overlap with anything."""
    prob = problem(
        [helper("ann", "companionship", where=NEAR)],
        [resident("r1")],
        [order("o1", "r1", window=window(9, 10)), order("o2", "r1")],
    )
    assert verify(prob, result_of(prob, assign("o1", "ann", start=540), assign("o2", "ann"))) == []


# ----------------------------------------------------------------------------- loads


def test_max_orders() -> None:
    """More orders than ``max_orders`` is reported once for the helper."""
    prob = problem(
        [helper("ann", "companionship", max_orders=1)],
        [resident("r1")],
        [order("o1", "r1"), order("o2", "r1")],
    )
    found = verify(prob, result_of(prob, assign("o1", "ann"), assign("o2", "ann")))
    assert [(v.rule, v.helper) for v in found] == [("max_orders", "ann")]


@pytest.mark.parametrize(
    ("committed", "cap", "broken"),
    [(0, 79, True), (0, 80, False), (100, 180, False), (101, 180, True)],
)
def test_max_minutes_counts_travel_and_committed(committed: int, cap: int, broken: bool) -> None:
    """Committed minutes + 60 service + 20 travel must fit in ``max_minutes``."""
    prob = chat(helper_fields={"committed_minutes": committed, "max_minutes": cap})
    found = verify(prob, result_of(prob, assign("o1", "ann")))
    assert rules(found) == ({"max_minutes"} if broken else set())


def test_a_helper_already_past_their_cap_and_given_nothing_breaks_no_limit() -> None:
    """Work committed elsewhere past the cap (a team staff sent against the rule) is not the
    plan's doing: a plan that gives that helper nothing is clean, one that gives them a visit
    is not (the nightly run must not be refused for what staff chose)."""
    prob = chat(helper_fields={"committed_minutes": 200, "max_minutes": 180})
    assert verify(prob, result_of(prob)) == []
    assert rules(verify(prob, result_of(prob, assign("o1", "ann")))) == {"max_minutes"}


# ----------------------------------------------------------------------------- pins


def test_pinned_helper_missing() -> None:
    """An assigned order whose team lacks its pinned helper is reported."""
    prob = problem(
        [helper("ann", "companionship"), helper("bo", "companionship")],
        [resident("r1")],
        [order("o1", "r1", pinned=("ann",))],
    )
    found = verify(prob, result_of(prob, assign("o1", "bo")))
    assert [(v.rule, v.helper) for v in found] == [("pinned", "ann")]


def test_pinned_order_unmatched() -> None:
    """A feasible result that leaves a pinned order unmatched is reported."""
    prob = chat(pinned=("ann",))
    assert rules(verify(prob, result_of(prob))) == {"pinned"}


# ----------------------------------------------------------------------------- integrity


def test_order_neither_assigned_nor_unmatched() -> None:
    """An order missing from both lists is reported."""
    prob = chat()
    assert rules(verify(prob, result_of(prob, left=()))) == {"unmatched"}


def test_order_both_assigned_and_unmatched() -> None:
    """An order in both lists is reported."""
    prob = chat()
    result = result_of(prob, assign("o1", "ann"), left=(unmatched("o1"),))
    assert rules(verify(prob, result)) == {"unmatched"}


def test_order_unmatched_twice() -> None:
    """An order listed twice as unmatched is reported."""
    prob = chat()
    assert rules(verify(prob, result_of(prob, left=(unmatched("o1"), unmatched("o1"))))) == {
        "unmatched"
    }


def test_unmatched_names_unknown_order() -> None:
    """Unmatched entries and ``outranked_by`` must name existing orders."""
    prob = chat()
    left = (unmatched("o1", outranked_by="ghost"), unmatched("ghost"))
    found = verify(prob, result_of(prob, left=left))
    assert [v.rule for v in found] == ["unknown_id", "unknown_id"]


def test_coverage_figure() -> None:
    """A wrong weighted coverage or demand is reported."""
    prob = chat()
    good = result_of(prob, assign("o1", "ann"))
    for wrong in (
        good.model_copy(update={"weighted_coverage": 99}),
        good.model_copy(update={"weighted_demand": 101}),
    ):
        assert rules(verify(prob, wrong)) == {"coverage_figure"}


def test_coverage_figure_uses_wait_boost() -> None:
    """Order weights grow with days waited, so the figures depend on ``wait_boost``."""
    prob = chat(days_waited=3)
    result = result_of(prob, assign("o1", "ann"), wait_boost=0.5)
    assert result.weighted_coverage == 250
    assert verify(prob, result, wait_boost=0.5) == []
    assert rules(verify(prob, result)) == {"coverage_figure"}


def test_infeasible_with_assignments() -> None:
    """An INFEASIBLE result must carry no assignments."""
    prob = chat()
    result = result_of(prob, assign("o1", "ann"), status=Status.INFEASIBLE)
    assert rules(verify(prob, result)) == {"infeasible_with_assignments"}


def test_assert_valid_lists_violations() -> None:
    """``assert_valid`` raises with every violation's rule code and ids in the message."""
    prob = problem(
        [helper("ann", "cleaning")], [resident("r1", language="mn")], [order("o1", "r1")]
    )
    with pytest.raises(AssertionError) as caught:
        assert_valid(prob, result_of(prob, assign("o1", "ann")))
    text = str(caught.value)
    assert "[skill]" in text and "[language]" in text and "'ann'" in text


def test_travel_agrees_with_travel_table() -> None:
    """The checker's own travel arithmetic matches ``matcher.travel`` on a spread of pairs."""
    from matcher.travel import TravelTable
    from matcher.verify import _Legs

    helpers = [
        helper(f"h{i}", where=at(0.7 * i, -1.1 * i), speed_kmh=4.0 + i if i % 2 else None)
        for i in range(6)
    ]
    prob = problem(helpers, [resident("r1", where=at(2, 3))], [order("o1", "r1")])
    table, legs = TravelTable(prob), _Legs(prob)
    for h in prob.helpers:
        assert legs.get(h, prob.orders[0]) == tuple(table.leg(h, prob.orders[0]) or ())
