"""The neighbourhood search's cheaper window steps (``matcher.lns``) build the same models: the
pair costs and round trips it keeps are the functions' results, its running plan value is the
plan's, and each window's CP-SAT model is the one the plain builders make (``make_variables``,
``add_hard_rules``, ``model.minimize(cost_expression(...))``, one ``add_hint`` per variable),
proto for proto, with the same optimum."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import pytest
from ortools.sat.python import cp_model

import matcher.lns as lns
from matcher.candidates import OrderContext
from matcher.cpsat.objective import cost_expression, coverage_expression, pair_cost
from matcher.cpsat.solver import Plan, add_hard_rules
from matcher.cpsat.variables import Variables, make_variables
from matcher.generator import generate_street, preset
from matcher.lns import Neighbourhoods, plan_value
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.solve import prepare

PARAMS = SolveParams(workers=1, seed=0)
STREETS = [(kind, seed) for kind in ("plentiful", "pastoral", "scarce") for seed in (0, 1)]


def _street(kind: str, seed: int) -> tuple[Problem, list[OrderContext], dict[int, Plan]]:
    problem = generate_street(preset(kind, seed=seed, orders=90))
    _, contexts, greedy = prepare(problem, PARAMS)
    return problem, contexts, dict(greedy.assignments)


def _plain_hint(
    model: cp_model.CpModel, contexts: list[OrderContext], v: Variables, plans: Mapping[int, Plan]
) -> None:
    """The hint as ``add_plan_hint`` gave it before it wrote the proto at once: one
    ``add_hint`` per variable, in the same order (the coverage and cost windows' hint)."""
    model.clear_hints()
    load: dict[int, int] = {}
    for ctx in contexts:
        plan = plans.get(ctx.index)
        model.add_hint(v.covered[ctx.index], plan is not None)
        chosen = set(plan[0]) if plan else set()
        for k, candidate in enumerate(ctx.candidates):
            served = candidate.helper in chosen
            model.add_hint(v.assign[ctx.index][k], served)
            if served:
                load[candidate.helper] = load.get(candidate.helper, 0) + 1
        start = v.start[ctx.index]
        if plan is not None and plan[1] is not None and not isinstance(start, int | None):
            model.add_hint(start, plan[1])
    for helper, extra in v.extra.items():
        for j, e in enumerate(extra):
            model.add_hint(e, j < load.get(helper, 0) - 1)


def _plain_model(window: Any, stage: str) -> cp_model.CpModel:
    """The window's first model for ``stage`` built plainly: no kept pair costs, the cost
    objective through ``model.minimize``, the hint one variable at a time."""
    model = cp_model.CpModel()
    v = make_variables(model, window.sub)
    add_hard_rules(model, window.problem, window.sub, v)
    coverage = coverage_expression(window.sub, v)
    known = sum(window.sub[k].weight for k in window.hint)
    if window.cap is not None:
        window._add_cap(model, v)
    model.add(coverage >= known)
    if stage == "coverage":
        model.maximize(coverage)
    else:
        model.minimize(cost_expression(model, window.problem, window.sub, v, window.weights))
    _plain_hint(model, window.sub, v, window.hint)
    return model


def _optimum(model: cp_model.CpModel) -> tuple[Any, float | None]:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_deterministic_time = 5.0
    code = solver.solve(model)
    found = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return code, solver.objective_value if found else None


@pytest.mark.parametrize(("kind", "seed"), STREETS)
def test_kept_costs_and_running_values_are_the_functions_results(kind: str, seed: int) -> None:
    """After steps of both stages (windows of 12 orders) the kept pair costs are
    ``pair_cost``'s, and the search's running (coverage, cost), metres and km are those of its
    plan counted afresh without anything kept."""
    problem, contexts, plans = _street(kind, seed)
    search = Neighbourhoods(problem, contexts, PARAMS, plans, 12, 0.2, travel_reference=plans)
    rng = random.Random(seed)
    visited: set[int] = set()
    for stage in ("coverage", "street", "cost", "cost"):
        for order in rng.sample(range(len(contexts)), 10):
            search.step(order, math.inf, visited, stage)
    assert search.improved > 0
    for ctx in contexts:
        for candidate in ctx.candidates:
            expected = pair_cost(problem, ctx, candidate, PARAMS.weights)
            assert search.costs[ctx.index][candidate.helper] == expected
    assert search.value == list(plan_value(problem, contexts, search.plans, PARAMS.weights))
    assert search.metres == sum(lns._metres(contexts, search.plans, i) for i in search.plans)
    km = sum(lns._km(contexts, search.plans, i) for i in search.plans)
    assert search.km == pytest.approx(km, rel=1e-9)


@pytest.mark.parametrize(("kind", "seed"), STREETS)
def test_window_models_are_the_plainly_built_models(
    kind: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every coverage and cost window a search solves (with the travel cap, fixed orders around
    it) is, proto for proto, the model the plain builders make for it, and has its optimum."""
    problem, contexts, plans = _street(kind, seed)
    search = Neighbourhoods(problem, contexts, PARAMS, plans, 12, 0.2, travel_reference=plans)
    solved: list[tuple[Any, str]] = []
    original = cp_model.CpSolver.solve

    def record(self: cp_model.CpSolver, model: cp_model.CpModel, callback: Any = None) -> Any:
        kept = cp_model.CpModel()
        kept.proto.copy_from(model.proto)
        solved.append((kept, str(model.proto)))
        return original(self, model, callback)

    class Recorded(lns.Neighbourhood):
        def solve(self, *args: Any, **kwargs: Any) -> Any:
            solved.clear()
            with monkeypatch.context() as patch:
                patch.setattr(cp_model.CpSolver, "solve", record)
                found = super().solve(*args, **kwargs)
            windows.append((self, solved[0] if solved else None))
            return found

    windows: list[tuple[Any, tuple[cp_model.CpModel, str] | None]] = []
    monkeypatch.setattr(lns, "Neighbourhood", Recorded)
    rng = random.Random(seed)
    compared = 0
    for stage in ("coverage", "cost"):
        for order in rng.sample(range(len(contexts)), 6):
            windows.clear()
            search.step(order, math.inf, set(), stage)
            window, first = windows[0]
            assert first is not None
            model, proto = first
            plain = _plain_model(window, stage)
            assert str(plain.proto) == proto
            if compared < 4:  # and the same optimum, on a few
                assert _optimum(model) == _optimum(plain)
            compared += 1
    assert compared == 12
