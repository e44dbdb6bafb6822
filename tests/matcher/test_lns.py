"""Neighbourhood search (``matcher.lns``) and the large-street path of ``solve``: never worse than
the hand rule, valid plans, a quick cost bound that holds, and the time split."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import matcher.lns as lns
import matcher.solve as solve_module
from matcher.bound import cost_lower_bound
from matcher.generator import generate_street, preset
from matcher.lns import Neighbourhoods, plan_value
from matcher.metrics import summarize
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Result, Status
from matcher.solve import prepare, solve, solve_greedy
from matcher.verify import assert_valid
from tests.matcher.strategies import problems

PARAMS = SolveParams(time_limit_s=3, workers=1, seed=0)
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every street takes the large path, in windows of three orders."""
    monkeypatch.setattr(solve_module, "LARGE_ORDERS", 0)
    monkeypatch.setattr(lns, "WINDOW_ORDERS", 3)


def _km_per_order(problem: Problem, result: Result) -> float:
    summary = summarize(problem, result)
    return summary.travel_km_total / summary.orders_covered if summary.orders_covered else 0.0


def _cost(problem: Problem, result: Result, params: SolveParams) -> int:
    _, contexts, _ = prepare(problem, params)
    index = {c.order.id: c.index for c in contexts}
    helper = {h.id: i for i, h in enumerate(problem.helpers)}
    plans = {index[a.order]: ([helper[h] for h in a.helpers], a.start) for a in result.assignments}
    return plan_value(problem, contexts, plans, params.weights)[1]


def _check_not_worse(problem: Problem, params: SolveParams) -> Result:
    greedy = solve_greedy(problem, params)
    result = solve(problem, params)
    if greedy.status is Status.INFEASIBLE:
        return result
    assert_valid(problem, result)
    assert result.weighted_coverage >= greedy.weighted_coverage
    assert _km_per_order(problem, result) <= _km_per_order(problem, greedy) + 1e-9
    if result.weighted_coverage == greedy.weighted_coverage:
        assert _cost(problem, result, params) <= _cost(problem, greedy, params)
    return result


@PROPERTY
@given(problems())
def test_large_path_is_never_worse_than_the_hand_rule(small_windows: None, prob: Problem) -> None:
    """Through neighbourhood search, the plan is valid, covers at least the hand rule's weighted
    demand, travels no more per covered order, and at equal coverage costs no more."""
    _check_not_worse(prob, PARAMS)


@pytest.mark.parametrize(("seed", "workers"), [(0, 1), (1, 1), (0, 2), (2, 2)])
def test_large_path_on_a_generated_street(small_windows: None, seed: int, workers: int) -> None:
    """On a generated street the large path keeps the guarantees and reports both stages, also
    with two threads solving windows side by side."""
    problem = generate_street(preset("tiny", seed=seed))
    result = _check_not_worse(problem, PARAMS.model_copy(update={"workers": workers}))
    assert [s.name for s in result.stages] == ["coverage", "cost"]
    assert result.stages[1].bound <= result.stages[1].objective + 1e-9


