"""The matcher's entry points: ``solve`` (CP-SAT) and ``solve_greedy`` (the office's hand rule)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial

from matcher.bound import cost_lower_bound
from matcher.candidates import Candidate, Eligibility, OrderContext, build_contexts
from matcher.certificate import (
    CERTIFY_OVERRUN_S,
    budget,
    candidate_bounds,
    certify,
    cost_start,
    coverage_cap,
    coverage_start,
    eligible_visits,
    widen,
)
from matcher.cpsat.objective import COST_SCALE
from matcher.cpsat.solver import Plan, Progress, run_cpsat
from matcher.explain import explain_unmatched
from matcher.gap_search import gap_shaped, solve_day
from matcher.greedy import GreedyOutcome, greedy_assign
from matcher.heap import freeze_heap, long_lived_heap
from matcher.lns import LARGE_ORDERS, Neighbourhoods, finish_times, plan_value, result_cpu
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.regret import regret_plan
from matcher.reserve import reserves
from matcher.result import Assignment, Result, Stage, Status
from matcher.single import best_team
from matcher.weights import order_weight


def solve(
    problem: Problem, params: SolveParams | None = None, progress: Progress | None = None
) -> Result:
    """Match orders to helpers with CP-SAT: maximise priority-weighted coverage, then minimise the
    weighted cost of travel, lost continuity, missed preferences and unfair load.

    Starts from the greedy plan (or, on capacity-only days, a largest-regret plan when better), so
    a time limit always returns a plan at least as good as greedy.
    An impossible pin gives status INFEASIBLE with the reason in ``message``; never an exception.
    ``progress(stage, objective, bound, elapsed_s)`` is called on each improving solution.
    """
    began, cpu_began = time.perf_counter(), time.process_time()
    with long_lived_heap():
        return _solve(problem, params or SolveParams(), progress, began, cpu_began)


def _solve(
    problem: Problem,
    params: SolveParams,
    progress: Progress | None,
    began: float,
    cpu_began: float,
) -> Result:
    eligibility, contexts, greedy = prepare(problem, params)
    freeze_heap()
    share = _share(began, cpu_began)
    visits = partial(eligible_visits, eligibility, contexts)  # the certificate's time share:
    params, widen_s = budget(params, len(contexts), visits)
    pin_errors = sorted({e for c in contexts for e in c.pin_errors})
    if pin_errors:
        return _infeasible(problem, params, "cpsat", "; ".join(pin_errors), began)
    if len(contexts) > LARGE_ORDERS and not greedy.pin_errors:
        return _search(
            problem, params, eligibility, contexts, greedy.assignments, began, progress, share
        )
    if len(contexts) == 1 and not greedy.pin_errors and not params.certify_s:
        return _one_order(problem, params, eligibility, contexts, greedy, began)
    start: Mapping[int, Plan] = greedy.assignments
    start_s = greedy.runtime_s
    if not greedy.pin_errors:
        start, start_s = _best_start(problem, contexts, params, greedy)
        if gap_shaped(contexts, len(problem.helpers)):  # a GAP: matcher.gap_search
            plans, status, stages, message = solve_day(
                problem, contexts, params, start, began, progress
            )
            return _result(
                problem,
                params,
                "cpsat",
                eligibility,
                contexts,
                plans,
                status,
                stages,
                began,
                message,
            )
    if widen_s and not greedy.pin_errors:  # visits pricing finds join the lists (certificate)
        widen(problem, params.weights, eligibility, contexts, widen_s, start, params.workers)
    cap = coverage_cap(eligibility) if widen_s else None
    outcome = run_cpsat(
        problem,
        contexts,
        params,
        start,
        began,
        progress,
        hint_is_plan=not greedy.pin_errors,
        retry_coverage=bool(greedy.pin_errors),
        coverage_cap=cap,
        cost_start=cost_start(problem, params.weights, eligibility, params.workers)
        if widen_s
        else None,
        # Core streets (town): after the cost start, cost windows rather than the whole model.
        cost_search=None
        if cap is None
        else partial(_cost_windows, problem, contexts, params, began, progress),
        # Core streets (town): HiGHS's coverage MIP over the lists names the coverage start.
        coverage_start=None
        if cap is None
        else coverage_start(problem, params.weights, eligibility, params.workers),
    )
    if outcome.plans is None:
        if outcome.stages and outcome.stages[0].status is Status.INFEASIBLE:
            return _infeasible(problem, params, "cpsat", "the pinned assignments conflict", began)
        if not greedy.pin_errors and time.perf_counter() - began < params.time_limit_s - 0.5:
            # A busy machine: the whole model found nothing in the coverage share. Search by
            # neighbourhoods from the starting plan for the rest of the time instead.
            note = "the whole model found no plan in its share of the time; "
            return _search(
                problem,
                params,
                eligibility,
                contexts,
                start,
                began,
                progress,
                _share(began, cpu_began),
                note,
            )
        if greedy.pin_errors:  # greedy's plan drops a pin, so it is no answer either
            message = "time limit: no plan keeping every pinned assignment was found"
            return _infeasible(problem, params, "cpsat", message, began, Status.UNKNOWN)
        # No CP-SAT solution in time: the starting plan is still a valid answer.
        stages = (*outcome.stages, _greedy_stage(contexts, start, start_s))
        return _result(
            problem,
            params,
            "cpsat",
            eligibility,
            contexts,
            start,
            Status.FEASIBLE,
            stages,
            began,
            "time limit: greedy plan returned"
            if start is greedy.assignments
            else "time limit: the starting plan returned",
        )
    status = _overall_status(outcome.stages)
    return _result(
        problem,
        params,
        "cpsat",
        eligibility,
        contexts,
        outcome.plans,
        status,
        tuple(outcome.stages),
        began,
    )


def _cost_windows(
    problem: Problem,
    contexts: list[OrderContext],
    params: SolveParams,
    began: float,
    progress: Progress | None,
    plans: dict[int, Plan],
    deadline: float,
) -> dict[int, Plan]:
    """CP-SAT's cost stage after the cost start on core streets: cost windows
    (``matcher.lns.Neighbourhoods.cost_sweeps``) from ``plans`` until ``deadline``; every step
    keeps its window's coverage and is taken only when cheaper."""
    search = Neighbourhoods(problem, contexts, params, plans)
    search.cost_sweeps(deadline, began, progress)
    return search.plans


