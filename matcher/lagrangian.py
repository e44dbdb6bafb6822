"""A bound on the full problem's weighted coverage that is integral on the candidate lists: the
linear relaxation's prices for helpers' time (``matcher.certificate``) with CP-SAT's exact model of
the lists, so the relaxation's slack on the lists is not in the bound. Evaluated in
``bench/certify_bench.py --probe --lagrangian`` (bench/README.md, "Certified plans")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from ortools.sat.python import cp_model

from matcher.candidates import OrderContext
from matcher.cpsat import constraints
from matcher.cpsat.solver import TWO_WORKER_SUBSOLVERS, Plan, add_plan_hint
from matcher.cpsat.variables import make_variables
from matcher.model import Problem

if TYPE_CHECKING:
    from matcher.certificate import _Pool


def lagrangian_coverage_bound(
    problem: Problem,
    contexts: list[OrderContext],
    pool: _Pool,
    listed: list[np.ndarray],
    duals: tuple[np.ndarray, np.ndarray],
    hint: Mapping[int, Plan],
    seed: int,
    deterministic_s: float | None = None,
    time_limit_s: float | None = None,
    workers: int = 1,
) -> tuple[float, float, str]:
    """An upper bound on the full problem's coverage that is integral on the candidate lists.

    ``listed[o]`` marks the eligible helpers of order o (``pool``) on its candidate list. For any
    multipliers pi >= 0 on the helpers' order and minute rows (``duals``, per helper: the
    relaxation's duals of those rows are the natural choice; negative ones are taken as 0), every
    plan x satisfies  coverage(x) <= coverage(x) + pi.(b - A x). Relax the plans:
    visits on the lists keep every rule (CP-SAT's model: a plan's listed visits alone obey them),
    visits outside the lists keep none but the order's team, lead and language rows, through
    t_o = how many outside helpers order o takes, whose term -pi.A x is at most minus the t_o
    cheapest pi-prices among o's outside visits. The maximum of coverage - pi.A x + pi.b over
    that model bounds every plan of the full problem; CP-SAT's proven bound on it (penalties
    rounded down, so its maximum is not below the true one) is valid whenever it stops.
    Returns (bound, CP-SAT's best value + pi.b, status)."""
    scale = 100
    orders_dual, minutes_dual = (np.maximum(d, 0.0) for d in duals)
    constant = math.fsum(
        orders_dual[helper] * person.max_orders
        + minutes_dual[helper] * (person.max_minutes - person.committed_minutes)
        for helper, person in enumerate(problem.helpers)
    )
    model = cp_model.CpModel()
    v = make_variables(model, contexts)
    constraints.add_availability(model, contexts, v)
    constraints.add_no_overlap(model, problem, contexts, v)
    constraints.add_daily_limits(model, problem, contexts, v)
    constraints.add_pins(model, contexts, v)
    terms: list[cp_model.LinearExprT] = []
    for ctx in contexts:
        o, e = ctx.index, pool.orders[ctx.index]
        assign, covered = v.assign[o], v.covered[o]
        terms.append(ctx.weight * scale * covered)
        for k, candidate in enumerate(ctx.candidates):
            h = candidate.helper
            minutes = ctx.duration + candidate.leg.minutes_round_trip
            price = orders_dual[h] + minutes * minutes_dual[h]
            terms.append(-math.floor(scale * price) * assign[k])
        outside = np.flatnonzero(~listed[o])
        who = e.helpers[outside]
        prices = np.sort(orders_dual[who] + e.minutes[outside] * minutes_dual[who])
        slots = [model.new_bool_var("") for _ in range(min(ctx.team, len(outside)))]
        for i, slot in enumerate(slots):
            terms.append(-math.floor(scale * float(prices[i])) * slot)
        if not pool.team_possible(ctx):
            model.add(covered == 0)
        model.add(sum(assign) + sum(slots) == ctx.team * covered)
        for needs, mask, has in (
            (ctx.needs_lead, e.lead, [c.has_lead for c in ctx.candidates]),
            (ctx.needs_language, e.speaks, [c.speaks for c in ctx.candidates]),
        ):
            if not needs:
                continue
            held = [assign[k] for k, yes in enumerate(has) if yes]
            if slots and bool(mask[outside].any()):
                held.append(model.new_bool_var(""))
                model.add(held[-1] <= sum(slots))
            model.add(sum(held) >= covered)
    model.maximize(sum(terms))
    add_plan_hint(model, contexts, v, hint)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    if workers == 2:  # as the coverage stage (``matcher.cpsat.solver``): LP-heavy and core-based
        solver.parameters.subsolvers.extend(TWO_WORKER_SUBSOLVERS)
    solver.parameters.random_seed = seed
    if deterministic_s is not None:
        solver.parameters.max_deterministic_time = deterministic_s
    if time_limit_s is not None:
        solver.parameters.max_time_in_seconds = max(time_limit_s, 0.01)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.UNKNOWN):
        return math.inf, -math.inf, solver.status_name(status)  # no bound to speak of
    best = solver.objective_value / scale + constant
    return solver.best_objective_bound / scale + constant, best, solver.status_name(status)