def test_no_time_keeps_the_coverage_and_costs_no_more() -> None:
    """With the deadline already past, the search takes no coverage step: the plan covers at
    least what the plan it was given covers, and costs no more (the cost stage's small windows
    may still take one cheaper step, ``GRACE_S``)."""
    problem = generate_street(preset("tiny", seed=0))
    _, contexts, greedy = prepare(problem, PARAMS)
    search = Neighbourhoods(problem, contexts, PARAMS, greedy.assignments)
    start = plan_value(problem, contexts, greedy.assignments, PARAMS.weights)
    outcome = search.run(deadline=0.0, began=0.0)
    assert outcome.improved <= 1
    assert outcome.coverage_after_phase == start[0]
    assert outcome.cost <= start[1]
    coverage, cost = plan_value(problem, contexts, outcome.plans, PARAMS.weights)
    assert coverage >= start[0] and cost == outcome.cost


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_cost_stage_improves_with_no_time_left(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """A search whose deadline has passed before it starts (preparation took the time) still
    gives the cost stage one cheaper step, on small windows at the costliest orders, when one
    exists: the plan then costs less than the hand rule's at the same coverage and keeps its km
    per covered order. (The grace is made long, so the machine's speed plays no part.)"""
    monkeypatch.setattr(lns, "GRACE_S", 600.0)
    problem = generate_street(preset("tiny", seed=seed))
    _, contexts, greedy = prepare(problem, PARAMS)
    search = Neighbourhoods(
        problem, contexts, PARAMS, greedy.assignments, travel_reference=greedy.assignments
    )
    start = plan_value(problem, contexts, greedy.assignments, PARAMS.weights)
    reported: list[float] = []

    def progress(stage: str, objective: float, bound: float, elapsed: float) -> None:
        if stage == "cost":
            reported.append(objective)

    outcome = search.run(deadline=0.0, began=0.0, progress=progress, share=0.1)
    assert outcome.improved == 1
    assert outcome.coverage_after_phase == start[0]
    assert outcome.cost < outcome.coverage_plan_cost == start[1]
    assert reported[-1] < reported[0]
    assert plan_value(problem, contexts, outcome.plans, PARAMS.weights)[1] == outcome.cost
    km = sum(lns._km(contexts, outcome.plans, i) for i in outcome.plans)
    reference = sum(lns._km(contexts, greedy.assignments, i) for i in greedy.assignments)
    assert km * len(greedy.assignments) <= reference * len(outcome.plans) + 1e-9


def test_time_split_keeps_within_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a clock that advances a fixed tick on every reading, the coverage phase ends by its
    share of the limit and the whole search by the deadline (no real time involved)."""
    ticks = itertools.count()

    class Clock:
        @staticmethod
        def perf_counter() -> float:
            return 0.25 * next(ticks)

    problem = generate_street(preset("tiny", seed=1))
    _, contexts, greedy = prepare(problem, PARAMS)
    monkeypatch.setattr(lns, "time", Clock)
    monkeypatch.setattr(lns, "WINDOW_ORDERS", 2)
    search = Neighbourhoods(problem, contexts, PARAMS, greedy.assignments)
    limit = 20.0
    outcome = search.run(deadline=limit, began=0.0)
    assert outcome.steps > 0
    # (a step in flight reads the clock about six times: 1.5 s of this clock past the checks;
    # the open orders' insertion may take ``INSERT_S`` past the coverage share; a cost stage
    # that found nothing cheaper by the deadline may go on ``GRACE_S`` past it)
    assert outcome.phase_s[0] <= lns.COVERAGE_SHARE * limit + lns.INSERT_S + 1.5
    assert sum(outcome.phase_s) <= limit + lns.GRACE_S + 1.5


@PROPERTY
@given(problems(pin_one_in=0))
def test_quick_cost_bound_is_below_the_optimal_cost(prob: Problem) -> None:
    """The covering-knapsack cost bound never exceeds the proven optimal cost at the optimal
    coverage."""
    params = SolveParams(time_limit_s=10, workers=1, seed=0)
    result = solve(prob, params)
    if result.status is not Status.OPTIMAL:
        return
    _, contexts, _ = prepare(prob, params)
    bound = cost_lower_bound(prob, contexts, result.weighted_coverage, params.weights)
    assert bound <= result.stages[1].objective + 1e-6


def test_whole_model_finding_nothing_falls_back_to_the_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the whole CP-SAT model finds no plan in its share of the time (a busy machine), the
    rest of the time goes to neighbourhood search from the hand rule's plan, never worse than it."""
    from matcher.cpsat.solver import CpsatOutcome
    from matcher.result import Stage

    def nothing(*args: object, **kwargs: object) -> CpsatOutcome:
        stage = Stage(
            name="coverage",
            sense="max",
            status=Status.UNKNOWN,
            objective=0.0,
            bound=0.0,
            gap=1.0,
            runtime_s=0.0,
        )
        return CpsatOutcome(None, [stage])

    monkeypatch.setattr(solve_module, "run_cpsat", nothing)
    problem = generate_street(preset("tiny", seed=2))
    result = _check_not_worse(problem, PARAMS)
    assert "neighbourhood search" in result.message
    assert [s.name for s in result.stages] == ["coverage", "cost"]


def test_a_fixed_visit_blocks_an_overlapping_fixed_start() -> None:
    """Found on a 5,000-order street: a planned visit kept fixed in a window still carried its
    order's wide start ranges, so the conflict cliques let a fixed-start order in the window take
    the same helper at an overlapping time. The window must keep the plan valid."""
    from matcher.model import TimeWindow
    from matcher.verify import verify
    from tests.factories import helper, order, problem, resident

    prob = problem(
        [helper("h1", "companionship", max_orders=3, max_minutes=600)],
        [resident("r1"), resident("r2")],
        [
            order("o1", "r1", window=TimeWindow(start=480, end=720), flexible_start=True),
            order("o2", "r2", window=TimeWindow(start=620, end=700), priority=3),
        ],
    )
    params = SolveParams(time_limit_s=5, workers=1, seed=0)
    _, contexts, _ = prepare(prob, params)
    first = next(c for c in contexts if c.order.id == "o1")
    second = next(c for c in contexts if c.order.id == "o2")
    start = {first.index: ([0], 600)}  # o1 at 10:00 overlaps o2's fixed start at 10:20
    search = Neighbourhoods(prob, contexts, params, start, window=1)
    search.step(second.index, deadline=10**9, visited=set())
    assert second.index not in search.plans
    result = solve_module._result(
        prob,
        params,
        "cpsat",
        solve_module.prepare(prob, params)[0],
        contexts,
        search.plans,
        Status.FEASIBLE,
        (),
        0.0,
    )
    assert verify(prob, result) == []


@pytest.mark.parametrize(("seed", "workers"), [(0, 1), (1, 2), (0, 2)])
def test_cost_stage_never_costs_more_than_its_start(
    small_windows: None, monkeypatch: pytest.MonkeyPatch, seed: int, workers: int
) -> None:
    """The cost stage starts from the coverage stage's plan and only takes cheaper plans: each
    cost it reports is below the one before, the final cost is at most the coverage stage's, and
    coverage does not fall. The running totals the search keeps equal the plan's own. (No
    coverage stage here, so the cost stage starts from the hand rule's plan, with room to
    improve.)"""
    monkeypatch.setattr(lns, "COVERAGE_SHARE", 0.0)
    problem = generate_street(preset("tiny", seed=seed))
    params = PARAMS.model_copy(update={"workers": workers})
    _, contexts, greedy = prepare(problem, params)
    search = Neighbourhoods(
        problem, contexts, params, greedy.assignments, window=3, travel_reference=greedy.assignments
    )
    reported: list[float] = []

    def progress(stage: str, objective: float, bound: float, elapsed: float) -> None:
        if stage == "cost":
            reported.append(objective)

    outcome = search.run(deadline=lns.time.perf_counter() + 60, began=0.0, progress=progress)
    assert len(reported) > 1, "the cost stage found a cheaper plan"
    assert all(b < a for a, b in itertools.pairwise(reported))
    assert outcome.cost <= outcome.coverage_plan_cost
    coverage, cost = plan_value(problem, contexts, outcome.plans, params.weights)
    assert cost == outcome.cost
    assert [coverage, cost] == search.value
    assert coverage >= outcome.coverage_after_phase
    assert search.metres == sum(lns._metres(contexts, outcome.plans, i) for i in outcome.plans)


def _window_step(
    prob: Problem, objective: str
) -> tuple[Any, dict[int, Any], dict[int, Any]] | None:
    """The contexts, the hand rule's plan, and that plan with a window of its first four orders
    solved for ``objective``; None when the hand rule breaks a pin or the window finds nothing."""
    from matcher.lns import Neighbourhood

    _, contexts, greedy = prepare(prob, PARAMS)
    if greedy.pin_errors or any(c.pin_errors for c in contexts):
        return None
    plans = dict(greedy.assignments)
    free = [c.index for c in contexts][:4]
    window = Neighbourhood(prob, contexts, plans, free, PARAMS.weights)
    better = window.solve(PARAMS, lns.time.perf_counter() + 5.0, 0.5, objective=objective)
    if better is None:
        return None
    return contexts, plans, {i: p for i, p in plans.items() if i not in set(free)} | better


@PROPERTY
@given(problems())
def test_a_cost_step_only_returns_a_cheaper_plan(prob: Problem) -> None:
    """A window solved with its coverage held returns nothing or a plan for its orders that
    covers at least as much and costs strictly less than the plan it replaces."""
    step = _window_step(prob, "cost")
    if step is None:
        return
    contexts, plans, trial = step
    before, after = plan_value(prob, contexts, plans, PARAMS.weights)
    now = plan_value(prob, contexts, trial, PARAMS.weights)
    assert now[0] >= before
    assert now[1] < after


@PROPERTY
@given(problems())
def test_a_coverage_step_only_returns_more_coverage(prob: Problem) -> None:
    """A window solved for coverage alone returns nothing or a plan for its orders that covers
    strictly more weighted demand than the plan it replaces."""
    step = _window_step(prob, "coverage")
    if step is None:
        return
    contexts, plans, trial = step
    assert plan_value(prob, contexts, trial, PARAMS.weights)[0] > sum(
        contexts[i].weight for i in plans
    )


@PROPERTY
@given(problems())
def test_window_parameters_keep_the_window_optimum(prob: Problem) -> None:
    """Without presolve, probing and symmetry detection (``lns.window_parameters``) a window
    reaches the same optimum as with CP-SAT's defaults: one window over every order, from an
    empty plan, gives the same weighted coverage and cost either way (or nothing either way)."""
    from matcher.lns import Neighbourhood

    _, contexts, _ = prepare(prob, PARAMS)
    found = []
    for tuned in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            if not tuned:
                patch.setattr(lns, "window_parameters", lambda solver: None)
            window = Neighbourhood(prob, contexts, {}, [c.index for c in contexts], PARAMS.weights)
            plans = window.solve(PARAMS, lns.time.perf_counter() + 10.0, 2.0, objective="both")
        found.append(None if plans is None else plan_value(prob, contexts, plans, PARAMS.weights))
    assert found[0] == found[1]


def test_finish_times_leave_the_result_its_cpu_at_the_share() -> None:
    """The less of a core the process gets, the earlier the search stops; the explanations'
    steps stop after the search and before the limit, early enough for the result's CPU at that
    share; with no result CPU at a whole core, the former times (1.2 s and 0.25 s before a 20 s
    limit)."""
    assert lns.finish_times(100.0, 20.0, 0.0, 1.0) == pytest.approx((118.8, 119.75))
    cpu = lns.result_cpu(10_000, 0)
    ends = []
    for share in (1.0, 0.5, 0.2, 0.1):
        search_until, explain_until = lns.finish_times(100.0, 20.0, cpu, share)
        assert 100.0 < search_until < explain_until < 120.0
        assert 120.0 - explain_until >= cpu / share - 1e-9
        ends.append(search_until)
    assert ends == sorted(ends, reverse=True) and ends[0] > ends[-1]
