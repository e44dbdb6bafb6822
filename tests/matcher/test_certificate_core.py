"""The core (``matcher.certificate.core_mip``): a relaxation of the full problem's MIP in which only
some visits count in their helpers' rows and the others are free (and, beyond ``team`` per lead
and language class, left out). Its bounds must hold for the full problem (every eligible helper)
whichever visits are kept exact: checked against CP-SAT's exact optima with every eligible helper
on tiny generated streets, and against the brute force on random tiny problems, for the masks the
relaxation's duals give, for random masks and for "everything free"."""

from __future__ import annotations

import time
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from matcher import certificate as certificate_module
from matcher.candidates import OrderContext
from matcher.certificate import _Lp, _Pool, core_mip, coverage_cap
from matcher.cpsat.solver import run_cpsat
from matcher.full_mip import FullMip
from matcher.model import Problem
from matcher.result import BoundMethod, Result, Status
from matcher.solve import prepare, solve
from matcher.verify import assert_valid
from tests.matcher.brute_force import best_weighted_coverage
from tests.matcher.strategies import tiny_problems
from tests.matcher.test_certificate import (
    FULL,
    NARROW,
    least_cost_at,
    proven_stages,
    street,
    widened,
)

Masks = list[np.ndarray]


def narrow_lists(problem: Problem) -> tuple[list[OrderContext], _Pool, _Lp]:
    """The one-candidate lists (``NARROW``), every eligible visit's pool and the relaxation."""
    eligibility, contexts, _ = prepare(problem, NARROW)
    pool = _Pool(problem, NARROW.weights, eligibility, contexts)
    lp = _Lp(problem, contexts, NARROW.weights, pool)
    lp.keep_exact = True
    return contexts, pool, lp


def masks(pool: _Pool, kind: str, seed: int = 0) -> Masks:
    """Exact visits per order: none (all free), every one, or a random half."""
    rng = np.random.default_rng(seed)
    out = []
    for e in pool.orders:
        if kind == "none":
            out.append(np.zeros(len(e.helpers), dtype=bool))
        elif kind == "all":
            out.append(np.ones(len(e.helpers), dtype=bool))
        else:
            out.append(rng.random(len(e.helpers)) < 0.5)
    return out


def plans_of(result: Result, problem: Problem, contexts: list[OrderContext]) -> dict[int, tuple]:
    helper = {h.id: i for i, h in enumerate(problem.helpers)}
    order = {ctx.order.id: ctx.index for ctx in contexts}
    return {order[a.order]: ([helper[h] for h in a.helpers], a.start) for a in result.assignments}


def dual_masks(lp: _Lp, level: int | None = None) -> Masks:
    """The relaxation priced to convergence (coverage, or cost at ``level``): its masks."""
    far = time.perf_counter() + 600
    if level is None:
        assert lp.coverage_bound(far)[2]
        return lp.exact[True]
    assert lp.cost_bound(level, far)[2]
    return lp.exact[False]


@cache
def core_bounds(seed: int, kind: str) -> tuple[float | None, float | None, int, float, int]:
    """On tiny street ``seed``: the core's coverage bound (no start) and its cost bound at the
    full optimum's coverage (from the full optimum's plan, which every core must hold), with the
    full optimum's coverage and least cost, and how many visits were free."""
    problem, _, full = street(seed)
    contexts, pool, lp = narrow_lists(problem)
    level = full.weighted_coverage
    if kind == "duals":
        coverage_masks = dual_masks(lp)
        cost_masks = dual_masks(lp, level)
    else:
        coverage_masks = cost_masks = masks(pool, kind, seed)
    # The full optimum's helpers must have columns: on the lists of the core it is a plan.
    _, full_contexts = prepare(problem, FULL)[:2]
    plans = plans_of(full, problem, full_contexts)
    for ctx, full_ctx in zip(contexts, full_contexts, strict=True):
        known = {c.helper for c in ctx.candidates}
        ctx.candidates.extend(c for c in full_ctx.candidates if c.helper not in known)
    coverage_core = core_mip(problem, NARROW.weights, contexts, pool, coverage_masks)
    coverage = coverage_core.coverage_bound({}, 10, 1, search=True)
    assert coverage.proven
    cost_core = core_mip(problem, NARROW.weights, contexts, pool, cost_masks)
    cost = cost_core.cost_bound(level, plans, 10, 1)
    assert cost.proven
    free = sum(len(core.free) for core in (coverage_core, cost_core))
    return coverage.bound, cost.bound, level, least_cost_at(problem, level), free


@pytest.mark.parametrize("kind", ["duals", "none", "random", "all"])
@pytest.mark.parametrize("seed", range(6))
def test_core_bounds_hold_against_the_exact_optima(seed: int, kind: str) -> None:
    """Whichever visits are exact, the core's coverage bound is at least the full optimum
    (CP-SAT with every eligible helper, proven) and its cost bound at most the exact least cost
    of a plan covering that much."""
    coverage, cost, level, least, _ = core_bounds(seed, kind)
    assert coverage is not None and coverage >= level
    assert cost is not None and cost <= least + 1e-6


