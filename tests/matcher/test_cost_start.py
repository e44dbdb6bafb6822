"""The cost stage's start on core streets (``matcher.cpsat.solver.narrow_cost`` over
``matcher.full_mip.FullMip.cost_support``) and the complete plan hints of the cost stages.

What must hold whatever the street: the cost relaxation's value is a lower bound on the lists'
least cost; the narrow model's plan is a plan of the whole model (the verifier passes it) that
covers at least the level and costs no more than the plan it was hinted with; a solve whose
stages are proven gives the same coverage and least cost with the cost start as without; and a
complete hint is exactly the plan (every variable hinted, consistent with every rule, its cost
the plan's). ``solve`` on a core street, which now takes the cost start, is checked against
the full problem by ``test_certificate_core.test_the_certificate_with_the_core_holds``."""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from ortools.sat.python import cp_model

from matcher import certificate as certificate_module
from matcher.candidates import Eligibility, OrderContext
from matcher.certificate import cost_start, coverage_cap
from matcher.cpsat.objective import COST_SCALE, cost_expression, coverage_expression
from matcher.cpsat.solver import (
    Plan,
    add_hard_rules,
    add_plan_hint,
    narrow_cost,
    plan_cost,
    run_cpsat,
)
from matcher.cpsat.variables import make_variables
from matcher.explain import explain_unmatched
from matcher.full_mip import FullMip, _run
from matcher.model import Problem
from matcher.result import Assignment, Result, Status
from matcher.solve import prepare
from matcher.verify import assert_valid
from tests.matcher.strategies import tiny_problems
from tests.matcher.test_certificate import NARROW, proven_stages, street, widened

PARAMS = NARROW.model_copy(update={"candidate_limit": 3, "time_limit_s": 10})


def covered(contexts: list[OrderContext], plans: Mapping[int, Plan]) -> int:
    return sum(contexts[i].weight for i in plans)


@pytest.mark.parametrize("seed", range(4))
def test_the_cost_relaxation_is_below_the_lists_least_cost(seed: int) -> None:
    """``cost_support``'s relaxation (HiGHS, start times dropped) at the proven coverage is never
    above the cost CP-SAT proves least on the same lists; its support names listed helpers."""
    problem, _, _ = street(seed)
    _, contexts, greedy = prepare(problem, PARAMS)
    outcome = run_cpsat(problem, contexts, PARAMS, greedy.assignments, time.perf_counter())
    stages = {stage.name: stage for stage in outcome.stages}
    assert stages["cost"].status is Status.OPTIMAL
    level = round(stages["coverage"].objective)
    lists = FullMip(problem, PARAMS.weights, contexts)
    lower, upper, objective, rows, _ = lists._cost_model(level)
    relaxed = _run(lower, upper, objective, rows, None, 10, 1, False, relax=True)
    assert relaxed.bound is not None
    assert relaxed.bound / COST_SCALE <= stages["cost"].objective + 1e-6
    found = lists.cost_support(level, 10, 1)
    assert found is not None
    support, value = found
    assert value == pytest.approx(relaxed.bound / COST_SCALE)
    for ctx in contexts:
        listed = {c.helper for c in ctx.candidates}
        assert support.get(ctx.index, set()) <= listed


@pytest.mark.parametrize("seed", range(4))
def test_the_narrow_plan_is_a_plan_no_dearer_than_its_hint(seed: int) -> None:
    """``narrow_cost`` from the coverage stage's plan: a valid plan (the verifier), covering at
    least the level, costing at most the hinted plan; with an empty support it is the hinted
    plan's cost or less too."""
    problem, _, _ = street(seed)
    params = PARAMS.model_copy(update={"coverage_time_share": 1.0, "time_limit_s": 5})
    eligibility, contexts, greedy = prepare(problem, params)
    outcome = run_cpsat(problem, contexts, params, greedy.assignments, time.perf_counter())
    assert outcome.plans is not None
    level = covered(contexts, outcome.plans)
    relaxation = FullMip(problem, params.weights, contexts).cost_support(level, 10, 1)
    assert relaxation is not None
    empty: dict[int, set[int]] = {}
    for given_support in (relaxation[0], empty):
        found = narrow_cost(
            problem, contexts, params, outcome.plans, level, given_support, time.perf_counter() + 5
        )
        assert covered(contexts, found) >= level
        before = plan_cost(problem, contexts, outcome.plans, params.weights)
        assert plan_cost(problem, contexts, found, params.weights) <= before
        result = _as_result(problem, eligibility, contexts, found)
        assert_valid(problem, result)