def _one_order(
    problem: Problem,
    params: SolveParams,
    eligibility: Eligibility,
    contexts: list[OrderContext],
    greedy: GreedyOutcome,
    began: float,
) -> Result:
    """A problem of one order (a re-match, a claim): its best team by enumeration
    (``matcher.single``), an optimum of the very model CP-SAT would solve, in a fraction of the
    time. Both stages are proven: coverage (the order is covered if any team can be formed) and
    the least cost over the order's candidates."""
    ctx = contexts[0]
    hand = greedy.assignments.get(ctx.index)
    found = best_team(problem, ctx, params.weights, hand[1] if hand else None)
    plans = {ctx.index: found[0]} if found else {}
    coverage = float(ctx.weight if found else 0)
    cost = found[1] / COST_SCALE if found else 0.0
    elapsed = time.perf_counter() - began
    stages = (
        Stage(
            name="coverage",
            sense="max",
            status=Status.OPTIMAL,
            objective=coverage,
            bound=coverage,
            gap=0.0,
            runtime_s=elapsed,
        ),
        Stage(
            name="cost",
            sense="min",
            status=Status.OPTIMAL,
            objective=cost,
            bound=cost,
            gap=0.0,
            runtime_s=0.0,
        ),
    )
    return _result(
        problem, params, "cpsat", eligibility, contexts, plans, Status.OPTIMAL, stages, began
    )