def test_the_cores_free_some_visits_and_lose_tightness() -> None:
    """The cores above do leave visits free (else the test checks the full MIP only), and with
    everything free the coverage bound is above the full optimum on some street (the relaxation
    is real), while the duals' core meets it on most (it is tight where it counts)."""
    for kind in ("duals", "none", "random"):
        assert sum(core_bounds(seed, kind)[4] for seed in range(6)) > 0, kind
    loose = [
        (core_bounds(seed, "none")[0] or 0) > core_bounds(seed, "none")[2] for seed in range(6)
    ]
    assert any(loose)
    tight = [core_bounds(seed, "duals")[0] == core_bounds(seed, "duals")[2] for seed in range(6)]
    assert sum(tight) >= 4


@pytest.mark.parametrize("seed", range(6))
def test_the_certificate_with_the_core_holds(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the core in place of the whole MIP (as on town streets: ``MIP_VISITS`` below the
    street's eligible visits), ``solve``'s certificate still bounds the full problem."""
    problem, _, full = street(seed)
    monkeypatch.setattr(certificate_module, "MIP_VISITS", 0)
    result = solve(problem, NARROW)
    assert_valid(problem, result)
    certificate = result.certificate
    assert certificate is not None
    assert certificate.coverage_bound >= full.weighted_coverage
    assert certificate.cost_bound <= least_cost_at(problem, certificate.coverage) + 1e-6


def test_the_core_certifies_the_full_optimum_on_tiny_streets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the core, the narrow solve's coverage is proven optimal for the full problem on most
    tiny streets (bound = plan = CP-SAT's optimum with every eligible helper)."""
    monkeypatch.setattr(certificate_module, "MIP_VISITS", 0)
    proven = 0
    for seed in range(6):
        problem, _, full = street(seed)
        certificate = solve(problem, NARROW).certificate
        assert certificate is not None
        proven += certificate.coverage_bound == certificate.coverage == full.weighted_coverage
    assert proven >= 4


@pytest.mark.slow
@pytest.mark.timeout(300)
@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(prob=tiny_problems())
def test_core_coverage_bound_is_above_the_brute_force_optimum(prob: Problem) -> None:
    """On random tiny problems (time windows, teams, limits, pins), the core's coverage bound,
    for the relaxation's masks, a random half and everything free, is never below the exhaustive
    optimum over every helper."""
    best = best_weighted_coverage(prob, NARROW.wait_boost)
    if best is None:
        return
    contexts, pool, lp = narrow_lists(prob)
    if any(ctx.pin_errors for ctx in contexts):
        return
    if not lp.coverage_bound(time.perf_counter() + 60)[2]:
        return
    for exact in (lp.exact[True], masks(pool, "random"), masks(pool, "none")):
        core: FullMip = core_mip(prob, NARROW.weights, contexts, pool, exact)
        found = core.coverage_bound({}, 10, 1, search=True)
        assert found.bound is not None
        assert found.bound >= best


def test_a_street_without_pricing_gets_the_core_in_the_certificate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without ``widen`` (no certificate share before the solve), ``certify`` prices the
    relaxation itself and builds the core from it."""
    problem, _, full = street(1)
    monkeypatch.setattr(certificate_module, "MIP_VISITS", 0)
    monkeypatch.setattr(certificate_module, "WIDEN_SHARE", 0.0)
    result = solve(problem, NARROW)
    certificate = result.certificate
    assert result.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert certificate is not None
    assert certificate.coverage_bound >= full.weighted_coverage
    assert certificate.cost_bound <= least_cost_at(problem, certificate.coverage) + 1e-6
    assert BoundMethod.CORE in (certificate.coverage_method, certificate.cost_method)


@pytest.mark.parametrize("seed", range(4))
def test_the_coverage_cap_holds_and_leaves_the_cost_stage_alone(seed: int) -> None:
    """``widen``'s cap (the core's bound) is at least the full optimum; CP-SAT capped by it
    reaches the same coverage, proven, and the cost stage (the cap cleared) the same least
    cost as without it. On streets of the whole MIP there is no cap."""
    problem, _, full = street(seed)
    params = NARROW.model_copy(update={"time_limit_s": 10})
    outcomes = []
    for cap in (True, False):
        eligibility, contexts, greedy = widened(problem, params)
        bound = coverage_cap(eligibility) if cap else None
        if cap:
            assert bound is not None and bound >= full.weighted_coverage
        outcome = run_cpsat(problem, contexts, params, greedy.assignments, time.perf_counter(),
                            coverage_cap=bound)  # fmt: skip
        outcomes.append(proven_stages(outcome))
        certificate_module._widened.pop(id(eligibility), None)
    assert outcomes[0] == outcomes[1]
    eligibility, contexts, greedy = widened(problem, params, core=False)
    assert coverage_cap(eligibility) is None  # the whole MIP ran: no cap
    certificate_module._widened.pop(id(eligibility), None)
