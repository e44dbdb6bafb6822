"""One feasible and one infeasible case per hard rule, solved by CP-SAT and by the greedy rule.

Feasible cases assert the order is covered; infeasible ones assert the order is unmatched with the
expected reason. Every result must also pass the independent checker. Travel: a helper at
``at(1.5)`` is 1.95 km from a resident at the origin, 20 min round trip (10 out, 10 back).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from matcher.model import Helper, Location, Problem, TimeWindow
from matcher.params import SolveParams
from matcher.result import Assignment, Reason, Result, Status, Unmatched
from matcher.verify import assert_valid
from tests.factories import at, helper, order, problem, resident, window

PARAMS = SolveParams(time_limit_s=5, workers=1, seed=0)
NEAR = at(1.5)

Solver = Callable[[Problem], Result]


def _cpsat(prob: Problem) -> Result:
    from matcher.solve import solve

    return solve(prob, PARAMS)


def _greedy(prob: Problem) -> Result:
    from matcher.solve import solve_greedy

    return solve_greedy(prob, PARAMS)


@pytest.fixture(params=[_cpsat, _greedy], ids=["cpsat", "greedy"])
def run(request: pytest.FixtureRequest) -> Solver:
    solver: Solver = request.param
    return solver


def covered(prob: Problem, result: Result, order_id: str = "o1") -> Assignment:
    """The order's assignment, after checking the whole result is valid."""
    assert_valid(prob, result, PARAMS.wait_boost)
    assignment = result.assignment_of(order_id)
    assert assignment is not None, f"{order_id} unmatched: {result.unmatched}"
    return assignment


def left_out(prob: Problem, result: Result, reason: Reason, order_id: str = "o1") -> Unmatched:
    """The order's unmatched entry with ``reason``, after checking the whole result is valid."""
    assert_valid(prob, result, PARAMS.wait_boost)
    entry = next((u for u in result.unmatched if u.order == order_id), None)
    assert entry is not None, f"{order_id} covered: {result.assignment_of(order_id)}"
    assert entry.reason is reason, entry
    return entry


def one_order(
    helpers: list[Helper], item: str = "CHAT", where: Location | None = None, **fields: object
) -> Problem:
    """Resident ``r1`` (at the origin unless ``where``) orders ``item`` as ``o1``."""
    language = fields.pop("language", None)
    return problem(
        helpers,
        [resident("r1", where=where, language=language)],
        [order("o1", "r1", item, **fields)],
    )


def availability(start: int, end: int) -> tuple[TimeWindow, ...]:
    return (TimeWindow(start=start, end=end),)


# ----------------------------------------------------------------------------- skills


def test_skill_feasible(run: Solver) -> None:
    """A helper holding the required skill is assigned."""
    prob = one_order([helper("ann", "companionship")])
    assert covered(prob, run(prob)).helpers == ("ann",)


def test_skill_infeasible(run: Solver) -> None:
    """Nobody holds the required skill: NO_SKILL."""
    prob = one_order([helper("ann", "cleaning")])
    left_out(prob, run(prob), Reason.NO_SKILL)


def test_lead_skill_feasible(run: Solver) -> None:
    """A two-person team includes the only holder of the lead skill."""
    helpers = [
        helper("ann", "nursing", "physician", where=NEAR),
        helper("bo", "nursing"),
        helper("cy", "nursing"),
    ]
    prob = one_order(helpers, "HOMECARE")
    team = covered(prob, run(prob)).helpers
    assert "ann" in team and len(team) == 2


def test_lead_skill_infeasible(run: Solver) -> None:
    """Everybody has the required skill but nobody the lead skill: NO_SKILL."""
    prob = one_order([helper("ann", "nursing"), helper("bo", "nursing")], "HOMECARE")
    left_out(prob, run(prob), Reason.NO_SKILL)


def test_language_feasible(run: Solver) -> None:
    """The resident's language picks the farther helper who speaks it."""
    helpers = [
        helper("ann", "companionship"),
        helper("bo", "companionship", where=NEAR, languages={"zh", "mn"}),
    ]
    prob = one_order(helpers, language="mn")
    assert covered(prob, run(prob)).helpers == ("bo",)


def test_language_infeasible(run: Solver) -> None:
    """Nobody speaks the resident's language: NO_SKILL."""
    prob = one_order([helper("ann", "companionship")], language="mn")
    left_out(prob, run(prob), Reason.NO_SKILL)


# ----------------------------------------------------------------------------- reach


def test_blocked_feasible(run: Solver) -> None:
    """A blocked helper is passed over for a farther one."""
    helpers = [
        helper("ann", "companionship", blocked_residents={"r1"}),
        helper("bo", "companionship", where=NEAR),
    ]
    prob = one_order(helpers)
    assert covered(prob, run(prob)).helpers == ("bo",)