def _search(
    problem: Problem,
    params: SolveParams,
    eligibility: Eligibility,
    contexts: list[OrderContext],
    start: Mapping[int, Plan],
    began: float,
    progress: Progress | None,
    share: float = 1.0,
    note: str = "",
) -> Result:
    """Neighbourhood search (``matcher.lns``) from ``start`` until the time limit: for streets too
    large for one CP-SAT model, and when the whole model found nothing in its share of the time.
    It only ever takes strictly better plans that keep within the start's km per covered order:
    from the hand rule's plan, the result is never below its coverage, never above its travel
    per covered order, nor above its cost at equal coverage.

    ``share``: the part of a core the process got so far: the result after the search is given
    the wall time its CPU needs at that share (``finish_times``), so the limit holds on a busy
    machine too, and the search's first steps are planned by it."""
    search = Neighbourhoods(problem, contexts, params, start, travel_reference=start)
    search_until, explain_until = finish_times(
        began, params.time_limit_s, result_cpu(len(contexts), params.reserve_size), share
    )
    outcome = search.run(search_until, began, progress, share, guided=True)
    coverable: float = sum(c.weight for c in contexts if c.team_possible(c.candidates))
    # The plan's coverage: the coverage stage's, and any order the cost stage's last one-order
    # moves inserted (``Neighbourhoods.run``).
    coverage = sum(contexts[i].weight for i in outcome.plans)
    if outcome.coverage_bound is not None:  # the coverage relaxation's (``matcher.lp_guide``)
        coverable = min(coverable, max(outcome.coverage_bound, coverage))
    cost = outcome.cost / COST_SCALE
    # The quick cost bound when there is time for it (~0.2 CPU s at 10,000 orders); else the
    # trivial one, so a late preparation does not push the result further past the limit.
    cost_bound = 0.0
    if time.perf_counter() < explain_until:
        cost_bound = min(cost, cost_lower_bound(problem, contexts, coverage, params.weights))
    if outcome.cost_bound is not None:  # the cost relaxation's, at the plan's coverage or less
        cost_bound = max(cost_bound, min(cost, outcome.cost_bound))
    stages = (
        Stage(
            name="coverage",
            sense="max",
            status=Status.OPTIMAL if coverage >= coverable else Status.FEASIBLE,
            objective=coverage,
            bound=coverable,
            gap=_gap(coverage, coverable),
            runtime_s=outcome.phase_s[0],
        ),
        Stage(
            name="cost",
            sense="min",
            status=Status.FEASIBLE,
            objective=cost,
            bound=cost_bound,
            gap=_gap(cost, cost_bound),
            runtime_s=outcome.phase_s[1],
        ),
    )
    rounded = "from plans rounded from the relaxations (matcher.lp_guide), "
    message = (
        f"{note}neighbourhood search{' ' + rounded if outcome.rounded else ': '}"
        f"{outcome.improved} of {outcome.steps} steps improved the plan"
        f", and {outcome.moves} order moves (matcher.moves)"
    )
    return _result(
        problem,
        params,
        "cpsat",
        eligibility,
        contexts,
        outcome.plans,
        Status.FEASIBLE,
        stages,
        began,
        message,
        explain_until,
    )


def _best_start(
    problem: Problem, contexts: list[OrderContext], params: SolveParams, greedy: GreedyOutcome
) -> tuple[Mapping[int, Plan], float]:
    """The hand rule's plan, or the largest-regret plan (``matcher.regret``) when that covers
    more weighted demand, or as much for less cost: CP-SAT's hint and guaranteed fallback."""
    began = time.perf_counter()
    other = regret_plan(problem, contexts, params.weights)
    if other is None:
        return greedy.assignments, greedy.runtime_s
    mine = plan_value(problem, contexts, greedy.assignments, params.weights)
    theirs = plan_value(problem, contexts, other, params.weights)
    if (theirs[0], -theirs[1]) > (mine[0], -mine[1]):
        return other, time.perf_counter() - began
    return greedy.assignments, greedy.runtime_s


def _share(began: float, cpu_began: float) -> float:
    """The part of a core the process has had since ``began`` (CPU over wall time, between
    0.05 and 1): on a busy machine a fraction, so each CPU second takes longer."""
    wall = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    return min(1.0, max(0.05, cpu / wall)) if wall > 0 else 1.0


def _gap(objective: float, bound: float) -> float:
    return abs(bound - objective) / max(abs(objective), 1e-9) if objective or bound else 0.0


def prepare(
    problem: Problem, params: SolveParams
) -> tuple[Eligibility, list[OrderContext], GreedyOutcome]:
    """Candidates per order and the greedy plan, with greedy's helpers added to the candidates:
    the exact model CP-SAT solves (``matcher.bound`` uses it to bound the same problem)."""
    eligibility, contexts = build_contexts(problem, params.wait_boost, params.candidate_limit)
    greedy = greedy_assign(problem, eligibility, contexts)
    _include_greedy_helpers(contexts, greedy.teams)
    return eligibility, contexts, greedy


