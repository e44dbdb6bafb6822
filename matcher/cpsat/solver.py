"""Build the CP-SAT model and solve it in two lexicographic stages.

Stage 1 maximises weighted coverage from the greedy plan as a hint; stage 2 keeps coverage at the
stage-1 value and minimises the weighted cost, hinted with the stage-1 plan. No CP-SAT type leaves
this package: ``run_cpsat`` returns plain plans and stage figures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ortools.sat.python import cp_model

from matcher.candidates import OrderContext
from matcher.cpsat import constraints
from matcher.cpsat.objective import COST_SCALE, cost_expression, coverage_expression
from matcher.cpsat.variables import Variables, make_variables
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Stage, Status

log = logging.getLogger("qunbang.matcher.cpsat")

Plan = tuple[list[int], int | None]
Progress = Callable[[str, float, float, float], None]  # stage, objective, bound, elapsed s

# The two workers of a two-core solve, for both stages (measured in bench/README.md).
TWO_WORKER_SUBSOLVERS = ["max_lp", "core"]

_STATUS = {
    cp_model.OPTIMAL: Status.OPTIMAL,
    cp_model.FEASIBLE: Status.FEASIBLE,
    cp_model.INFEASIBLE: Status.INFEASIBLE,
    cp_model.MODEL_INVALID: Status.UNKNOWN,
    cp_model.UNKNOWN: Status.UNKNOWN,
}


@dataclass
class CpsatOutcome:
    plans: dict[int, Plan] | None  # None when no solution was found
    stages: list[Stage]


class _Reporter(cp_model.CpSolverSolutionCallback):
    def __init__(self, stage: str, progress: Progress, began: float, scale: float) -> None:
        super().__init__()
        self._stage, self._progress, self._began, self._scale = stage, progress, began, scale

    def on_solution_callback(self) -> None:
        self._progress(
            self._stage,
            self.objective_value / self._scale,
            self.best_objective_bound / self._scale,
            time.perf_counter() - self._began,
        )


def run_cpsat(
    problem: Problem,
    contexts: list[OrderContext],
    params: SolveParams,
    hint: Mapping[int, Plan],
    began: float,
    progress: Progress | None = None,
    hint_is_plan: bool = True,
    retry_coverage: bool = True,
    coverage_cap: int | None = None,
) -> CpsatOutcome:
    """Solve both stages within ``params.time_limit_s`` counted from ``began``. ``hint_is_plan``
    says the hint keeps every pin, so it is a solution of the model. ``retry_coverage``: when
    the coverage stage finds nothing in its share, give it the rest of the time (else return,
    so the caller can use the time otherwise). ``coverage_cap``: an upper bound on the weighted
    coverage of every plan (the certificate's, ``matcher.certificate.coverage_cap``): a plan
    reaching it ends the coverage stage at once, proven, and its time goes to the cost stage."""
    model = cp_model.CpModel()
    v = make_variables(model, contexts)
    add_hard_rules(model, problem, contexts, v)
    coverage = coverage_expression(contexts, v)
    hinted = sum(contexts[i].weight for i in hint)
    if hint_is_plan:
        # The hinted plan is a solution, so the optimum is at least as good: every solution
        # CP-SAT reports is then at least as good as the hint, at any time limit.
        model.add(coverage >= hinted)
    cap = None
    if coverage_cap is not None and coverage_cap >= hinted:
        cap = model.add(coverage <= coverage_cap)
    model.maximize(coverage)
    add_plan_hint(model, contexts, v, hint)
    solver = _solver(params)

    limit = params.time_limit_s * params.coverage_time_share
    stage1, plans = _run_stage(
        solver,
        model,
        v,
        contexts,
        "coverage",
        "max",
        1.0,
        limit - (time.perf_counter() - began),
        progress,
        began,
    )
    remaining = params.time_limit_s - (time.perf_counter() - began)
    if retry_coverage and stage1.status is Status.UNKNOWN and remaining > 1.0:
        # Large streets may not finish presolve within the coverage share: the cost stage is
        # pointless without a plan, so coverage gets the rest of the time instead.
        stage1, plans = _run_stage(
            solver, model, v, contexts, "coverage", "max", 1.0, remaining, progress, began
        )
    stages = [stage1]
    if plans is None or stage1.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return CpsatOutcome(plans, stages)

    if cap is not None:
        # The cap only ends the coverage stage sooner: left in, it made the cost stage an
        # equality over the coverage and slowed it (pastoral, bench/README.md).
        cap.proto.clear_linear()
    model.add(coverage >= round(stage1.objective))
    model.minimize(cost_expression(model, problem, contexts, v, params.weights))
    add_plan_hint(model, contexts, v, plans)
    remaining = params.time_limit_s - (time.perf_counter() - began)
    if remaining > 0.05:
        stage2, better = _run_stage(
            solver,
            model,
            v,
            contexts,
            "cost",
            "min",
            COST_SCALE,
            remaining,
            progress,
            began,
        )
        stages.append(stage2)
        plans = better or plans
    return CpsatOutcome(plans, stages)


def add_hard_rules(
    model: cp_model.CpModel, problem: Problem, contexts: list[OrderContext], v: Variables
) -> None:
    constraints.add_full_teams(model, contexts, v)
    constraints.add_lead_and_language(model, contexts, v)
    constraints.add_availability(model, contexts, v)
    constraints.add_no_overlap(model, problem, contexts, v)
    constraints.add_daily_limits(model, problem, contexts, v)
    constraints.add_pins(model, contexts, v)


def _solver(params: SolveParams) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = params.workers
    solver.parameters.random_seed = params.seed
    solver.parameters.log_search_progress = params.log_progress
    if params.workers == 1:
        solver.parameters.interleave_search = False
    elif params.workers == 2:
        # Measured on generated streets (bench/README.md): an LP-heavy worker and a core-based
        # worker prove coverage far sooner than the default pair, which spends its second core on
        # neighbourhood search. Coverage is weighted MaxSAT-like, the case core search is made for.
        solver.parameters.subsolvers.extend(TWO_WORKER_SUBSOLVERS)
    return solver


def _run_stage(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    v: Variables,
    contexts: list[OrderContext],
    name: str,
    sense: str,
    scale: float,
    time_limit: float,
    progress: Progress | None,
    began: float,
) -> tuple[Stage, dict[int, Plan] | None]:
    solver.parameters.max_time_in_seconds = max(0.05, time_limit)
    stage_began = time.perf_counter()
    callback = _Reporter(name, progress, began, scale) if progress else None
    code = solver.solve(model, callback)
    status = _STATUS.get(code, Status.UNKNOWN)
    elapsed = time.perf_counter() - stage_began
    if status not in (Status.OPTIMAL, Status.FEASIBLE):
        log.info("stage %s: %s after %.2fs", name, status, elapsed)
        return Stage(
            name=name,
            sense=sense,
            status=status,
            objective=0.0,
            bound=0.0,
            gap=1.0,
            runtime_s=elapsed,
        ), None
    objective, bound = solver.objective_value, solver.best_objective_bound
    gap = abs(bound - objective) / max(abs(objective), 1e-9) if objective or bound else 0.0
    log.info(
        "stage %s: %s objective %.2f bound %.2f in %.2fs",
        name,
        status,
        objective / scale,
        bound / scale,
        elapsed,
    )
    stage = Stage(
        name=name,
        sense=sense,
        status=status,
        objective=objective / scale,
        bound=bound / scale,
        gap=gap,
        runtime_s=elapsed,
    )
    return stage, _read_plans(solver, v, contexts)


def _read_plans(
    solver: cp_model.CpSolver, v: Variables, contexts: list[OrderContext]
) -> dict[int, Plan]:
    plans: dict[int, Plan] = {}
    for ctx in contexts:
        if not solver.boolean_value(v.covered[ctx.index]):
            continue
        helpers = [
            c.helper
            for k, c in enumerate(ctx.candidates)
            if solver.boolean_value(v.assign[ctx.index][k])
        ]
        start = v.start[ctx.index]
        plans[ctx.index] = (helpers, None if start is None else int(solver.value(start)))
    return plans


def add_plan_hint(
    model: cp_model.CpModel, contexts: list[OrderContext], v: Variables, plans: Mapping[int, Plan]
) -> None:
    model.clear_hints()
    for ctx in contexts:
        plan = plans.get(ctx.index)
        model.add_hint(v.covered[ctx.index], plan is not None)
        chosen = set(plan[0]) if plan else set()
        for k, candidate in enumerate(ctx.candidates):
            model.add_hint(v.assign[ctx.index][k], candidate.helper in chosen)
        start = v.start[ctx.index]
        if (
            plan is not None
            and plan[1] is not None
            and not isinstance(start, int)
            and start is not None
        ):
            model.add_hint(start, plan[1])
