"""Certificates against the full problem: bounds valid for every eligible helper, checked against
exact optima (brute force, and CP-SAT with every eligible helper as a candidate)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from ortools.sat.python import cp_model

from matcher import certificate as certificate_module
from matcher.candidates import Eligibility, OrderContext, build_contexts
from matcher.certificate import (
    MIP_AFTER_SHARE,
    MIP_VISITS,
    MIP_WIDEN_SHARE,
    WIDENED_KEPT,
    _Lp,
    _Pool,
    _widened,
    budget,
    certify,
    eligible_visits,
    widen,
)
from matcher.cpsat.objective import COST_SCALE, cost_expression, coverage_expression
from matcher.cpsat.solver import CpsatOutcome, add_hard_rules
from matcher.cpsat.variables import make_variables
from matcher.full_mip import FullMip
from matcher.generator import generate_street, preset
from matcher.greedy import GreedyOutcome
from matcher.lagrangian import lagrangian_coverage_bound
from matcher.lns import LARGE_ORDERS
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import BoundMethod, Result, Status
from matcher.solve import prepare, solve
from matcher.verify import assert_valid
from tests.matcher.brute_force import best_weighted_coverage
from tests.matcher.strategies import tiny_problems

# One nearest helper per order: the candidate lists leave out most eligible helpers, so the
# full problem's optimum is often better than the lists' and the bounds must account for it.
NARROW = SolveParams(time_limit_s=5, workers=1, seed=0, candidate_limit=1, certify_s=5)
FULL = SolveParams(time_limit_s=20, workers=1, seed=0, candidate_limit=None)


@cache
def street(seed: int, mip: bool = True) -> tuple[Problem, Result, Result]:
    """A tiny generated street: the narrow solve with its certificate (with the full problem's
    MIP, or without: the relaxation alone), and the full optimum."""
    problem = generate_street(preset("tiny", seed=seed))
    with without_mip(not mip):
        narrow = solve(problem, NARROW)
    full = solve(problem, FULL)
    assert_valid(problem, narrow)
    assert full.status is Status.OPTIMAL
    return problem, narrow, full


def widened(
    problem: Problem, params: SolveParams, core: bool = True
) -> tuple[Eligibility, list[OrderContext], GreedyOutcome]:
    """The street's lists and hand rule's plan (``prepare``) after ``widen`` (5 s) with the core
    in place of the whole MIP (``MIP_VISITS`` = 0, as on town streets) or, with ``core=False``,
    with the whole MIP the tiny street gets."""
    eligibility, contexts, greedy = prepare(problem, params)
    with pytest.MonkeyPatch.context() as patch:
        if core:
            patch.setattr(certificate_module, "MIP_VISITS", 0)
        widen(problem, params.weights, eligibility, contexts, 5, greedy.assignments)
    return eligibility, contexts, greedy


def proven_stages(outcome: CpsatOutcome) -> tuple[float, float]:
    """Both stages of a CP-SAT outcome proven optimal: their (coverage, cost to 4 places), for
    comparing runs with and without a start or a cap."""
    stages = {stage.name: stage for stage in outcome.stages}
    assert stages["coverage"].status is Status.OPTIMAL
    assert stages["cost"].status is Status.OPTIMAL
    return stages["coverage"].objective, round(stages["cost"].objective, 4)


@contextmanager
def without_mip(off: bool = True) -> Iterator[None]:
    """The certificate without the full problem's MIP nor its core (as without HiGHS)."""
    kept = certificate_module.MIP_VISITS, certificate_module.core_applies
    if off:
        certificate_module.MIP_VISITS = -1
        certificate_module.core_applies = lambda visits: False  # type: ignore[assignment]
    try:
        yield
    finally:
        certificate_module.MIP_VISITS, certificate_module.core_applies = kept


def least_cost_at(problem: Problem, level: int) -> float:
    """The exact least cost of any plan with every eligible helper covering at least ``level``."""
    _, contexts = build_contexts(problem, FULL.wait_boost, None)
    model = cp_model.CpModel()
    v = make_variables(model, contexts)
    add_hard_rules(model, problem, contexts, v)
    model.add(coverage_expression(contexts, v) >= level)
    model.minimize(cost_expression(model, problem, contexts, v, FULL.weights))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 20
    assert solver.solve(model) == cp_model.OPTIMAL
    return solver.objective_value / COST_SCALE