def solve_greedy(problem: Problem, params: SolveParams | None = None) -> Result:
    """The office's hand rule (see ``matcher.greedy``), with the same ``Result`` type."""
    params = params or SolveParams()
    began = time.perf_counter()
    eligibility, contexts = build_contexts(problem, params.wait_boost, params.candidate_limit)
    greedy = greedy_assign(problem, eligibility, contexts)
    if greedy.pin_errors or any(c.pin_errors for c in contexts):
        errors = greedy.pin_errors + [e for c in contexts for e in c.pin_errors]
        return _infeasible(problem, params, "greedy", "; ".join(sorted(set(errors))), began)
    stage = _greedy_stage(contexts, greedy.assignments, greedy.runtime_s)
    return _result(
        problem,
        params,
        "greedy",
        eligibility,
        contexts,
        greedy.assignments,
        Status.FEASIBLE,
        (stage,),
        began,
    )


def _include_greedy_helpers(
    contexts: list[OrderContext], teams: Mapping[int, list[Candidate]]
) -> None:
    """Make every helper of the greedy plan a CP-SAT candidate, with the very leg the greedy
    plan booked, so the hint is a full solution of the model even when candidates are
    restricted to the nearest few."""
    for order_index, team in teams.items():
        ctx = contexts[order_index]
        known = {c.helper for c in ctx.candidates}
        ctx.candidates.extend(c for c in team if c.helper not in known)


def _overall_status(stages: list[Stage]) -> Status:
    if all(s.status is Status.OPTIMAL for s in stages) and len(stages) == 2:
        return Status.OPTIMAL
    return Status.FEASIBLE


def _greedy_stage(
    contexts: list[OrderContext], plans: Mapping[int, Plan], runtime_s: float
) -> Stage:
    covered = sum(contexts[i].weight for i in plans)
    return Stage(
        name="greedy",
        sense="max",
        status=Status.FEASIBLE,
        objective=covered,
        bound=sum(c.weight for c in contexts),
        gap=0.0,
        runtime_s=runtime_s,
    )


def _result(
    problem: Problem,
    params: SolveParams,
    solver: str,
    eligibility: Eligibility,
    contexts: list[OrderContext],
    plans: Mapping[int, Plan],
    status: Status,
    stages: tuple[Stage, ...],
    began: float,
    message: str = "",
    explain_until: float | None = None,
) -> Result:
    helpers = problem.helpers
    assignments = tuple(
        Assignment(
            order=contexts[i].order.id,
            helpers=tuple(sorted(helpers[h].id for h in team)),
            start=start,
        )
        for i, (team, start) in sorted(plans.items())
    )
    return Result(
        solver=solver,
        status=status,
        stages=stages,
        gap=stages[-1].gap if stages else 0.0,
        runtime_s=time.perf_counter() - began,
        assignments=assignments,
        unmatched=tuple(explain_unmatched(eligibility, contexts, plans, explain_until)),
        weights=params.weights,
        weighted_coverage=sum(contexts[i].weight for i in plans),
        weighted_demand=sum(c.weight for c in contexts),
        candidate_limit=params.candidate_limit if solver == "cpsat" else None,
        message=message,
        reserves=reserves(
            problem,
            eligibility,
            contexts,
            {i: tuple(team) for i, (team, _) in plans.items()},
            params.weights,
            params.reserve_size,
        ),
        certificate=certify(
            problem,
            params.weights,
            eligibility,
            contexts,
            plans,
            candidate_bounds(stages),
            _certify_s(params, began),
            params.workers,
            params.seed,
        )
        if params.certify_s and solver == "cpsat"
        else None,
    )


def _certify_s(params: SolveParams, began: float) -> float:
    """The certificate's seconds: its share and what the solve left, less what its solvers run
    past their limits (``CERTIFY_OVERRUN_S``), at least half its share."""
    left = params.certify_s + max(0.0, params.time_limit_s - (time.perf_counter() - began))
    return max(params.certify_s / 2, left - CERTIFY_OVERRUN_S)


def _infeasible(
    problem: Problem,
    params: SolveParams,
    solver: str,
    message: str,
    began: float,
    status: Status = Status.INFEASIBLE,
) -> Result:
    """A result without a plan: the pins cannot all be kept, or (UNKNOWN) none was found."""
    demand = sum(order_weight(problem, o, params.wait_boost) for o in problem.orders)
    return Result(
        solver=solver,
        status=status,
        stages=(),
        gap=1.0,
        runtime_s=time.perf_counter() - began,
        assignments=(),
        unmatched=(),
        weights=params.weights,
        weighted_coverage=0,
        weighted_demand=demand,
        candidate_limit=params.candidate_limit,
        message=message,
    )
