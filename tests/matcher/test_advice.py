"""The next step of an unmatched order (``matcher.advice``): what it names is true, taking it
covers the order, and it never contradicts the order's reason."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from matcher.advice import CAPACITY_STEPS, STEPS, advise, plan_day, relax
from matcher.candidates import build_contexts
from matcher.generator import generate_street, preset
from matcher.model import Helper, Problem, TimeWindow
from matcher.params import SolveParams
from matcher.result import Assignment, Reason, Result, Step, StepKind, Unmatched
from matcher.solve import solve, solve_greedy
from matcher.verify import Rule, check_plan
from tests.factories import at, helper, order, problem, resident, window
from tests.matcher.strategies import problems

PARAMS = SolveParams(time_limit_s=5, workers=1, seed=0)
PROPERTY = settings(
    max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
# The rules a step's team may break before the step is taken (and only those).
RELAXED: dict[StepKind, frozenset[Rule]] = {
    StepKind.ASSIGN_NOW: frozenset(),
    StepKind.RAISE_LIMIT: frozenset({Rule.MAX_ORDERS, Rule.MAX_MINUTES}),
    StepKind.EXTEND_RADIUS: frozenset({Rule.REACH}),
    StepKind.MOVE_WINDOW: frozenset({Rule.WINDOW}),
    StepKind.WIDEN_DISTANCE: frozenset({Rule.REACH}),
    StepKind.SMALLER_TEAM: frozenset({Rule.TEAM_SIZE}),
    StepKind.ADD_SKILL: frozenset({Rule.SKILL, Rule.LEAD_SKILL, Rule.LANGUAGE}),
}
HELPER_RULES = frozenset({Rule.MAX_ORDERS, Rule.MAX_MINUTES, Rule.REACH, Rule.SKILL})


def check_steps(prob: Problem, result: Result) -> int:
    """Assert every unmatched order's step holds; return how many steps named a team."""
    proved = 0
    for entry in result.unmatched:
        step = entry.params.step
        if prob.order(entry.order).pinned:
            continue
        assert step is not None, entry
        assert step.kind is StepKind.FIND_HELPER or step.kind in STEPS[entry.reason], entry
        if step.kind is StepKind.FIND_HELPER:
            assert not step.team, entry
            continue
        assert_step_covers(prob, result, entry)
        proved += 1
    return proved


def assert_step_covers(prob: Problem, result: Result, entry: Unmatched) -> None:
    """The step's team breaks only the relaxed rule now (for its helper, if it names one), and
    none once the step is taken, with the rest of the plan kept."""
    step = entry.params.step
    assert step is not None
    planned = [*result.assignments, Assignment(order=entry.order, helpers=step.team,
                                               start=step.start)]  # fmt: skip
    before = check_plan(prob, planned)
    assert {v.rule for v in before} <= RELAXED[step.kind], (entry, before)
    if step.kind is not StepKind.ASSIGN_NOW:
        assert before, entry  # the step is needed
    if step.helper is not None:
        assert step.helper in step.team, entry
        assert all(v.helper == step.helper for v in before if v.rule in HELPER_RULES), before
    after = check_plan(relax(prob, entry.order, step), planned)
    assert after == [], (entry, after)


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("solver", ["cpsat", "greedy"])
@PROPERTY
@given(prob=problems())
def test_steps_hold_on_small_problems(solver: str, prob: Problem) -> None:
    """On random small problems each unmatched order's step agrees with its reason, and its team
    covers the order once the step is taken (``relax``) and only then."""
    result = solve(prob, PARAMS) if solver == "cpsat" else solve_greedy(prob, PARAMS)
    check_steps(prob, result)


@pytest.mark.parametrize("seed", range(6))
def test_steps_hold_on_generated_streets(seed: int) -> None:
    """On generated streets (the tiny preset, six seeds) every step holds as above, and most
    seed's street has a step naming a team."""
    prob = generate_street(preset("tiny", seed=seed, orders=60))
    result = solve_greedy(prob, PARAMS)
    proved = check_steps(prob, result)
    assert proved >= 1


# ----------------------------------------------------------------------------- one of each


def _one(helpers: list[Helper], **fields: Any) -> Problem:
    return problem(helpers, [resident("r1")], [order("o1", "r1", **fields)])