def _as_result(
    problem: Problem, eligibility: Eligibility, contexts: list[OrderContext], plans: dict[int, Plan]
) -> Result:
    """A bare result carrying ``plans``, for the verifier."""
    helpers = problem.helpers
    return Result(
        solver="cpsat",
        status=Status.FEASIBLE,
        stages=(),
        gap=0.0,
        runtime_s=0.0,
        assignments=tuple(
            Assignment(
                order=contexts[i].order.id,
                helpers=tuple(sorted(helpers[h].id for h in team)),
                start=start,
            )
            for i, (team, start) in sorted(plans.items())
        ),
        unmatched=tuple(explain_unmatched(eligibility, contexts, plans)),
        weights=PARAMS.weights,
        weighted_coverage=covered(contexts, plans),
        weighted_demand=sum(c.weight for c in contexts),
    )


@pytest.mark.parametrize("seed", range(4))
def test_the_cost_start_leaves_proven_stages_alone(seed: int) -> None:
    """On a core street (``MIP_VISITS`` = 0), CP-SAT with the cost start proves the same
    coverage and the same least cost as without it."""
    problem, _, _ = street(seed)
    outcomes = []
    for with_start in (True, False):
        eligibility, contexts, greedy = widened(problem, PARAMS)
        start = cost_start(problem, PARAMS.weights, eligibility, 1)
        assert start is not None  # the core ran
        outcome = run_cpsat(
            problem,
            contexts,
            PARAMS,
            greedy.assignments,
            time.perf_counter(),
            coverage_cap=coverage_cap(eligibility),
            cost_start=start if with_start else None,
        )
        outcomes.append(proven_stages(outcome))
        certificate_module._widened.pop(id(eligibility), None)
    assert outcomes[0] == outcomes[1]
    eligibility, contexts, greedy = widened(problem, PARAMS, core=False)
    assert cost_start(problem, PARAMS.weights, eligibility, 1) is not None  # the whole MIP too
    certificate_module._widened.pop(id(eligibility), None)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(prob=tiny_problems())
def test_a_complete_hint_is_the_plan(prob: Problem) -> None:
    """On random tiny problems: the cost stage's model hinted with CP-SAT's coverage plan
    (``complete=True``) hints every variable, and fixing every variable to its hint is
    feasible with the plan's own cost (``plan_cost``)."""
    _, contexts, greedy = prepare(prob, PARAMS)
    if greedy.pin_errors or any(ctx.pin_errors for ctx in contexts):
        return
    params = PARAMS.model_copy(update={"time_limit_s": 5, "coverage_time_share": 1.0})
    outcome = run_cpsat(prob, contexts, params, greedy.assignments, time.perf_counter())
    if outcome.plans is None:
        return
    model = cp_model.CpModel()
    v = make_variables(model, contexts)
    add_hard_rules(model, prob, contexts, v)
    model.add(coverage_expression(contexts, v) >= covered(contexts, outcome.plans))
    model.minimize(cost_expression(model, prob, contexts, v, params.weights))
    add_plan_hint(model, contexts, v, outcome.plans, complete=True)
    proto = model.proto
    hinted = set(proto.solution_hint.vars)
    free = {i for i, var in enumerate(proto.variables) if var.domain[0] != var.domain[-1]}
    assert free <= hinted
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.max_time_in_seconds = 10
    assert solver.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    cost = plan_cost(prob, contexts, outcome.plans, params.weights)
    assert round(solver.objective_value) == cost
