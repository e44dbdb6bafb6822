"""The coverage stage's start on core streets (``matcher.cpsat.solver.narrow_coverage`` over
the visits of ``matcher.certificate.coverage_start``: HiGHS's coverage MIP over the lists).

What must hold whatever the street: the narrow model's plan is a plan of the whole model (the
verifier passes it) covering at least its hint and at most the cap; a solve whose stages are
proven gives the same coverage and least cost with the coverage start as without; when the
whole model finds nothing after the start, the start's plan is the coverage stage's; and the
start is offered only where ``widen`` ran the core."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from matcher import certificate as certificate_module
from matcher.certificate import coverage_cap, coverage_start, widen
from matcher.cpsat import solver as solver_module
from matcher.cpsat.solver import Plan, narrow_coverage, run_cpsat
from matcher.full_mip import FullMip
from matcher.result import Stage, Status
from matcher.solve import prepare
from matcher.verify import assert_valid
from tests.matcher.test_certificate import proven_stages, street, widened
from tests.matcher.test_cost_start import PARAMS, _as_result, covered


def _full_optimum(seed: int) -> int:
    """The full problem's optimal weighted coverage (every eligible helper, proven): a cap."""
    _, _, full = street(seed)
    return round(next(s for s in full.stages if s.name == "coverage").objective)


@pytest.mark.parametrize("seed", range(4))
def test_the_narrow_coverage_plan_lies_between_its_hint_and_the_cap(seed: int) -> None:
    """``narrow_coverage`` from the hand rule's plan over the visits of HiGHS's coverage MIP on
    the lists: a valid plan (the verifier), covering at least the hint and at most the cap (the
    full optimum); with an empty support too (then only the hint's own visits)."""
    problem, _, _ = street(seed)
    cap = _full_optimum(seed)
    eligibility, contexts, greedy = prepare(problem, PARAMS)
    hint = greedy.assignments
    found = FullMip(problem, PARAMS.weights, contexts).coverage_bound(hint, 10, 1, search=True)
    assert found.values is not None
    mip = FullMip(problem, PARAMS.weights, contexts).visits_of(found.values)
    named = {o: {c.helper for c in team} for o, team in mip.items()}
    empty: dict[int, set[int]] = {}
    for support in (named, empty):
        plans = narrow_coverage(
            problem, contexts, PARAMS, hint, cap, support, time.perf_counter() + 5
        )
        assert covered(contexts, hint) <= covered(contexts, plans) <= cap
        assert_valid(problem, _as_result(problem, eligibility, contexts, plans))
        for o, (team, _) in plans.items():  # only the support's, the hint's and pinned helpers
            allowed = support.get(o, set()) | set(hint.get(o, ([], None))[0])
            assert set(team) <= allowed | set(contexts[o].pinned)


@pytest.mark.parametrize("seed", range(4))
def test_the_coverage_start_leaves_proven_stages_alone(seed: int) -> None:
    """On a core street (``MIP_VISITS`` = 0), CP-SAT with the coverage start proves the same
    coverage and the same least cost as without it; the coverage start names listed helpers."""
    problem, _, _ = street(seed)
    outcomes = []
    for with_start in (True, False):
        eligibility, contexts, greedy = widened(problem, PARAMS)
        start = coverage_start(problem, PARAMS.weights, eligibility, 1)
        assert start is not None  # the core ran
        support = start(greedy.assignments, 5)
        assert support is not None
        for ctx in contexts:
            assert support.get(ctx.index, set()) <= {c.helper for c in ctx.candidates}
        outcome = run_cpsat(
            problem,
            contexts,
            PARAMS,
            greedy.assignments,
            time.perf_counter(),
            coverage_cap=coverage_cap(eligibility),
            coverage_start=start if with_start else None,
        )
        assert outcome.plans is not None
        assert_valid(problem, _as_result(problem, eligibility, contexts, outcome.plans))
        outcomes.append(proven_stages(outcome))
        certificate_module._widened.pop(id(eligibility), None)
    assert outcomes[0] == outcomes[1]


def test_the_coverage_start_is_only_for_core_streets() -> None:
    """Without ``widen``, or where it ran the whole MIP (not the core), no coverage start."""
    problem, _, _ = street(0)
    eligibility, contexts, greedy = prepare(problem, PARAMS)
    assert coverage_start(problem, PARAMS.weights, eligibility, 1) is None
    widen(problem, PARAMS.weights, eligibility, contexts, 5, greedy.assignments)
    assert coverage_start(problem, PARAMS.weights, eligibility, 1) is None  # the whole MIP
    certificate_module._widened.pop(id(eligibility), None)


@pytest.mark.parametrize("seed", range(4))
def test_the_start_plan_stands_when_the_whole_model_finds_nothing(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the whole coverage model finds no plan after the coverage start (a busy machine;
    here its run is replaced by one that finds nothing), the start's plan is the coverage
    stage's (feasible, bounded by the cap, above the hint), and the cost stage goes on from it:
    a valid plan covering as much."""
    problem, _, _ = street(seed)
    cap = _full_optimum(seed) + 1  # above the optimum: the start can never reach it
    eligibility, contexts, greedy = prepare(problem, PARAMS)
    hint = greedy.assignments
    everyone = {ctx.index: {c.helper for c in ctx.candidates} for ctx in contexts}
    original = solver_module._run_stage

    def nothing_for_coverage(*args: Any) -> tuple[Stage, dict[int, Plan] | None]:
        name = args[4]
        if name != "coverage":
            return original(*args)
        unknown = Stage(
            name=name,
            sense="max",
            status=Status.UNKNOWN,
            objective=0.0,
            bound=0.0,
            gap=1.0,
            runtime_s=0.0,
        )
        return unknown, None

    def start(plans: Mapping[int, Plan], seconds: float) -> dict[int, set[int]]:
        return everyone

    monkeypatch.setattr(solver_module, "_run_stage", nothing_for_coverage)
    outcome = run_cpsat(
        problem,
        contexts,
        PARAMS,
        hint,
        time.perf_counter(),
        retry_coverage=False,
        coverage_cap=cap,
        coverage_start=start,
    )
    # On these streets the hand rule's plan is below the lists' optimum, so the start (over
    # every listed visit) covers more than the hint: its plan is the stage's.
    assert outcome.plans is not None
    coverage_stage = outcome.stages[0]
    assert coverage_stage.status is Status.FEASIBLE
    assert coverage_stage.bound == cap
    assert covered(contexts, hint) < coverage_stage.objective < cap
    assert covered(contexts, outcome.plans) >= coverage_stage.objective
    assert_valid(problem, _as_result(problem, eligibility, contexts, outcome.plans))