def _step(prob: Problem) -> tuple[Unmatched, Step]:
    """The one unmatched order of ``prob`` (solved by the hand rule), its step checked."""
    result = solve_greedy(prob, PARAMS)
    (entry,) = result.unmatched
    assert entry.params.step is not None
    if entry.params.step.team:
        assert_step_covers(prob, result, entry)
    return entry, entry.params.step


def test_raise_limit_names_the_helper_with_fewest_visits() -> None:
    """Two chats, one helper taking one order a day: ask them to take a second (AT_LIMIT)."""
    prob = problem(
        [helper("ann", "companionship", where=at(1.0), max_orders=1)],
        [resident("r1"), resident("r2")],
        [order("o1", "r1", priority=3), order("o2", "r2")],
    )
    entry, step = _step(prob)
    assert (entry.reason, step.kind, step.helper, step.count) == (
        Reason.OUTRANKED, StepKind.RAISE_LIMIT, "ann", 1)  # fmt: skip


def test_too_far_says_whom_to_ask() -> None:
    """A helper 3.5 km away as the crow flies (4.55 km by road) with a 3 km radius:
    OUT_OF_REACH, ask them to go about 4.6 km."""
    entry, step = _step(_one([helper("ann", "companionship", where=at(3.5))]))
    assert entry.reason is Reason.OUT_OF_REACH and step.kind is StepKind.EXTEND_RADIUS
    assert step.helper == "ann" and step.km == pytest.approx(4.6)


def test_busy_then_moves_the_window() -> None:
    """The only helper is free from 14:00: move the 09:00-10:00 window to the afternoon."""
    free = (TimeWindow(start=840, end=1080),)
    entry, step = _step(_one([helper("ann", "companionship", where=at(0.5), availability=free)],
                              window=window(9, 10)))  # fmt: skip
    assert entry.reason is Reason.NOT_FREE and step.kind is StepKind.MOVE_WINDOW
    assert step.window is not None and step.window.start >= 840 and step.count == 1


def test_nobody_skilled_finds_who_lacks_only_the_skill() -> None:
    """Only a cleaner lives near: NO_SKILL, and the cleaner would fit with companionship."""
    entry, step = _step(_one([helper("bo", "cleaning", where=at(0.5))]))
    assert entry.reason is Reason.NO_SKILL and step.kind is StepKind.ADD_SKILL
    assert (step.helper, step.skills) == ("bo", ("companionship",))


def test_nobody_at_all_asks_outside() -> None:
    """No helper at all: FIND_HELPER, naming no team."""
    _, step = _step(_one([helper("bo", "cleaning", where=at(0.5), max_orders=0)]))
    assert step.kind is StepKind.FIND_HELPER and step.team == ()


def test_a_limit_of_minutes_asks_for_the_minutes_missing() -> None:
    """A helper with room for another order but 60 min a day, for a 60 min chat and 13 min of
    travel (2.6 km there and back at 12 km/h): AT_LIMIT, ask them for 13 minutes more."""
    entry, step = _step(_one([helper("ann", "companionship", where=at(1.0), max_minutes=60)]))
    assert entry.reason is Reason.AT_LIMIT and step.kind is StepKind.RAISE_LIMIT
    assert (step.helper, step.minutes) == ("ann", 13)


def test_beyond_the_items_distance_widens_it() -> None:
    """A nurse 2.5 km out (3.25 km by road, radius 5 km) for a blood-pressure check limited to
    2 km: OUT_OF_REACH, widen the item's distance to 3.5 km, which brings in that one nurse."""
    nurse = helper("nan", "nursing", where=at(2.5), radius_km=5.0)
    entry, step = _step(_one([nurse], item="BP"))
    assert entry.reason is Reason.OUT_OF_REACH and step.kind is StepKind.WIDEN_DISTANCE
    assert (step.km, step.count, step.team) == (3.5, 1, ("nan",))


def test_a_team_free_now_is_sent_by_hand() -> None:
    """Asked directly, an order a free helper could take as things stand is ASSIGN_NOW, with
    that helper as the team (what a solver's candidate cut may miss)."""
    prob = _one([helper("ann", "companionship", where=at(0.5))])
    eligibility, contexts = build_contexts(prob, PARAMS.wait_boost, limit=None)
    day = plan_day(eligibility, contexts, {})
    step = advise(eligibility, contexts[0], day, CAPACITY_STEPS)
    assert (step.kind, step.team) == (StepKind.ASSIGN_NOW, ("ann",))