def test_blocked_infeasible(run: Solver) -> None:
    """The only skilled helper is blocked: OUT_OF_REACH."""
    prob = one_order([helper("ann", "companionship", blocked_residents={"r1"})])
    left_out(prob, run(prob), Reason.OUT_OF_REACH)


def test_radius_feasible(run: Solver) -> None:
    """A helper 2.6 km away (2 km x 1.3) is within a 3 km radius."""
    prob = one_order([helper("ann", "companionship", where=at(2))])
    covered(prob, run(prob))


def test_radius_infeasible(run: Solver) -> None:
    """A helper 3.25 km away (2.5 km x 1.3) is beyond a 3 km radius: OUT_OF_REACH."""
    prob = one_order([helper("ann", "companionship", where=at(2.5))])
    left_out(prob, run(prob), Reason.OUT_OF_REACH)


def test_item_max_distance_feasible(run: Solver) -> None:
    """A nurse 1.95 km away may take a blood-pressure check (2 km limit)."""
    prob = one_order([helper("ann", "nursing", where=NEAR)], "BP")
    covered(prob, run(prob))


def test_item_max_distance_infeasible(run: Solver) -> None:
    """A nurse 2.08 km away, inside her radius, is beyond the item's 2 km: OUT_OF_REACH."""
    prob = one_order([helper("ann", "nursing", where=at(1.6))], "BP")
    left_out(prob, run(prob), Reason.OUT_OF_REACH)


# ----------------------------------------------------------------------------- time


def test_availability_feasible(run: Solver) -> None:
    """A fixed 09:00 visit fits when the helper is free 08:50-10:10 (10 min each way)."""
    prob = one_order(
        [helper("ann", "companionship", where=NEAR, availability=availability(530, 610))],
        window=window(9, 10),
    )
    assert covered(prob, run(prob)).start == 540


def test_availability_flexible_feasible(run: Solver) -> None:
    """A flexible visit is placed where the trip fits: free 10:00-11:30 means start 10:10-10:20."""
    prob = one_order(
        [helper("ann", "companionship", where=NEAR, availability=availability(600, 690))],
        window=window(9, 12),
        flexible_start=True,
    )
    start = covered(prob, run(prob)).start
    assert start is not None and 610 <= start <= 620


@pytest.mark.parametrize(
    ("free_from", "free_to"),
    [(540, 660), (530, 609), (840, 1080)],
    ids=["no_time_to_go", "no_time_to_return", "free_afternoon"],
)
def test_availability_infeasible(run: Solver, free_from: int, free_to: int) -> None:
    """Free for the visit but not for the travel around it (or not at all): NOT_FREE."""
    free = availability(free_from, free_to)
    prob = one_order(
        [helper("ann", "companionship", where=NEAR, availability=free)], window=window(9, 10)
    )
    left_out(prob, run(prob), Reason.NOT_FREE)


def two_visits(second_start: int, **first: object) -> Problem:
    """Helper ``ann`` (1.5 km out) and two 60 min chats at 09:00 and ``second_start``."""
    second = TimeWindow(start=second_start, end=second_start + 60)
    return problem(
        [helper("ann", "companionship", where=NEAR)],
        [resident("r1")],
        [order("o1", "r1", window=window(9, 10), **first), order("o2", "r1", window=second)],
    )


def test_overlap_feasible(run: Solver) -> None:
    """Visits at 09:00 and 10:20 fit back to back once 20 min of travel is counted."""
    prob = two_visits(620)
    result = run(prob)
    assert covered(prob, result, "o1").helpers == covered(prob, result, "o2").helpers == ("ann",)


def test_overlap_infeasible(run: Solver) -> None:
    """Visits at 09:00 and 10:10 overlap with travel; the higher priority wins: OUTRANKED."""
    prob = two_visits(610, priority=3)
    result = run(prob)
    covered(prob, result, "o1")
    assert left_out(prob, result, Reason.OUTRANKED, "o2").outranked_by == "o1"


# ----------------------------------------------------------------------------- limits


def untimed_pair(**helper_fields: object) -> Problem:
    """Helper ``ann`` (1.5 km out) and two untimed chats, ``o2`` of higher priority."""
    return problem(
        [helper("ann", "companionship", where=NEAR, **helper_fields)],
        [resident("r1")],
        [order("o1", "r1"), order("o2", "r1", priority=3)],
    )


def test_max_orders_feasible(run: Solver) -> None:
    """A helper taking two orders a day covers both."""
    prob = untimed_pair(max_orders=2)
    result = run(prob)
    covered(prob, result, "o1")
    covered(prob, result, "o2")