@pytest.mark.parametrize("mip", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_coverage_bound_is_at_least_the_full_optimum(seed: int, mip: bool) -> None:
    """The coverage bound is never below the best coverage with every eligible helper."""
    _, narrow, full = street(seed, mip)
    certificate = narrow.certificate
    assert certificate is not None
    assert certificate.coverage == narrow.weighted_coverage
    assert certificate.coverage_bound >= full.weighted_coverage


@pytest.mark.parametrize("mip", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_cost_bound_is_at_most_the_full_least_cost(seed: int, mip: bool) -> None:
    """The cost bound is never above the least cost, with every eligible helper, of a plan
    covering as much as the certified plan."""
    problem, narrow, _ = street(seed, mip)
    certificate = narrow.certificate
    assert certificate is not None
    assert certificate.cost_bound <= least_cost_at(problem, certificate.coverage) + 1e-6
    assert certificate.cost_bound <= certificate.cost


@pytest.mark.parametrize("core", [False, True])
def test_bounds_stay_valid_when_pricing_stops_early(
    core: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped after the first solve of each stage (without the MIP; with or without the core,
    cut by the first round's duals), the bounds (with the correction for the visits never priced
    in) still hold against the full problem's optima."""
    streets = [street(seed) for seed in range(6)]  # (solved, and kept, as the others see them)
    monkeypatch.setattr(certificate_module, "MAX_ROUNDS", 1)
    monkeypatch.setattr(certificate_module, "MIP_VISITS", -1)
    if not core:
        monkeypatch.setattr(certificate_module, "core_applies", lambda visits: False)
    stopped = []
    for problem, _, full in streets:
        result = solve(problem, NARROW.model_copy(update={"certify_s": 1e-9}))
        certificate = result.certificate
        assert certificate is not None
        stopped.append(not certificate.converged)
        assert certificate.coverage_bound >= full.weighted_coverage
        assert certificate.cost_bound <= least_cost_at(problem, certificate.coverage) + 1e-6
    assert sum(stopped) >= 3  # the correction was needed, so it was tested


@pytest.mark.parametrize("mip", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_full_candidate_lists_need_no_pricing(seed: int, mip: bool) -> None:
    """With every eligible helper a candidate, the relaxation already holds every visit:
    converged, and the full optimum's own bounds are met when CP-SAT proved it."""
    problem = generate_street(preset("tiny", seed=seed))
    with without_mip(not mip):
        result = solve(problem, FULL.model_copy(update={"certify_s": 5}))
    certificate = result.certificate
    assert certificate is not None
    assert certificate.converged
    assert certificate.columns == certificate.eligible
    # No pricing round for the cost: the MIP proves it from the plan (without the MIP, one
    # solve: the coverage rounds converged in ``widen`` and are not repeated).
    assert certificate.rounds == (0 if mip else 1)
    assert certificate.cost_method is (BoundMethod.MIP if mip else certificate.cost_method)
    assert result.stages[0].status is Status.OPTIMAL
    # CP-SAT's proofs over the lists are proofs over the full problem here (or the LP is tight).
    assert certificate.coverage_bound == result.weighted_coverage
    if result.status is Status.OPTIMAL:
        assert certificate.cost_bound == pytest.approx(certificate.cost, abs=0.01)


def test_the_gaps_follow_from_the_bounds() -> None:
    """Gaps are (bound - coverage) / bound and (cost - bound) / bound; ``within`` the larger."""
    _, narrow, _ = street(0)
    c = narrow.certificate
    assert c is not None
    assert c.coverage_gap == pytest.approx((c.coverage_bound - c.coverage) / c.coverage_bound)
    assert c.cost_gap == pytest.approx((c.cost - c.cost_bound) / c.cost_bound, abs=1e-3)
    assert c.within == max(c.coverage_gap, c.cost_gap)


def test_no_certificate_unless_asked() -> None:
    """Without ``certify_s`` a solve carries no certificate; with it the dump has one."""
    problem, narrow, _ = street(1)
    plain = solve(problem, NARROW.model_copy(update={"certify_s": 0}))
    assert plain.certificate is None
    assert narrow.model_dump(mode="json")["certificate"]["coverage_bound"] >= 0


@pytest.mark.slow
@pytest.mark.timeout(180)
@settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(prob=tiny_problems())
def test_coverage_bound_is_above_the_brute_force_optimum(prob: Problem) -> None:
    """On random tiny problems (time windows, teams, limits, pins), the coverage bound of a
    one-candidate solve is never below the exhaustive optimum over every helper."""
    best = best_weighted_coverage(prob, NARROW.wait_boost)
    result = solve(prob, NARROW)
    if best is None or result.status is Status.INFEASIBLE:
        return
    assert result.certificate is not None, result.message
    assert result.certificate.coverage_bound >= best


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("certify_s", [5, 1e-9])
@settings(
    max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(prob=tiny_problems())
def test_cost_bound_is_below_the_exact_least_cost(certify_s: float, prob: Problem) -> None:
    """On random tiny problems, the cost bound of a one-candidate solve (priced to the end, or
    stopped after one solve per stage) is never above the least cost of any plan with every
    eligible helper covering as much (CP-SAT, proven), and the coverage bound never below the
    plan's own coverage."""
    result = solve(prob, NARROW.model_copy(update={"certify_s": certify_s}))
    if result.status is Status.INFEASIBLE:
        return
    certificate = result.certificate
    assert certificate is not None, result.message
    assert certificate.coverage <= certificate.coverage_bound
    assert certificate.cost_bound <= least_cost_at(prob, certificate.coverage) + 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_lagrangian_bound_is_at_least_the_full_optimum(seed: int) -> None:
    """The bound integral on the lists (``lagrangian_coverage_bound``) holds against the best
    coverage with every eligible helper for the relaxation's duals, for random multipliers and
    for none (then it is CP-SAT on the lists with free outside helpers)."""
    problem, _, full = street(seed)
    eligibility, contexts, greedy = prepare(problem, NARROW)
    pool = _Pool(problem, NARROW.weights, eligibility, contexts)
    lp = _Lp(problem, contexts, NARROW.weights, pool)
    assert lp.coverage_bound(time.perf_counter() + 5)[2]  # converged: the duals are optimal
    orders, minutes, _ = lp._duals()
    rng = np.random.default_rng(seed)
    count = len(problem.helpers)
    for duals in (
        (orders, minutes),
        (rng.exponential(float(orders.max()) + 1, count), rng.exponential(1.0, count)),
        (np.zeros(count), np.zeros(count)),
    ):
        bound, value, status = lagrangian_coverage_bound(
            problem, contexts, pool, lp.listed, duals, greedy.assignments, seed, 10
        )
        assert status == "OPTIMAL"
        assert bound == pytest.approx(value, abs=1e-6)
        assert bound + 1e-6 >= full.weighted_coverage


@pytest.mark.parametrize("seed", range(6))
def test_certificate_with_the_lagrangian_bound_holds(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the Lagrangian bound switched on, the certificate's coverage bound still holds
    against the best coverage with every eligible helper."""
    problem, _, full = street(seed)
    monkeypatch.setattr(certificate_module, "LAGRANGIAN_SHARE", 0.9)
    result = solve(problem, NARROW)
    certificate = result.certificate
    assert certificate is not None
    assert certificate.coverage_bound >= full.weighted_coverage
    assert certificate.coverage_bound >= certificate.coverage


@pytest.mark.slow
@pytest.mark.timeout(180)
@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(prob=tiny_problems())
def test_lagrangian_bound_is_above_the_brute_force_optimum(prob: Problem) -> None:
    """On random tiny problems, the bound integral on one-candidate lists, at the relaxation's
    duals, is never below the exhaustive optimum over every helper."""
    best = best_weighted_coverage(prob, NARROW.wait_boost)
    eligibility, contexts, greedy = prepare(prob, NARROW)
    if best is None or greedy.pin_errors or any(c.pin_errors for c in contexts):
        return
    pool = _Pool(prob, NARROW.weights, eligibility, contexts)
    lp = _Lp(prob, contexts, NARROW.weights, pool)
    if lp.coverage_bound(time.perf_counter() + 5)[0] is None:
        return
    bound, _, status = lagrangian_coverage_bound(
        prob, contexts, pool, lp.listed, lp._duals()[:2], greedy.assignments, 0, 10
    )
    assert status == "OPTIMAL"
    assert bound + 1e-6 >= best


def test_the_certificate_shares_the_time_limit() -> None:
    """With a certificate asked for, the solve keeps ``time_limit_s - certify_s`` and the
    certificate the rest (at most half the limit), half of it pricing before CP-SAT; large
    streets (solved by neighbourhoods) keep their limit, and no certificate changes nothing."""
    params = SolveParams(time_limit_s=20, certify_s=5)
    solve_params, widen_s = budget(params, 1500)
    assert (solve_params.time_limit_s, solve_params.certify_s, widen_s) == (15, 5, 2.5)
    assert budget(SolveParams(time_limit_s=4, certify_s=5), 10)[0].time_limit_s == 2
    assert budget(params, LARGE_ORDERS + 1) == (params, 0)
    plain = SolveParams(time_limit_s=20)
    assert budget(plain, 1500) == (plain, 0)


@pytest.mark.parametrize("mip", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_widened_visits_are_eligible_and_new(seed: int, mip: bool) -> None:
    """Pricing (and the MIP's best solution) add to the candidate lists only eligible helpers
    not on them yet, and the certificate then goes on from the same relaxation (it holds every
    list visit but those of the MIP's solution)."""
    problem = generate_street(preset("tiny", seed=seed))
    eligibility, contexts, greedy = prepare(problem, NARROW)
    before = [[c.helper for c in ctx.candidates] for ctx in contexts]
    with without_mip(not mip):
        added = widen(problem, NARROW.weights, eligibility, contexts, 5, greedy.assignments)
    assert added == sum(len(c.candidates) for c in contexts) - sum(map(len, before))
    for ctx, old in zip(contexts, before, strict=True):
        helpers = [c.helper for c in ctx.candidates]
        assert helpers[: len(old)] == old
        assert len(set(helpers)) == len(helpers)
        assert set(helpers[len(old) :]) <= set(eligibility.ranked(ctx)[0].tolist())
    lp, state = _widened[id(eligibility)][3:]
    listed = {(ctx.index, c.helper) for ctx in contexts for c in ctx.candidates}
    in_lp = set(lp.assign)
    assert in_lp <= listed
    if mip:  # the MIP's solution (at least the hint's coverage) is on the lists
        assert state is not None and state.coverage.values is not None
        best = state.mip.plans_of(state.coverage.values)
        assert sum(contexts[o].weight for o in best) >= sum(
            contexts[o].weight for o in greedy.assignments
        )
        from_mip = {(o, h) for o, (team, _) in best.items() for h in team}
        assert from_mip <= listed
        assert listed == in_lp | from_mip
    else:
        assert state is None
        assert listed == in_lp
    with without_mip(not mip):
        certificate = certify(problem, NARROW.weights, eligibility, contexts, {}, None, 5)
    assert id(eligibility) not in _widened  # taken over by the certificate
    assert certificate.columns >= lp.column_count


def test_relaxations_left_behind_are_dropped() -> None:
    """Solves that end without a certificate leave at most ``WIDENED_KEPT`` relaxations."""
    problem = generate_street(preset("tiny", seed=0))
    kept = []
    for _ in range(WIDENED_KEPT + 2):
        eligibility, contexts, _ = prepare(problem, NARROW)
        widen(problem, NARROW.weights, eligibility, contexts, 1)
        kept.append(eligibility)
    assert len(_widened) <= WIDENED_KEPT
    assert id(kept[-1]) in _widened
    _widened.clear()


def test_priced_visits_join_their_cliques() -> None:
    """A visit pricing brings into the relaxation gets the at-most-one rows with the visits its
    helper can never do alongside it: the rows grow with the columns on some street."""
    grew = []
    for seed in range(6):
        problem = generate_street(preset("tiny", seed=seed))
        eligibility, contexts, _ = prepare(problem, NARROW)
        pool = _Pool(problem, NARROW.weights, eligibility, contexts)
        lp = _Lp(problem, contexts, NARROW.weights, pool)
        rows, columns = lp.clique_rows, lp.column_count
        lp.coverage_bound(time.perf_counter() + 5)
        lp.cost_bound(0, time.perf_counter() + 5)
        grew.append(lp.column_count > columns and lp.clique_rows > rows)
    assert any(grew)


def least_cost_using(
    problem: Problem, level: int, order: int | None, helper: int | None
) -> float | None:
    """The exact least cost, with every eligible helper, of a plan covering at least ``level``
    in which ``helper`` serves ``order`` (if given); None when no such plan exists."""
    _, contexts = build_contexts(problem, FULL.wait_boost, None)
    model = cp_model.CpModel()
    v = make_variables(model, contexts)
    add_hard_rules(model, problem, contexts, v)
    model.add(coverage_expression(contexts, v) >= level)
    if order is not None and helper is not None:
        k = [c.helper for c in contexts[order].candidates].index(helper)
        model.add(v.assign[order][k] == 1)
    model.minimize(cost_expression(model, problem, contexts, v, FULL.weights))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 20
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        return None
    assert status == cp_model.OPTIMAL
    return solver.objective_value / COST_SCALE


@pytest.mark.parametrize("seed", range(4))
def test_a_plan_using_an_outside_visit_costs_the_relaxation_plus_its_reduced_cost(
    seed: int,
) -> None:
    """See ``check_outside_visits`` (generated tiny streets)."""
    assert check_outside_visits(generate_street(preset("tiny", seed=seed)), 4)


@pytest.mark.slow
@pytest.mark.timeout(300)
@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(prob=tiny_problems())
def test_the_reduced_cost_lemma_holds_on_random_problems(prob: Problem) -> None:
    """``check_outside_visits`` on random tiny problems (time windows, teams, limits, pins)."""
    check_outside_visits(prob, 2)


def check_outside_visits(problem: Problem, visits: int) -> int:
    """The lemma behind the cost bound's "candidates" method (module docstring): with the cost
    relaxation priced to convergence at a coverage level (its level row, variables bounded by 1,
    whatever optimal duals GLOP returns), a plan covering at least that level in which a visit
    outside the relaxation serves costs at least the relaxation's value plus that visit's reduced
    cost. Checked against CP-SAT with every eligible helper and the visit forced in, for the
    outside visits of least reduced cost (the ones the bound takes)."""
    eligibility, contexts, greedy = prepare(problem, NARROW)
    level = sum(contexts[o].weight for o in greedy.assignments)
    pool = _Pool(problem, NARROW.weights, eligibility, contexts)
    lp = _Lp(problem, contexts, NARROW.weights, pool)
    lower, _, converged, _ = lp.cost_bound(level, time.perf_counter() + 30)
    if lower is None:  # no relaxed plan at the level: then no plan at all (pins that cannot be)
        assert least_cost_using(problem, level, None, None) is None
        return 0
    assert converged
    outside = [
        (float(reduced[p]) / COST_SCALE, o, int(pool.orders[o].helpers[p]))
        for o, reduced in enumerate(lp.reduced_costs(True))
        if reduced is not None
        for p in np.flatnonzero(~lp.inside[o]).tolist()
    ]
    checked = 0
    for reduced, order, helper in sorted(outside)[:visits]:
        assert reduced > -1e-6  # converged: no outside visit improves the relaxation
        exact = least_cost_using(problem, level, order, helper)
        if exact is not None:
            assert exact >= lower + reduced - 1e-4
            checked += 1
    return checked  # how many forced visits had a plan (the inequality tested)


def full_mip_of(problem: Problem) -> tuple[FullMip, list[OrderContext]]:
    """The full problem's MIP over every eligible helper (``candidate_limit=None``)."""
    _, contexts = build_contexts(problem, FULL.wait_boost, None)
    return FullMip(problem, FULL.weights, contexts), contexts


@pytest.mark.parametrize("seed", range(6))
def test_full_mip_bounds_hold_against_the_exact_optima(seed: int) -> None:
    """HiGHS's bounds over every eligible visit without start times: coverage at least the full
    optimum (CP-SAT with every eligible helper, proven), and the least cost at that coverage at
    most CP-SAT's exact least cost; from an empty start or from the optimum itself."""
    problem, _, full = street(seed)
    mip, contexts = full_mip_of(problem)
    helper = {h.id: i for i, h in enumerate(problem.helpers)}
    order = {ctx.order.id: ctx.index for ctx in contexts}
    plans = {order[a.order]: ([helper[h] for h in a.helpers], a.start) for a in full.assignments}
    level = full.weighted_coverage
    exact_cost = least_cost_at(problem, level)
    for start in ({}, plans):
        coverage = mip.coverage_bound(start, 10, 1, search=not start)
        assert coverage.proven
        assert coverage.bound is not None and coverage.bound >= level
        cost = mip.cost_bound(level, plans, 10, 1)
        assert cost.proven
        assert cost.bound is not None and cost.bound <= exact_cost + 1e-6


@pytest.mark.slow
@pytest.mark.timeout(300)
@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(prob=tiny_problems())
def test_full_mip_coverage_bound_is_above_the_brute_force_optimum(prob: Problem) -> None:
    """On random tiny problems (time windows, teams, limits, pins), the MIP's coverage bound is
    never below the exhaustive optimum over every helper."""
    best = best_weighted_coverage(prob, NARROW.wait_boost)
    if best is None:
        return
    mip, contexts = full_mip_of(prob)
    if any(ctx.pin_errors for ctx in contexts):
        return
    found = mip.coverage_bound({}, 10, 1, search=True)
    assert found.bound is not None
    assert found.bound >= best


def test_highs_runs_whatever_thread_count_came_first() -> None:
    """HiGHS makes its thread pool once per process: a later run asking another count still
    gets its bound (on the pool as it is)."""
    problem, _, full = street(0)
    mip, _ = full_mip_of(problem)
    for threads in (1, 2, 1):
        found = mip.coverage_bound({}, 10, threads, search=True)
        assert found.proven and found.bound is not None
        assert found.bound >= full.weighted_coverage


def test_the_mip_gets_its_share_before_the_solve() -> None:
    """When the full problem's MIP runs (a street of at most ``MIP_VISITS`` eligible visits),
    ``widen`` gets ``MIP_WIDEN_SHARE`` of the solve's time more, and CP-SAT's coverage stage
    keeps half of what is left after it; above ``MIP_VISITS`` the core's budget (below)."""
    params = SolveParams(time_limit_s=20, certify_s=5)
    solve_params, widen_s = budget(params, 1500, lambda: MIP_VISITS)
    after = MIP_AFTER_SHARE * 5
    assert solve_params.certify_s == pytest.approx(after)
    solve_s = solve_params.time_limit_s
    assert solve_s == pytest.approx(20 - after)
    assert widen_s == pytest.approx(2.5 + MIP_WIDEN_SHARE * solve_s)
    coverage_ends = solve_params.coverage_time_share * solve_s
    assert coverage_ends == pytest.approx(widen_s + (solve_s - widen_s) / 2)


def test_the_core_gets_its_share_before_the_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above ``MIP_VISITS`` (town streets) ``widen`` gets ``CORE_WIDEN_S`` more for the core's
    coverage run, the certificate keeps ``CORE_AFTER_SHARE`` of ``certify_s`` after the solve,
    and CP-SAT's coverage stage ends at ``CORE_COVERAGE_STAGE`` of the time after ``widen``;
    without HiGHS the budget is as without a MIP."""
    params = SolveParams(time_limit_s=20, certify_s=5)
    solve_params, widen_s = budget(params, 1500, lambda: MIP_VISITS + 1)
    after = certificate_module.CORE_AFTER_SHARE * 5
    assert solve_params.certify_s == pytest.approx(after)
    solve_s = solve_params.time_limit_s
    assert solve_s == pytest.approx(20 - after)
    assert widen_s == pytest.approx(2.5 + certificate_module.CORE_WIDEN_S)
    coverage_ends = solve_params.coverage_time_share * solve_s
    stage = certificate_module.CORE_COVERAGE_STAGE
    assert coverage_ends == pytest.approx(widen_s + stage * (solve_s - widen_s))
    monkeypatch.setattr(certificate_module.full_mip, "available", lambda: False)
    assert budget(params, 1500, lambda: MIP_VISITS + 1) == budget(params, 1500)


@pytest.mark.parametrize("seed", range(3))
def test_the_eligible_visits_are_counted_or_too_many(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``eligible_visits`` counts every eligible visit, or says "more than ``MIP_VISITS``"
    from the rankings' heads alone."""
    problem = generate_street(preset("tiny", seed=seed))
    eligibility, contexts, _ = prepare(problem, NARROW)
    exact = sum(len(eligibility.ranked(ctx)[0]) for ctx in contexts)
    assert eligible_visits(eligibility, contexts) == exact
    monkeypatch.setattr(certificate_module, "MIP_VISITS", 3)
    assert eligible_visits(eligibility, contexts) > 3


@pytest.mark.parametrize("seed", range(8))
def test_the_mip_certifies_the_full_optimum_on_tiny_streets(seed: int) -> None:
    """With one nearest candidate per order, HiGHS's visits on the lists let CP-SAT reach the
    full problem's optimum (every eligible helper, proven by CP-SAT), and the certificate's
    coverage bound meets it: coverage proven optimal for the full problem. (Without the MIP the
    relaxation's bound stays above it on seed 6.)"""
    _, narrow, full = street(seed)
    certificate = narrow.certificate
    assert certificate is not None
    assert narrow.weighted_coverage == full.weighted_coverage
    assert certificate.coverage_bound == certificate.coverage == full.weighted_coverage
    assert certificate.coverage_gap == 0
    assert certificate.cost_method is BoundMethod.MIP
