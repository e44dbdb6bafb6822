"""Build the CP-SAT model and solve it in two lexicographic stages.

Stage 1 maximises weighted coverage from the greedy plan as a hint; stage 2 keeps coverage at the
stage-1 value and minimises the weighted cost, hinted with the stage-1 plan. No CP-SAT type leaves
this package: ``run_cpsat`` returns plain plans and stage figures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ortools.sat.python import cp_model

from matcher.candidates import OrderContext
from matcher.cpsat import constraints
from matcher.cpsat.objective import COST_SCALE, cost_expression, coverage_expression, plan_cost
from matcher.cpsat.variables import Variables, make_variables
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Stage, Status

log = logging.getLogger("qunbang.matcher.cpsat")

Plan = tuple[list[int], int | None]
Progress = Callable[[str, float, float, float], None]  # stage, objective, bound, elapsed s
# The cost start (``run_cpsat(cost_start=...)``): given the coverage stage's plan, its weighted
# coverage and the cost start's seconds (its relaxation gets at most ``COST_START_LP_SHARE`` of
# them, the narrow model what the support leaves), per order the helpers of a few visits a cheap
# plan at that coverage is likely to use (``matcher.full_mip.FullMip.cost_support``: the cost
# relaxation's support; on core streets HiGHS's cost MIP's solution too), or None.
# With it, the relaxation's value (cost units): a lower bound on the lists' least cost there.
CostStart = Callable[
    [Mapping[int, "Plan"], int, float], tuple[Mapping[int, set[int]], float] | None
]
# The cost search after the cost start (``run_cpsat(cost_search=...)``), instead of CP-SAT's whole
# model: improves the plan (every plan it returns a plan of the model covering as much) until the
# deadline (``matcher.lns.Neighbourhoods.cost_sweeps`` on town streets).
CostSearch = Callable[[dict[int, "Plan"], float], dict[int, "Plan"]]
# The coverage start (``run_cpsat(coverage_start=...)``, with a coverage cap): given the hint and
# seconds, per order the helpers of a few visits a plan at the cap is likely to use (on town
# streets the solution of HiGHS's coverage MIP over the lists with start times dropped:
# ``matcher.certificate.coverage_start``), or None.
CoverageStart = Callable[[Mapping[int, "Plan"], float], Mapping[int, set[int]] | None]
# Of the coverage stage's seconds, at most this share goes to the coverage start (its MIP and the
# narrow model over the visits it names), and its MIP gets at most ``COVERAGE_START_MIP_SHARE``
# of that (bench/README.md, "Certified plans", ``certtown``).
COVERAGE_START_SHARE = 0.7
COVERAGE_START_MIP_SHARE = 0.6
# Of the cost stage's seconds, at most this share goes to the cost start (its relaxation and the
# narrow model over the support; bench/README.md, "Certified plans", ``towncost``), and the
# relaxation gets at most ``COST_START_LP_SHARE`` of that.
COST_START_SHARE = 0.7
COST_START_LP_SHARE = 0.3

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
    cost_start: CostStart | None = None,
    cost_search: CostSearch | None = None,
    coverage_start: CoverageStart | None = None,
) -> CpsatOutcome:
    """Solve both stages within ``params.time_limit_s`` counted from ``began``. ``hint_is_plan``
    says the hint keeps every pin, so it is a solution of the model. ``retry_coverage``: when
    the coverage stage finds nothing in its share, give it the rest of the time (else return,
    so the caller can use the time otherwise). ``coverage_cap``: an upper bound on the weighted
    coverage of every plan (the certificate's, ``matcher.certificate.coverage_cap``): a plan
    reaching it ends the coverage stage at once, proven, and its time goes to the cost stage.
    ``cost_start``: the cost stage first solves the same model over only the visits it names
    and the coverage plan's (``narrow_cost``), hinted with that plan, and starts from the plan
    found; the stage's result is a plan of the whole model either way. ``cost_search``: after
    a cost start, the rest of the stage goes to it instead of CP-SAT's whole model (the stage's
    bound is then the cost start's relaxation, its status feasible). ``coverage_start`` (with a
    ``coverage_cap``): the coverage stage first solves the same model over only the visits it
    names and the hint's (``narrow_coverage``; short of the cap, once more with every listed
    visit of the orders whose named team it could not send); a plan reaching the cap ends the
    stage there, proven, else the whole model goes on from the better of it and the hint (and
    when that finds nothing in the time left, the start's plan is the stage's)."""
    limit = params.time_limit_s * params.coverage_time_share
    opened = time.perf_counter()
    started: dict[int, Plan] | None = None  # the coverage start's plan, when it covers more
    tried = coverage_start is not None and coverage_cap is not None and hint_is_plan
    if coverage_start is not None and coverage_cap is not None and tried:
        seconds = limit - (opened - began)
        support = coverage_start(hint, COVERAGE_START_MIP_SHARE * COVERAGE_START_SHARE * seconds)
        log.info("coverage start: support in %.2f s", time.perf_counter() - opened)
        if support is not None:
            until = opened + COVERAGE_START_SHARE * seconds
            found = narrow_coverage(problem, contexts, params, hint, coverage_cap, support, until)
            reached = sum(contexts[i].weight for i in found)
            if reached < coverage_cap and time.perf_counter() < until:
                # Short of the cap: the named teams the narrow plan could not send clash in
                # time. Again from its plan, with every listed visit of those orders.
                wider = {o: set(named) for o, named in support.items()}
                for o, named in support.items():
                    if o not in found or set(found[o][0]) != named:
                        wider[o] = {c.helper for c in contexts[o].candidates}
                found = narrow_coverage(
                    problem, contexts, params, found, coverage_cap, wider, until
                )
                reached = sum(contexts[i].weight for i in found)
            if progress is not None:
                progress("coverage", reached, coverage_cap, time.perf_counter() - began)
            if reached >= coverage_cap:  # at the cap: proven, no whole model needed
                stage = Stage(
                    name="coverage",
                    sense="max",
                    status=Status.OPTIMAL,
                    objective=float(reached),
                    bound=float(reached),
                    gap=0.0,
                    runtime_s=time.perf_counter() - opened,
                )
                return _cost_stage(
                    problem,
                    contexts,
                    params,
                    found,
                    stage,
                    began,
                    progress,
                    cost_start,
                    cost_search,
                )
            if reached > sum(contexts[i].weight for i in hint):
                hint = started = found
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
    if plans is None and started is not None and stage1.status is Status.UNKNOWN:
        # The whole model found nothing in the time left (a busy machine): the coverage
        # start's plan is the stage's, its bound the cap.
        reached = sum(contexts[i].weight for i in started)
        stage1 = stage1.model_copy(
            update={
                "status": Status.FEASIBLE,
                "objective": float(reached),
                "bound": float(coverage_cap or reached),
                "gap": ((coverage_cap or reached) - reached) / reached if reached else 0.0,
            }
        )
        plans = started
    if plans is None or stage1.status not in (Status.OPTIMAL, Status.FEASIBLE):
        return CpsatOutcome(plans, [stage1])
    if tried:  # the coverage start's seconds are the coverage stage's
        stage1 = stage1.model_copy(update={"runtime_s": time.perf_counter() - opened})
    if cap is not None:
        # The cap only ends the coverage stage sooner: left in, it made the cost stage an
        # equality over the coverage and slowed it (pastoral, bench/README.md).
        cap.proto.clear_linear()
    return _cost_stage(
        problem,
        contexts,
        params,
        plans,
        stage1,
        began,
        progress,
        cost_start,
        cost_search,
        (model, v, coverage, solver),
    )


def _cost_stage(
    problem: Problem,
    contexts: list[OrderContext],
    params: SolveParams,
    plans: dict[int, Plan],
    stage1: Stage,
    began: float,
    progress: Progress | None,
    cost_start: CostStart | None,
    cost_search: CostSearch | None,
    built: tuple[cp_model.CpModel, Variables, Any, cp_model.CpSolver] | None = None,
) -> CpsatOutcome:
    """``run_cpsat``'s cost stage from the coverage stage's plan ``plans``: coverage at least
    ``stage1``'s, least cost. ``built``: the coverage stage's model (its cap cleared), its
    variables, coverage expression and solver, reused; None (the coverage start reached the
    cap without it): built here, only if the whole model is needed."""
    stages = [stage1]
    level = round(stage1.objective)
    started = time.perf_counter()
    remaining = params.time_limit_s - (started - began)
    relaxed: float | None = None
    if cost_start is not None and remaining > 0.5:
        until = started + COST_START_SHARE * remaining
        found = cost_start(plans, level, COST_START_SHARE * remaining)
        if found is not None:
            support, relaxed = found
            plans = narrow_cost(problem, contexts, params, plans, level, support, until)
            if progress is not None:
                cost = plan_cost(problem, contexts, plans, params.weights) / COST_SCALE
                progress("cost", cost, relaxed, time.perf_counter() - began)
            if cost_search is not None:
                plans = cost_search(dict(plans), params.time_limit_s + began)
                cost = plan_cost(problem, contexts, plans, params.weights) / COST_SCALE
                bound = min(relaxed, cost)
                stages.append(
                    Stage(
                        name="cost",
                        sense="min",
                        status=Status.OPTIMAL if bound >= cost else Status.FEASIBLE,
                        objective=cost,
                        bound=bound,
                        gap=(cost - bound) / cost if cost > 0 else 0.0,
                        runtime_s=time.perf_counter() - started,
                    )
                )
                return CpsatOutcome(dict(plans), stages)
    if built is None:
        model = cp_model.CpModel()
        v = make_variables(model, contexts)
        add_hard_rules(model, problem, contexts, v)
        coverage = coverage_expression(contexts, v)
        solver = _solver(params)
    else:
        model, v, coverage, solver = built
    model.add(coverage >= level)
    model.minimize(cost_expression(model, problem, contexts, v, params.weights))
    add_plan_hint(model, contexts, v, plans, complete=True)
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
        if better is None and cost_start is not None:
            # The whole model found nothing in the time left: the stage's plan is the cost
            # start's (or the coverage stage's), its bound the start's relaxation (or 0).
            cost = plan_cost(problem, contexts, plans, params.weights) / COST_SCALE
            bound = 0.0 if relaxed is None else min(relaxed, cost)
            stage2 = stage2.model_copy(
                update={
                    "status": Status.FEASIBLE,
                    "objective": cost,
                    "bound": bound,
                    "gap": (cost - bound) / cost if cost > 0 else 0.0,
                }
            )
        # The cost start's seconds are the cost stage's.
        stages.append(stage2.model_copy(update={"runtime_s": time.perf_counter() - started}))
        plans = better or plans
    return CpsatOutcome(plans, stages)


def narrow_cost(
    problem: Problem,
    contexts: list[OrderContext],
    params: SolveParams,
    plans: Mapping[int, Plan],
    level: int,
    support: Mapping[int, set[int]],
    until: float,
) -> dict[int, Plan]:
    """The cost stage's model (every hard rule, coverage at least ``level``, the same cost) over
    only the visits of ``support`` and of ``plans`` (and the pins), hinted with ``plans``, until
    ``until``: its best plan, which is a plan of the whole model too (a subset of its visits,
    the same rules), or ``plans`` itself when it finds none in time or none cheaper (``plans``,
    a complete hint of a feasible plan, is CP-SAT's first solution). On the 1,500-order
    town streets the support of the cost relaxation at the proven coverage holds about 2,400 of
    8,400 visits, and this model's optimum is found in 1-2 s where the whole model's cost stage
    stays 10 % above it (bench/README.md, "Certified plans", ``towncost``)."""
    narrow = _narrowed(contexts, plans, support)
    model = cp_model.CpModel()
    v = make_variables(model, narrow)
    add_hard_rules(model, problem, narrow, v)
    model.add(coverage_expression(narrow, v) >= level)
    model.minimize(cost_expression(model, problem, narrow, v, params.weights))
    add_plan_hint(model, narrow, v, plans, complete=True)
    solver = _solver(params)
    solver.parameters.max_time_in_seconds = max(0.05, until - time.perf_counter())
    code = solver.solve(model)
    if _STATUS.get(code) not in (Status.OPTIMAL, Status.FEASIBLE):
        return dict(plans)
    found = _read_plans(solver, v, narrow)
    log.info("cost start: %.2f (%s)", solver.objective_value / COST_SCALE, solver.status_name(code))
    if plan_cost(problem, contexts, found, params.weights) > plan_cost(
        problem, contexts, plans, params.weights
    ):
        return dict(plans)  # not in practice: the hint is CP-SAT's first solution
    return found


def narrow_coverage(
    problem: Problem,
    contexts: list[OrderContext],
    params: SolveParams,
    plans: Mapping[int, Plan],
    cap: int,
    support: Mapping[int, set[int]],
    until: float,
) -> dict[int, Plan]:
    """The coverage stage's model (every hard rule, coverage at least ``plans``' and at most
    ``cap``, an upper bound on every plan's) over only the visits of ``support`` and of ``plans``
    (and the pins), hinted with ``plans`` (a plan of the model), until ``until``: its best plan,
    a plan of the whole model too, or ``plans`` when it finds none covering more. On the
    1,500-order town streets the solution of HiGHS's coverage MIP over the lists (start times
    dropped) names about 2,600 of 8,400 visits, and this model reaches the cap or comes within
    0.1 % of it in 0.5-1.5 s, where the whole model took 5-8 s or more (bench/README.md,
    "Certified plans", ``certtown``)."""
    narrow = _narrowed(contexts, plans, support)
    model = cp_model.CpModel()
    v = make_variables(model, narrow)
    add_hard_rules(model, problem, narrow, v)
    coverage = coverage_expression(narrow, v)
    hinted = sum(contexts[i].weight for i in plans)
    model.add(coverage >= hinted)
    model.add(coverage <= cap)
    model.maximize(coverage)
    add_plan_hint(model, narrow, v, plans)
    solver = _solver(params)
    solver.parameters.max_time_in_seconds = max(0.05, until - time.perf_counter())
    code = solver.solve(model)
    if _STATUS.get(code) not in (Status.OPTIMAL, Status.FEASIBLE):
        return dict(plans)
    log.info("coverage start: %.0f (%s)", solver.objective_value, solver.status_name(code))
    found = _read_plans(solver, v, narrow)
    if sum(contexts[i].weight for i in found) <= hinted:
        return dict(plans)
    return found


def _narrowed(
    contexts: list[OrderContext], plans: Mapping[int, Plan], support: Mapping[int, set[int]]
) -> list[OrderContext]:
    """``contexts`` with only the candidates ``support`` names, ``plans`` sends, and the pins."""
    narrow = []
    for ctx in contexts:
        keep = set(support.get(ctx.index, ())) | set(ctx.pinned)
        if ctx.index in plans:
            keep.update(plans[ctx.index][0])
        narrow.append(replace(ctx, candidates=[c for c in ctx.candidates if c.helper in keep]))
    return narrow


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
    model: cp_model.CpModel,
    contexts: list[OrderContext],
    v: Variables,
    plans: Mapping[int, Plan],
    complete: bool = False,
) -> None:
    """Hint ``plans``: every variable the plan decides (who serves, whether covered, starts, the
    load penalty's extras once the cost stage made them). ``complete``: also the start of an
    order the plan leaves open (its earliest), so a plan of the model is a complete hint, which
    CP-SAT checks and takes as its first solution right after presolve instead of searching to
    complete it (the cost stages; in the coverage stage those hinted starts cost coverage:
    bench/README.md, "Certified plans", ``towncost``)."""
    model.clear_hints()
    # Collected, then written to the proto at once: the same hint as ``model.add_hint`` per
    # variable (every variable here is a model variable, index >= 0), in the same order, at a
    # tenth of its time (neighbourhood windows hint thousands of variables per step).
    variables: list[int] = []
    values: list[int] = []
    load: dict[int, int] = {}
    for ctx in contexts:
        plan = plans.get(ctx.index)
        variables.append(v.covered[ctx.index].index)
        values.append(plan is not None)
        chosen = set(plan[0]) if plan else set()
        assign = v.assign[ctx.index]
        for k, candidate in enumerate(ctx.candidates):
            served = candidate.helper in chosen
            variables.append(assign[k].index)
            values.append(served)
            if served:
                load[candidate.helper] = load.get(candidate.helper, 0) + 1
        start = v.start[ctx.index]
        if start is None or isinstance(start, int):
            continue
        if plan is not None and plan[1] is not None:
            variables.append(start.index)
            values.append(plan[1])
        elif plan is None and complete:
            variables.append(start.index)
            values.append(_earliest(start))
    for helper, extra in v.extra.items():
        orders = load.get(helper, 0)
        for j, e in enumerate(extra):
            variables.append(e.index)
            values.append(j < orders - 1)
    hint = model.proto.solution_hint
    hint.vars.extend(variables)
    hint.values.extend(values)


def _earliest(start: cp_model.IntVar) -> int:
    """The least value of a start variable's domain."""
    bounds = start.proto.domain
    return int(bounds[0]) if bounds else 0