def test_max_orders_infeasible(run: Solver) -> None:
    """A helper taking no orders today: AT_LIMIT."""
    prob = one_order([helper("ann", "companionship", max_orders=0)])
    left_out(prob, run(prob), Reason.AT_LIMIT)


@pytest.mark.parametrize(
    "limit", [{"max_orders": 1}, {"max_minutes": 159}], ids=["max_orders", "max_minutes"]
)
def test_limit_outranked(run: Solver, limit: dict[str, int]) -> None:
    """Room for one order only: the higher-priority one takes it, the other is OUTRANKED."""
    prob = untimed_pair(**limit)
    result = run(prob)
    covered(prob, result, "o2")
    assert left_out(prob, result, Reason.OUTRANKED, "o1").outranked_by == "o2"


def test_max_minutes_feasible(run: Solver) -> None:
    """100 committed + 60 service + 20 travel fits exactly in 180 minutes."""
    prob = one_order(
        [helper("ann", "companionship", where=NEAR, committed_minutes=100, max_minutes=180)]
    )
    covered(prob, run(prob))


@pytest.mark.parametrize(("committed", "cap"), [(101, 180), (0, 79)], ids=["committed", "travel"])
def test_max_minutes_infeasible(run: Solver, committed: int, cap: int) -> None:
    """Committed minutes or the travel itself leave no room for the 60 min visit: AT_LIMIT."""
    prob = one_order(
        [helper("ann", "companionship", where=NEAR, committed_minutes=committed, max_minutes=cap)]
    )
    left_out(prob, run(prob), Reason.AT_LIMIT)


# ----------------------------------------------------------------------------- teams


def movers(first: tuple[int, int], second: tuple[int, int], *second_skills: str) -> Problem:
    """Two movers at the resident's door, free ``first`` and ``second``; 90 min in 09:00-13:00."""
    return one_order(
        [
            helper("ann", "heavy_lifting", availability=availability(*first)),
            helper("bo", *second_skills, availability=availability(*second)),
        ],
        "MOVE",
        window=window(9, 13),
        flexible_start=True,
    )


def test_full_team_feasible(run: Solver) -> None:
    """Both movers go at the one start both are free: 10:30 to 12:00."""
    prob = movers((540, 720), (630, 780), "heavy_lifting")
    assignment = covered(prob, run(prob))
    assert sorted(assignment.helpers) == ["ann", "bo"] and assignment.start == 630


def test_full_team_not_free_together(run: Solver) -> None:
    """Each mover is free alone but never both at once; no partial team: NOT_FREE."""
    prob = movers((540, 630), (630, 780), "heavy_lifting")
    left_out(prob, run(prob), Reason.NOT_FREE)


def test_full_team_one_skilled(run: Solver) -> None:
    """Only one helper can lift; a two-person job is not sent half-staffed: NO_SKILL."""
    prob = movers((540, 780), (540, 780), "cleaning")
    left_out(prob, run(prob), Reason.NO_SKILL)


# ----------------------------------------------------------------------------- pins


def test_pinned_feasible(run: Solver) -> None:
    """A pinned helper 2.6 km away is kept although another waits at the door."""
    prob = one_order(
        [helper("ann", "companionship", where=at(2)), helper("bo", "companionship")],
        pinned=("ann",),
    )
    assert covered(prob, run(prob)).helpers == ("ann",)


def test_pinned_in_team(run: Solver) -> None:
    """A pinned nurse joins a home medical visit alongside a physician."""
    helpers = [
        helper("ann", "nursing", "physician"),
        helper("bo", "nursing", where=at(2)),
        helper("cy", "nursing"),
    ]
    prob = one_order(helpers, "HOMECARE", pinned=("bo",))
    assert sorted(covered(prob, run(prob)).helpers) == ["ann", "bo"]


@pytest.mark.parametrize(
    ("skill", "broken"),
    [
        ("cleaning", {}),
        ("companionship", {"where": at(5)}),
        ("companionship", {"blocked_residents": {"r1"}}),
        ("companionship", {"availability": availability(840, 1080)}),
    ],
    ids=["skill", "reach", "blocked", "availability"],
)
def test_pinned_infeasible(run: Solver, skill: str, broken: dict[str, object]) -> None:
    """A pin that breaks a hard rule makes the result INFEASIBLE, without an exception."""
    helpers = [helper("ann", skill, **broken), helper("bo", "companionship")]
    prob = one_order(helpers, window=window(9, 10), pinned=("ann",))
    result = run(prob)
    assert result.status is Status.INFEASIBLE
    assert result.assignments == ()
    assert_valid(prob, result, PARAMS.wait_boost)
