"""A certificate of how good a plan is against the **full** problem: every eligible helper for
every order, not only the candidate lists CP-SAT works with (``SolveParams.candidate_limit``).

Two bounds, each valid whichever eligible helpers a plan uses:

- ``coverage_bound``: no plan covers more weighted demand. The least of: the orders a full team
  could serve at all (``coverable``); the linear relaxation of the full problem (``lp``); when
  pricing shows no helper outside the candidate lists could raise the relaxation, CP-SAT's
  own bound over the candidate lists (``candidates``); and HiGHS's MIP over every eligible visit
  with start times dropped (``mip``, ``matcher.full_mip``), or over its core (``core``,
  ``core_mip``), rounded down to the weights' lattice.
- ``cost_bound``: no plan covering at least the plan's weighted coverage costs less (the cost
  stage's objective: travel, continuity, preference and load, ``matcher.cpsat.objective``).
  HiGHS's MIP at the plan's coverage (``mip``), or, without it, the linear relaxation (``lp``) or
  CP-SAT's bound over the candidate lists when every helper outside them is dearer than the
  relaxation's margin (``candidates``), raised by the core's MIP where it runs (``core``).

The MIP (streets of at most ``MIP_VISITS`` eligible visits, HiGHS installed) is what proves: on
the 1,500-order pastoral streets its coverage bound meets the plan (proven optimal for the full
problem) and its cost bound is within 0.1-0.7 % of the cost CP-SAT proves optimal on the
widened lists, where the relaxation stays 0.1-0.3 % and 3-5 % away (bench/README.md, "Certified
plans"). It runs twice: in ``widen``, before CP-SAT,
for coverage from the plan CP-SAT will be hinted with (its best solution's visits join the lists,
so CP-SAT can reach the full problem's optimum: the lists' own optimum was below it on pastoral
seed 2), and in ``certify``, for the cost from the plan (and for coverage again if the first run
did not prove). Town streets (190,000-219,000 eligible visits, too many for HiGHS in the time)
get its **core** instead (``core_mip``): a relaxation of the same MIP in which only the visits
the relaxation's duals say matter count in their helpers' limits (a few thousand), every other
visit is free of them, and of the free ones each order keeps ``team`` per lead and language
class. Cut by the converged coverage relaxation's duals, HiGHS proves the core's optimum in about
a second, and on town seed 0 it is the whole MIP's (373,925; the whole MIP took 8 s to build and
16 s of root cuts). ``widen`` runs it for coverage (its solution's visits join the lists, its
bound caps CP-SAT's coverage stage: ``coverage_cap``); ``certify`` runs the cost relaxation's
rounds for half its time and the core at their duals for the rest.

The relaxation (``_Lp``) has, per order, a covered share and a share per helper visit, team rows,
lead-skill and language rows, pins; per helper, the day's order and minute limits, the load
penalty (exact in the relaxation, as in CP-SAT), and at-most-one rows over the visits in it a
helper can never do together. Start times are dropped: a relaxation, never a tightening. It starts
on the candidate lists; helper visits outside them are priced against its duals (reduced cost,
vectorised over every eligible helper) and the ones that could improve it are added, round after
round (column generation), each joining the at-most-one rows of its helper (pricing ignores those
rows, which only makes a visit look more useful than it is: the bound stays valid). Should the
time run out first, the bound stays valid: the visits not yet added can improve it by at most team
size times the best reduced cost per order, or the day's order limit times the best one per
helper, whichever sum is less (the Lagrangian correction).

Why reduced costs cannot carry CP-SAT's proof over the lists to the full problem (measured:
``bench/certify_bench.py --probe``). The argument they would need: a plan using a visit j outside
the lists covers at most z + d_j (z the full relaxation's value, d_j <= 0 the visit's reduced cost
at its duals: weak duality of the Lagrangian, clique rows left out only raise d_j), so when
z + d_j < incumbent + 1 for every such j, no plan beats the incumbent without leaving the lists
and CP-SAT's bound over the lists bounds the full problem. Other optimal duals (a second LP over
the dual face, an interior point) change d_j, but none can do better than probing: the
relaxation's value z_j with x_j forced to 1 is, by LP duality, the least bound any dual solution
gives for plans using j. And z_j = z whenever, in an optimal relaxed plan, j's helper is idle,
j's order fully covered, and j's helper has the lead skill and language the order asks for: one
unit of the order's team moves to j's helper at no loss (an eligible helper has room for the
visit on its own). On the 1,500-order streets many visits outside the lists are of that kind (an
order has many eligible helpers and most are idle: 8,885 of 30,346 on pastoral seed 0, and 13 of
20 visits probed there lost nothing at all), so their z_j equals z, which is above every
incumbent by the relaxation's own gap: no choice of duals fixes them. Any proof of the full
optimum has to be integral over those visits too (an exchange argument, or branch-and-price); see
bench/README.md.

Why the cost bound may take CP-SAT's bound over the lists (``BoundMethod.CANDIDATES``). The cost
relaxation at level L (the plan's coverage; the row "weighted coverage >= L") priced to
convergence has value z and optimal row duals y (GLOP's, whichever of several degenerate optima it
returns: only weak duality is used). With d = c - A'y the reduced costs, every plan x covering at
least L (so satisfying every row of the relaxation, the level row included, and 0 <= x <= 1, the
pins' lower bounds included) costs c.x >= y.b + d.x (each row's dual has the sign of its sense),
and y.b + sum_j min(d_j l_j, d_j u_j) = z (LP duality with the bound duals). Hence
c.x - z >= sum_j (d_j x_j - min(d_j l_j, d_j u_j)), a sum of terms >= 0: a plan in which a visit k
outside the lists serves (x_k = 1) costs at least z + max(0, d_k), whatever the bound of the
columns at their upper bound (their terms are dropped, never counted negative). Pricing leaves
out the clique rows' duals (<= 0 on a <= row of a minimisation), which only lowers d_k: still
valid. A plan using no visit outside the lists costs at least CP-SAT's bound over the lists at
coverage >= L (proven or not). So min(CP-SAT's bound, z + max(0, min_k d_k)) bounds the full
problem; ``tests/matcher/test_certificate.py`` checks the inequality against CP-SAT with every
eligible helper and the visit forced in. It does not lift the bound on generated streets
(bench/README.md, "Certified plans", 2026-11-26 evening), and no choice of duals can make it: when
the relaxation's optimum itself uses a visit k outside CP-SAT's lists (x_k = 1, as the visits
pricing adds after the solve are), the relaxation with x_k forced to 1 is worth z, which by LP
duality is the best bound any duals give for plans using k; and a visit outside the relaxation
whose helper is idle prices at its own cost less the order's slot price, a few cost units, against
a gap of hundreds between the relaxation and the lists' optimum.

Time (``budget``): ``SolveParams.certify_s`` comes out of the solve's time limit, so solve and
certificate together keep it. Before CP-SAT, ``widen`` spends half of it pricing the relaxation
(coverage, then cost) and adds the visits it brought in to the candidate lists (column generation
into CP-SAT: the plan can use the helpers the full problem would); where the MIP runs, it gets
``MIP_WIDEN_SHARE`` of the solve's time more, and CP-SAT's coverage stage keeps half of what is
left after it. After the solve, ``certify`` goes on from that relaxation at the plan's coverage
(its coverage value reused as it is when ``widen`` priced it to convergence), with the
certificate's share plus whatever the solve left unused. Each pricing stage stopped early
returns the best corrected bound of its rounds; a MIP stopped by the time limit, HiGHS's dual
bound then.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from ortools.linear_solver import pywraplp

from matcher import full_mip
from matcher.candidates import Candidate, Eligibility, OrderContext
from matcher.cpsat.constraints import conflict_cliques
from matcher.cpsat.objective import COST_SCALE, pair_cost, plan_cost
from matcher.cpsat.solver import COST_START_LP_SHARE, CostStart, CoverageStart
from matcher.full_mip import FullMip, floor_to_step, full_lists, weight_step
from matcher.lagrangian import lagrangian_coverage_bound
from matcher.lns import LARGE_ORDERS
from matcher.model import Problem
from matcher.params import ObjectiveWeights, SolveParams
from matcher.result import BoundMethod, PlanCertificate, Stage, Status
from matcher.travel import Leg
from matcher.weights import continuity_units

Plan = tuple[list[int], int | None]  # helper indices, start (as ``matcher.cpsat.solver.Plan``)

# Columns added per order and round, and rounds at most: measured on 1,500-order streets
# (bench/certify_bench.py), the relaxation settles in a few rounds.
ADD_PER_ORDER = 2
MAX_ROUNDS = 12
EPS = 1e-6
# Seconds of the time limit the nightly run and scenario runs give the certificate (pricing before
# the solve and the bounds after it; bench/README.md, "Certified plans").
CERTIFY_S = 5.0
# Of ``certify_s``, the share that prices visits into the candidate lists before the solve
# (``widen``), and the coverage level (of the relaxation's bound) the cost pricing aims at.
WIDEN_SHARE = 0.5
WIDEN_LEVEL = 0.99
# Of the certificate's seconds after the solve, the share by which the Lagrangian coverage bound
# (``matcher.lagrangian``) must be done; 0 leaves it out (bench/README.md, "Certified plans").
LAGRANGIAN_SHARE = 0.0

# The full problem's MIP (``matcher.full_mip``): on streets with at most this many eligible helper
# visits (the 1,500-order pastoral streets have 34,000-36,000, the town ones 190,000-219,000, whose
# model HiGHS takes 8 s to build and 16 s of root cuts for), when at least ``MIP_LEAST_S`` seconds
# are left; after the solve, a second coverage run (when the first did not prove) gets at most
# ``MIP_COVERAGE_SHARE`` of them, the cost the rest.
MIP_VISITS = 60_000
MIP_LEAST_S = 1.0
MIP_COVERAGE_SHARE = 0.6
# When the MIP runs: of the solve's seconds, the share ``widen`` gets for it (bench/README.md),
# of ``widen``'s seconds the share of its pricing rounds, and of ``certify_s`` the share kept
# for the certificate after the solve (the rest goes to the solve).
MIP_WIDEN_SHARE = 0.3
WIDEN_LP_SHARE = 0.33
MIP_AFTER_SHARE = 0.6
# Streets above ``MIP_VISITS`` (town) get the core instead (``core_mip``): HiGHS's MIP over the
# visits whose helpers' limits shape the relaxation, the rest free. ``widen`` gets
# ``CORE_WIDEN_S`` seconds more for its coverage run; after the solve, a second coverage run
# (when the first did not prove) at most ``CORE_COVERAGE_SHARE`` of the time left, the cost
# rounds ``CORE_LP_SHARE`` of the rest and the core's cost MIP the remainder.
CORE_WIDEN_S = 1.5
CORE_COVERAGE_SHARE = 0.3
CORE_LP_SHARE = 0.5
# With the core: of ``certify_s``, the share kept for the certificate after the solve (the rest
# goes to the solve), and the share of the solve's time after ``widen`` by which CP-SAT's
# coverage stage ends (bench/README.md, "Certified plans", 2026-11-27 ``towncert``).
CORE_AFTER_SHARE = 0.6
# The certificate's solvers check their limits between steps (HiGHS between nodes, the pricing
# between rounds): on town streets it ended 0.1-0.5 s past its deadline (3.1-3.5 s for 3 s,
# quiet machine, 2026-11-27 08:20), so it is given this much less than the time left.
CERTIFY_OVERRUN_S = 0.5
CORE_COVERAGE_STAGE = 0.6
# The cost start on core streets (``cost_start``): after the cost relaxation, HiGHS's cost MIP
# over the lists until ``COST_START_MIP_SHARE`` of the start's seconds, when at least
# ``COST_START_MIP_LEAST_S`` are left for it (bench/README.md, "Certified plans", ``certtown``).
COST_START_MIP_SHARE = 0.7
COST_START_MIP_LEAST_S = 3.0

log = logging.getLogger("qunbang.matcher.certificate")


def certify(
    problem: Problem,
    weights: ObjectiveWeights,
    eligibility: Eligibility,
    contexts: list[OrderContext],
    plans: Mapping[int, Plan],
    candidate_bounds: tuple[float, float] | None = None,
    time_limit_s: float = 10.0,
    workers: int = 1,
    seed: int = 0,
) -> PlanCertificate:
    """Bound the full problem around ``plans`` (a plan over ``contexts``' candidates).

    ``eligibility`` must be the one ``contexts`` were built with (its ranking of every eligible
    helper per order is reused). ``candidate_bounds``: CP-SAT's (coverage upper, cost lower)
    bounds over exactly these candidate lists, cost at coverage at least the plan's, or None.
    ``time_limit_s`` caps the pricing rounds and the Lagrangian bound (``matcher.lagrangian``,
    on ``workers`` CP-SAT workers); the bounds are valid whenever they stop.
    """
    began = time.perf_counter()
    coverage = sum(contexts[i].weight for i in plans)
    cost = _plan_cost(problem, contexts, plans, weights)
    widened = _widened.pop(id(eligibility), None)
    state: _MipState | None = None
    if widened is not None and widened[0] is eligibility and widened[1] is contexts:
        _, _, pool, lp, state = widened  # ``widen`` priced these lists: go on from there
    else:
        pool = _Pool(problem, weights, eligibility, contexts)
        lp = _Lp(problem, contexts, weights, pool)
        lp.keep_exact = core_applies(pool.eligible)
    coverable = sum(ctx.weight for ctx in contexts if pool.team_possible(ctx))

    # Half the time for the coverage rounds, the rest for the cost rounds (each stage solves at
    # least once): the cost stage's first solve, with a new objective, takes the longest.
    upper: float | None
    if lp.coverage_converged is not None:
        # ``widen`` priced the coverage relaxation to convergence: its value is the full
        # relaxation's (the cost columns added since cannot change that), and best_out, taken
        # over the visits outside the lists before widening, a superset of those outside now,
        # can only overstate the gain of a visit outside the lists. No need to solve it again.
        upper, best_out = lp.coverage_converged
        rounds, converged = 0, True
    else:
        upper, rounds, converged, best_out = lp.coverage_bound(began + time_limit_s / 2)
    coverage_bound, coverage_method = coverable, BoundMethod.COVERABLE
    step = weight_step(contexts)  # every coverage is a multiple
    if upper is not None and floor_to_step(upper, step) < coverage_bound:
        coverage_bound, coverage_method = floor_to_step(upper, step), BoundMethod.LP
    if candidate_bounds is not None and converged and upper is not None:
        # A plan using only listed visits covers at most CP-SAT's bound; one using a visit
        # outside the lists at most the relaxation's value plus that visit's reduced cost.
        combined = math.floor(candidate_bounds[0] + EPS)
        if best_out > -math.inf:
            combined = max(combined, math.floor(upper + min(0.0, best_out) + EPS))
        if combined < coverage_bound:
            coverage_bound, coverage_method = combined, BoundMethod.CANDIDATES
    lagrangian_s = LAGRANGIAN_SHARE * time_limit_s - (time.perf_counter() - began)
    if lagrangian_s > 0.1 and lp.coverage_duals is not None and coverage_bound > coverage:
        # The relaxation's prices for helpers' time, with CP-SAT's exact model of the lists:
        # valid for any prices, so also when the pricing did not converge.
        bound, _, _ = lagrangian_coverage_bound(
            problem, contexts, pool, lp.listed, lp.coverage_duals, plans, seed,
            time_limit_s=lagrangian_s, workers=workers,
        )  # fmt: skip
        if math.floor(bound + EPS) < coverage_bound:
            coverage_bound, coverage_method = math.floor(bound + EPS), BoundMethod.LAGRANGIAN
    coverage_bound = max(coverage_bound, coverage)  # the plan itself is possible

    # HiGHS on the full problem without start times (``matcher.full_mip``): what the relaxation
    # cannot, it closes by cuts and branching. ``widen``'s run from the hint bounds every plan;
    # if it did not prove its optimum, a second run from this plan gets at most
    # ``MIP_COVERAGE_SHARE`` of the time left, the rest goes to the cost.
    method = BoundMethod.MIP
    if state is not None:
        mip: FullMip | None = state.mip
        proven, method = state.coverage.proven, state.method
        if state.coverage.bound is not None and state.coverage.bound < coverage_bound:
            coverage_bound, coverage_method = int(state.coverage.bound), method
        if method is BoundMethod.CORE and rounds and coverage_bound > coverage:
            # The coverage rounds went on from ``widen``'s: a core at their latest duals.
            mip, proven = core_mip(problem, weights, contexts, pool, lp.exact[True]), False
    else:
        mip, proven = _full_mip(problem, weights, contexts, pool, began + time_limit_s), False
        if mip is None and core_applies(pool.eligible) and True in lp.exact:
            mip = core_mip(problem, weights, contexts, pool, lp.exact[True])
            method = BoundMethod.CORE
    core = method is BoundMethod.CORE
    if mip is not None and not proven and coverage_bound > coverage:
        left = began + time_limit_s - time.perf_counter()
        share = CORE_COVERAGE_SHARE if core else MIP_COVERAGE_SHARE
        found = mip.coverage_bound(plans, share * left, workers)
        if found.bound is not None and found.bound < coverage_bound:
            coverage_bound, coverage_method = int(found.bound), method
    coverage_bound = max(coverage_bound, coverage)
    cost_bound, cost_method = 0.0, BoundMethod.LP
    cost_converged, mip_proven = True, False
    if mip is not None and not core:  # from the plan, with the time left
        left = began + time_limit_s - time.perf_counter()
        found = mip.cost_bound(coverage, plans, left, workers)
        if found.bound is not None and found.bound > cost_bound:
            cost_bound, cost_method = found.bound, BoundMethod.MIP
        mip_proven = found.proven
    if not mip_proven and cost_bound <= 0:
        # No HiGHS, too large, or stopped before its root relaxation was solved (its bound is
        # then the trivial 0; once solved, it is that relaxation over every eligible visit raised
        # by its cuts: above the rounds' relaxation on every street benched, bench/README.md).
        lp.keep_exact = lp.keep_exact or core
        lp_deadline = began + time_limit_s
        if core:  # the core's cost MIP gets the rest (``CORE_LP_SHARE``)
            lp_deadline -= (1 - CORE_LP_SHARE) * (lp_deadline - time.perf_counter())
        lower, more_rounds, cost_converged, cheapest_out = lp.cost_bound(coverage, lp_deadline)
        rounds += more_rounds
        if lower is not None and lower - EPS > cost_bound:
            cost_bound, cost_method = max(0.0, lower - EPS), BoundMethod.LP
        if candidate_bounds is not None and cost_converged and lower is not None:
            combined_cost = candidate_bounds[1]
            if cheapest_out < math.inf:
                combined_cost = min(combined_cost, lower + max(0.0, cheapest_out) - EPS)
            if combined_cost > cost_bound:
                cost_bound, cost_method = combined_cost, BoundMethod.CANDIDATES
        if core and False in lp.exact and began + time_limit_s - time.perf_counter() > 0.2:
            # The core at the cost relaxation's duals (``core_mip``): its linear relaxation is
            # worth the rounds' relaxation, HiGHS's cuts and branching lift it.
            cost_mip = core_mip(problem, weights, contexts, pool, lp.exact[False])
            left = began + time_limit_s - time.perf_counter()
            found = cost_mip.cost_bound(coverage, plans, left, workers)
            if found.bound is not None and found.bound > cost_bound:
                cost_bound, cost_method = found.bound, BoundMethod.CORE
    cost_bound = min(cost_bound, cost)
    coverage_gap = (coverage_bound - coverage) / coverage_bound if coverage_bound else 0.0
    cost_gap = (cost - cost_bound) / cost_bound if cost_bound > EPS else (1.0 if cost else 0.0)
    return PlanCertificate(
        coverage=coverage,
        coverage_bound=coverage_bound,
        coverage_gap=coverage_gap,
        coverage_method=coverage_method,
        cost=cost,
        cost_bound=math.floor(cost_bound * 1e4) / 1e4,  # rounded down: still a lower bound
        cost_gap=cost_gap,
        cost_method=cost_method,
        within=max(coverage_gap, cost_gap),
        columns=lp.column_count if mip is None else mip.eligible,
        eligible=pool.eligible,
        rounds=rounds,
        converged=converged and cost_converged,
        runtime_s=time.perf_counter() - began,
    )


def _full_mip(
    problem: Problem,
    weights: ObjectiveWeights,
    contexts: list[OrderContext],
    pool: _Pool,
    deadline: float,
) -> FullMip | None:
    """The full problem's MIP (``matcher.full_mip``) when it applies (``mip_applies``) and at
    least ``MIP_LEAST_S`` seconds are left."""
    if not mip_applies(pool.eligible):
        return None
    if deadline - time.perf_counter() < MIP_LEAST_S:
        return None
    outside: list[list[Candidate]] = []
    for ctx in contexts:
        listed = {c.helper for c in ctx.candidates}
        e = pool.orders[ctx.index]
        outside.append(
            [
                pool.candidate(ctx, position)
                for position, helper in enumerate(e.helpers.tolist())
                if helper not in listed
            ]
        )
    return FullMip(problem, weights, full_lists(contexts, outside))


def core_mip(
    problem: Problem,
    weights: ObjectiveWeights,
    contexts: list[OrderContext],
    pool: _Pool,
    exact: Sequence[np.ndarray],
) -> FullMip:
    """A relaxation of the full problem's MIP small enough for HiGHS on town streets. Only the
    visits in ``exact`` (per order, a mask over its eligible visits, ``_Lp.exact_visits``; pinned
    visits always) count in their helpers' rows (day limits, cliques, load); every other visit is
    *free*: it uses none of its helper's limits, which only enlarges the set of solutions. For one
    order, free visits of the same lead and language class differ only in cost, and no solution
    sends more than ``team`` of one class, so beyond the ``team`` cheapest of each class (and the
    listed ones, so that every plan over ``contexts`` stays a solution) they are left out at no
    loss. Every plan of the full problem is thus matched by a solution of this model covering as
    much at no more cost, so its bounds hold for the full problem (tested against exact optima in
    ``tests/matcher/test_certificate_core.py``). With ``exact`` from the relaxation's duals, the
    model's linear relaxation is worth the relaxation's, and its integrality (HiGHS's cuts and
    branching) closes part of the rest."""
    lists: list[OrderContext] = []
    free: set[tuple[int, int]] = set()
    for ctx, mask in zip(contexts, exact, strict=True):
        e = pool.orders[ctx.index]
        mask = mask | np.isin(e.helpers, list(ctx.pinned))
        listed = np.isin(e.helpers, [c.helper for c in ctx.candidates])
        keep = mask & ~listed
        loose = np.flatnonzero(~mask & ~listed)
        if len(loose):
            lead = e.lead[loose] if ctx.needs_lead else np.zeros(len(loose), dtype=bool)
            speaks = e.speaks[loose] if ctx.needs_language else np.zeros(len(loose), dtype=bool)
            kind = 2 * lead.astype(int) + speaks.astype(int)
            by_cost = np.lexsort((loose, e.cost[loose], kind))  # by class, cheapest first
            ordered, kinds = loose[by_cost], kind[by_cost]
            rank = np.arange(len(ordered)) - np.searchsorted(kinds, kinds, side="left")
            keep[ordered[rank < ctx.team]] = True
        more = [pool.candidate(ctx, p) for p in np.flatnonzero(keep).tolist()]
        lists.append(replace(ctx, candidates=list(ctx.candidates) + more))
        free.update((ctx.index, int(h)) for h in e.helpers[(keep | listed) & ~mask].tolist())
    return FullMip(problem, weights, lists, frozenset(free), full_cliques=True)


def _plan_cost(
    problem: Problem,
    contexts: list[OrderContext],
    plans: Mapping[int, Plan],
    weights: ObjectiveWeights,
) -> float:
    """The plan's cost as the cost stage counts it, in cost units."""
    return plan_cost(problem, contexts, plans, weights) / COST_SCALE


@dataclass
class _Eligible:
    """Every eligible helper of one order (``Eligibility.ranked``), with the per-visit facts
    the relaxation needs, as arrays."""

    helpers: np.ndarray
    km: np.ndarray
    minutes: np.ndarray  # the visit's minutes: service plus round trip
    lead: np.ndarray
    speaks: np.ndarray
    cost: np.ndarray  # scaled, as ``pair_cost`` for a helper outside the resident's circle


class _Pool:
    """Every eligible helper visit of the full problem, per order."""

    def __init__(
        self,
        problem: Problem,
        weights: ObjectiveWeights,
        eligibility: Eligibility,
        contexts: list[OrderContext],
    ) -> None:
        self.problem, self.eligibility = problem, eligibility
        genders = np.array([h.gender or "" for h in problem.helpers])
        self.orders: list[_Eligible] = []
        for ctx in contexts:
            indices, km, minutes = eligibility.ranked(ctx)
            resident = problem.resident(ctx.order.resident)
            lead = eligibility.lead_mask(ctx.item)[indices]
            if resident.language is None:
                speaks = np.ones(len(indices), dtype=bool)
            else:
                speaks = eligibility.speaker_mask(resident.language)[indices]
            # Circle members are always candidates (``matcher.candidates``): everyone priced
            # here from outside the lists is charged the outsider's continuity units.
            outsider = continuity_units(resident, "") if resident.circle else 0.0
            cost = weights.travel * km + weights.continuity * outsider
            if resident.preferred_gender is not None:
                cost = cost + weights.preference * (genders[indices] != resident.preferred_gender)
            self.orders.append(
                _Eligible(
                    helpers=indices,
                    km=km,
                    minutes=ctx.duration + minutes,
                    lead=lead,
                    speaks=speaks,
                    cost=np.round(COST_SCALE * cost),
                )
            )
        self.eligible = sum(len(e.helpers) for e in self.orders)
        self.max_orders = np.array([h.max_orders for h in problem.helpers], dtype=float)

    def team_possible(self, ctx: OrderContext) -> bool:
        """Whether any full team (with lead and language) of eligible helpers exists."""
        e = self.orders[ctx.index]
        if len(e.helpers) < ctx.team:
            return False
        return (not ctx.needs_lead or bool(e.lead.any())) and (
            not ctx.needs_language or bool(e.speaks.any())
        )

    def candidate(self, ctx: OrderContext, position: int) -> Candidate:
        e = self.orders[ctx.index]
        leg = Leg(float(e.km[position]), int(e.minutes[position]) - ctx.duration)
        return self.eligibility.candidate(ctx, int(e.helpers[position]), leg)


class _Lp:
    """The relaxation, grown by pricing (see the module docstring)."""

    def __init__(
        self,
        problem: Problem,
        contexts: list[OrderContext],
        weights: ObjectiveWeights,
        pool: _Pool,
    ) -> None:
        self.problem, self.contexts, self.weights, self.pool = problem, contexts, weights, pool
        s = self.solver = pywraplp.Solver.CreateSolver("GLOP")
        self.covered = [s.NumVar(0, 1, "") for _ in contexts]
        self.team_row = []
        self.lead_row: dict[int, pywraplp.Constraint] = {}
        self.language_row: dict[int, pywraplp.Constraint] = {}
        for ctx in contexts:
            c = self.covered[ctx.index]
            if not pool.team_possible(ctx):
                c.SetUb(0)
            self.team_row.append(_row(s, 0, 0, [(c, -ctx.team)]))
            if ctx.needs_lead:
                self.lead_row[ctx.index] = _row(s, 0, s.infinity(), [(c, -1)])
            if ctx.needs_language:
                self.language_row[ctx.index] = _row(s, 0, s.infinity(), [(c, -1)])
            if ctx.pinned:
                c.SetLb(1)
        # per helper: orders row, minutes row, and the load penalty's row and extras
        self.orders_row: dict[int, pywraplp.Constraint] = {}
        self.minutes_row: dict[int, pywraplp.Constraint] = {}
        self.load_row: dict[int, pywraplp.Constraint] = {}
        self.extras: dict[int, list[pywraplp.Variable]] = {}
        self.assign: dict[tuple[int, int], tuple[pywraplp.Variable, int]] = {}  # -> var, cost
        self.column_count = 0
        self.clique_rows = 0
        self.cliques_of: dict[int, list[pywraplp.Constraint]] = {}  # per helper, its clique rows
        # With ``keep_exact``, each stage's last solve leaves ``exact_visits`` in ``exact``
        # (True: coverage, False: cost), for ``core_mip``.
        self.keep_exact = False
        self.exact: dict[bool, list[np.ndarray]] = {}
        self.minimising = False
        # per order: which of its eligible helpers (pool positions) have a column, which are
        # on its candidate list
        self.inside = [np.zeros(len(e.helpers), dtype=bool) for e in pool.orders]
        # The relaxation's own visit lists: the candidates, then the visits pricing adds (the
        # clique rows are over these, ``_cliques``).
        self.lists = [replace(ctx, candidates=list(ctx.candidates)) for ctx in contexts]
        self.visits: dict[int, list[tuple[int, int]]] = {}  # helper -> (order, list position)
        self.listed = [
            np.isin(e.helpers, [c.helper for c in ctx.candidates])
            for e, ctx in zip(pool.orders, contexts, strict=True)
        ]
        for o, listed in enumerate(self.listed):
            self.inside[o] |= listed
        for ctx in contexts:
            for k, candidate in enumerate(ctx.candidates):
                var = self._add_column(ctx, candidate, candidate.helper in ctx.pinned)
                self.assign[(ctx.index, candidate.helper)] = var
                self.visits.setdefault(candidate.helper, []).append((ctx.index, k))
        self._cliques(self.visits)
        self.coverage = s.Sum([ctx.weight * self.covered[ctx.index] for ctx in contexts])
        self.level_row: pywraplp.Constraint | None = None
        self.last_value = 0.0  # the relaxation's value at its last solve (no correction)
        # (bound, best_out) once the coverage rounds converged: the full relaxation's optimum
        self.coverage_converged: tuple[float, float] | None = None
        # the helpers' order and minute duals at the last coverage solve (Lagrangian prices)
        self.coverage_duals: tuple[np.ndarray, np.ndarray] | None = None

    def _helper_rows(self, helper: int) -> None:
        s, person = self.solver, self.problem.helpers[helper]
        self.orders_row[helper] = s.Constraint(-s.infinity(), person.max_orders)
        room = person.max_minutes - person.committed_minutes
        self.minutes_row[helper] = s.Constraint(-s.infinity(), room)
        # A helper's k-th order costs k-1 load units: extras filled in order (convex), exact.
        self.load_row[helper] = row = s.Constraint(-1, s.infinity())
        self.extras[helper] = extras = [s.NumVar(0, 1, "") for _ in range(person.max_orders - 1)]
        for extra in extras:
            row.SetCoefficient(extra, 1)
        if self.minimising:
            self._load_costs(extras)

    def _load_costs(self, extras: list[pywraplp.Variable]) -> None:
        unit = round(COST_SCALE * self.weights.fairness)
        for j, extra in enumerate(extras):
            self.solver.Objective().SetCoefficient(extra, (j + 1) * unit)

    def _add_column(
        self, ctx: OrderContext, candidate: Candidate, pinned: bool = False
    ) -> tuple[pywraplp.Variable, int]:
        helper = candidate.helper
        if helper not in self.orders_row:
            self._helper_rows(helper)
        var = self.solver.NumVar(1 if pinned else 0, 1, "")
        self.team_row[ctx.index].SetCoefficient(var, 1)
        if ctx.index in self.lead_row and candidate.has_lead:
            self.lead_row[ctx.index].SetCoefficient(var, 1)
        if ctx.index in self.language_row and candidate.speaks:
            self.language_row[ctx.index].SetCoefficient(var, 1)
        self.orders_row[helper].SetCoefficient(var, 1)
        self.minutes_row[helper].SetCoefficient(
            var, ctx.duration + candidate.leg.minutes_round_trip
        )
        self.load_row[helper].SetCoefficient(var, -1)
        self.column_count += 1
        cost = pair_cost(self.problem, ctx, candidate, self.weights)
        if self.minimising:
            self.solver.Objective().SetCoefficient(var, cost)
        return var, cost

    def _cliques(
        self,
        visits: Mapping[int, list[tuple[int, int]]],
        new: frozenset[tuple[int, int]] = frozenset(),
    ) -> None:
        """At most one of the visits a helper can never do together (``visits``: per helper, the
        visits to cover; with ``new``, only the cliques holding one of those visits are added,
        the others being rows already). Valid for every plan, so they tighten the relaxation
        without cutting off any plan; a visit priced in later joins its cliques here."""
        for helper, pairs in visits.items():
            for clique in conflict_cliques(self.problem, self.lists, helper, pairs):
                if new and not any(visit in new for visit in clique):
                    continue
                columns = [
                    (self.assign[(o, self.lists[o].candidates[k].helper)][0], 1) for o, k in clique
                ]
                row = _row(self.solver, -self.solver.infinity(), 1, columns)
                self.cliques_of.setdefault(helper, []).append(row)
                self.clique_rows += 1

    # ------------------------------------------------------------------------- pricing

    def _duals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per helper (all of the problem's): duals of the orders, minutes and load rows."""
        count = len(self.problem.helpers)
        orders, minutes, load = np.zeros(count), np.zeros(count), np.zeros(count)
        for helper, row in self.orders_row.items():
            orders[helper] = row.dual_value()
            minutes[helper] = self.minutes_row[helper].dual_value()
            load[helper] = self.load_row[helper].dual_value()
        return orders, minutes, load

    def exact_visits(self, with_cost: bool) -> list[np.ndarray]:
        """Per order, a mask over its eligible visits (pool positions): those that would improve
        the relaxation at the last solve's duals if they used none of their helper's limits
        (``reduced_costs`` without the helper part), and the relaxation's own columns (whose
        clique rows' duals pricing leaves out). ``core_mip`` keeps exactly these in their
        helpers' rows: freed from those rows, every other visit still prices as no improvement,
        so the core's linear relaxation is worth the relaxation's (measured on town 0: 2,390.04
        both; freeing the relaxation's own columns too lost 26 of it)."""
        sign = 1.0 if with_cost else -1.0
        out = []
        for inside, reduced in zip(
            self.inside, self.reduced_costs(with_cost, helper_part=False), strict=True
        ):
            out.append(inside.copy() if reduced is None else inside | (-sign * reduced > EPS))
        return out

    def reduced_costs(self, with_cost: bool, helper_part: bool = True) -> list[np.ndarray | None]:
        """Per order, the reduced cost of each of its eligible visits (pool positions) at the
        last solve's duals, in objective units (clique rows left out: see the module docstring);
        None for an order that cannot be covered. Maximising coverage a visit improves the
        relaxation when its reduced cost is > 0, minimising cost when it is < 0. Without
        ``helper_part``, the helper's rows' duals are left out: what the visit would be worth
        if it used none of its helper's limits."""
        orders, minutes, load = self._duals()
        out: list[np.ndarray | None] = []
        for ctx in self.contexts:
            e = self.pool.orders[ctx.index]
            if not len(e.helpers) or self.covered[ctx.index].ub() == 0:
                out.append(None)
                continue
            used = np.zeros(len(e.helpers), dtype=np.float64)
            used += self.team_row[ctx.index].dual_value()
            if ctx.index in self.lead_row:
                used += e.lead * self.lead_row[ctx.index].dual_value()
            if ctx.index in self.language_row:
                used += e.speaks * self.language_row[ctx.index].dual_value()
            if helper_part:
                h = e.helpers
                used += orders[h] + e.minutes * minutes[h] - load[h]
            out.append((e.cost if with_cost else 0.0) - used)
        return out

    def _price(self, with_cost: bool) -> tuple[list[tuple[int, int]], float, float]:
        """Reduced costs of every eligible visit not in the relaxation. Returns the visits that
        improve it (most improving first, ``ADD_PER_ORDER`` per order), the Lagrangian
        correction (what the visits not added could still improve it by, in objective units), the
        least improvement-free margin over visits outside the candidate lists (best_out)."""
        sign = 1.0 if with_cost else -1.0  # improvement = -rc (max) or rc < 0 (min)
        chosen: list[tuple[int, int]] = []
        correction, best_out = 0.0, -math.inf if not with_cost else math.inf
        by_helper = np.zeros(len(self.problem.helpers))  # each helper's best improvement
        for ctx, reduced in zip(self.contexts, self.reduced_costs(with_cost), strict=True):
            if reduced is None:
                continue
            h = self.pool.orders[ctx.index].helpers
            inside, out_of_lists = self.inside[ctx.index], ~self.listed[ctx.index]
            if out_of_lists.any():
                values = reduced[out_of_lists]
                best_out = (
                    min(best_out, float(values.min()))
                    if with_cost
                    else max(best_out, float(values.max()))
                )
            gain = -sign * reduced  # > 0: the visit would improve the relaxation
            gain[inside] = 0.0
            top = float(gain.max())
            if top > EPS:
                correction += ctx.team * top
                np.maximum.at(by_helper, h, gain)
                for position in np.argsort(-gain)[:ADD_PER_ORDER].tolist():
                    if gain[position] > EPS:
                        chosen.append((ctx.index, position))
        # The visits not added improve the relaxation by at most sum(gain x visit): at most
        # team size x best gain per order, and at most max_orders x best gain per helper.
        per_helper = float(np.dot(by_helper, self.pool.max_orders))
        return chosen, min(correction, per_helper), best_out  # best_out +-inf: none outside

    def _grow(
        self, maximise: bool, deadline: float, scale: float, keep_last: bool = False
    ) -> tuple[float | None, int, bool, float]:
        """Solve, price, add improving visits, repeat; returns (bound, rounds, converged,
        best_out), the bound including the correction for visits never added. Every round's
        corrected value bounds the full relaxation, so when stopped early the best of them is
        returned (the last one is usually, not always, the best)."""
        rounds, best = 0, None
        while True:
            if self.solver.Solve() != pywraplp.Solver.OPTIMAL:
                return (None if best is None else best / scale), rounds, False, 0.0
            value = self.last_value = self.solver.Objective().Value()
            if maximise:  # read before any column joins (GLOP forgets the solution then)
                self.coverage_duals = self._duals()[:2]
            chosen, correction, best_out = self._price(with_cost=not maximise)
            rounds += 1
            corrected = value + correction if maximise else value - correction
            if best is None or (corrected < best if maximise else corrected > best):
                best = corrected
            log.debug(
                "round %d: relaxation %.2f, correction %.2f, %d visits to add, %d columns",
                rounds,
                value / scale,
                correction / scale,
                len(chosen),
                self.column_count,
            )
            stopping = rounds >= MAX_ROUNDS or time.perf_counter() > deadline
            if self.keep_exact and (not chosen or stopping):  # before any column joins
                self.exact[maximise] = self.exact_visits(with_cost=not maximise)
            if not chosen:
                return value / scale, rounds, True, best_out / scale
            if stopping:
                if keep_last:  # the last round's visits join, unsolved (``widen``)
                    self.add_visits(chosen)
                return best / scale, rounds, False, best_out / scale
            self.add_visits(chosen)

    def add_visits(self, chosen: list[tuple[int, int]]) -> None:
        """Columns for these (order, pool position) visits, and the clique rows they join."""
        new: set[tuple[int, int]] = set()
        for o, position in chosen:
            ctx = self.contexts[o]
            candidate = self.pool.candidate(ctx, position)
            self.assign[(o, candidate.helper)] = self._add_column(ctx, candidate)
            self.inside[o][position] = True
            visit = (o, len(self.lists[o].candidates))
            self.lists[o].candidates.append(candidate)
            self.visits.setdefault(candidate.helper, []).append(visit)
            new.add(visit)
        touched = {self.lists[o].candidates[k].helper for o, k in new}
        self._cliques({h: self.visits[h] for h in touched}, frozenset(new))

    def coverage_bound(
        self, deadline: float, keep_last: bool = False
    ) -> tuple[float | None, int, bool, float]:
        if self.level_row is not None:
            self.level_row.SetLb(-self.solver.infinity())
        self.minimising = False
        self.solver.Maximize(self.coverage)  # clears the cost objective, if any
        grown = self._grow(True, deadline, 1.0, keep_last)
        if grown[2] and grown[0] is not None:
            self.coverage_converged = (grown[0], grown[3])
        return grown

    def cost_bound(
        self, coverage_level: int, deadline: float, keep_last: bool = False
    ) -> tuple[float | None, int, bool, float]:
        s = self.solver
        if self.level_row is None:
            terms = [(self.covered[ctx.index], ctx.weight) for ctx in self.contexts]
            self.level_row = _row(s, coverage_level - EPS, s.infinity(), terms)
        self.level_row.SetLb(coverage_level - EPS)
        objective = s.Objective()
        objective.Clear()
        self.minimising = True
        for var, cost in self.assign.values():
            objective.SetCoefficient(var, cost)
        for extras in self.extras.values():
            self._load_costs(extras)
        objective.SetMinimization()
        return self._grow(False, deadline, COST_SCALE, keep_last)


def _row(
    solver: pywraplp.Solver,
    lower: float,
    upper: float,
    terms: Sequence[tuple[pywraplp.Variable, float]],
) -> pywraplp.Constraint:
    row = solver.Constraint(lower, upper)
    for var, coefficient in terms:
        row.SetCoefficient(var, coefficient)
    return row


def candidate_bounds(stages: tuple[Stage, ...]) -> tuple[float, float] | None:
    """CP-SAT's (coverage upper, cost lower) bounds over the candidate lists, from a solve's
    stages, when both stages found a plan (a stage without one reports no valid bound)."""
    found = (Status.OPTIMAL, Status.FEASIBLE)
    named = {s.name: s for s in stages}
    coverage, cost = named.get("coverage"), named.get("cost")
    if coverage is None or cost is None or coverage.status not in found:
        return None
    if cost.status not in found:
        return None
    return coverage.bound, cost.bound


def widen(
    problem: Problem,
    weights: ObjectiveWeights,
    eligibility: Eligibility,
    contexts: list[OrderContext],
    time_limit_s: float,
    start: Mapping[int, Plan] | None = None,
    workers: int = 1,
) -> int:
    """Column generation into CP-SAT: price the full problem's relaxation (coverage, then cost at
    ``WIDEN_LEVEL`` of the coverage bound) and add to ``contexts``' candidate lists every eligible
    visit it brought in: the visits that could raise coverage or lower cost beyond the nearest
    few. Then, on streets small enough (``MIP_VISITS``), HiGHS's MIP over every eligible visit
    without start times (``matcher.full_mip``) from ``start`` (the plan CP-SAT is hinted with):
    the visits of its best solution join the lists too, and its bound is the certificate's
    coverage bound. The pricing gets ``WIDEN_LP_SHARE`` of the time when the MIP runs, else all.
    Returns how many visits were added. The relaxation (and the MIP) are kept for ``certify`` on
    the same ``eligibility`` and ``contexts`` (it starts where this one stopped)."""
    began = time.perf_counter()
    pool = _Pool(problem, weights, eligibility, contexts)
    lp = _Lp(problem, contexts, weights, pool)
    with_mip = mip_applies(pool.eligible)
    lp.keep_exact = with_core = core_applies(pool.eligible)
    lp_s = time_limit_s * (WIDEN_LP_SHARE if with_mip else 1.0)
    if with_core:
        lp_s = max(0.0, time_limit_s - CORE_WIDEN_S)
    # With the core, the coverage rounds may take all of it: the core is only as tight as the
    # duals it is cut by (converged, it proved the full MIP's optimum on town 0).
    half = began + (lp_s if with_core else lp_s / 2)
    upper, _, _, _ = lp.coverage_bound(half, keep_last=True)
    # The cost rounds only when time is left: their first solve is the slowest (a busy machine).
    if upper is not None and time.perf_counter() < began + lp_s:
        level = math.floor(WIDEN_LEVEL * lp.last_value)  # reached by the relaxation itself
        lp.cost_bound(level, began + lp_s, keep_last=True)
    added = 0
    for ctx in contexts:
        new = np.flatnonzero(lp.inside[ctx.index] & ~lp.listed[ctx.index])
        for position in new.tolist():
            ctx.candidates.append(pool.candidate(ctx, position))
        added += len(new)
        lp.listed[ctx.index] |= lp.inside[ctx.index]
    state: _MipState | None = None
    mip = _full_mip(problem, weights, contexts, pool, began + time_limit_s) if with_mip else None
    if with_core and True in lp.exact:
        mip = core_mip(problem, weights, contexts, pool, lp.exact[True])
    if mip is not None:
        # Coverage from the hint, with HiGHS's heuristics: its best solution's visits join the
        # lists (on pastoral streets the lists' optimum was below the full problem's).
        left = began + time_limit_s - time.perf_counter()
        found = mip.coverage_bound(start or {}, left, workers, search=True)
        state = _MipState(mip, found, BoundMethod.CORE if with_core else BoundMethod.MIP)
        if state.coverage.values is not None:
            added += _add_visits(contexts, pool, lp, mip.visits_of(state.coverage.values))
    _widened[id(eligibility)] = (eligibility, contexts, pool, lp, state)
    while len(_widened) > WIDENED_KEPT:  # a solve that ended without a certificate
        del _widened[next(iter(_widened))]
    log.debug("widened by %d visits in %.2f s", added, time.perf_counter() - began)
    return added


def _widened_mip(
    eligibility: Eligibility,
) -> tuple[list[OrderContext], _Pool, _Lp, _MipState] | None:
    """What ``widen`` kept for the solve on ``eligibility`` (its lists, pool, relaxation and
    HiGHS's state) when it ran HiGHS there (the whole MIP or the core), else None; left for the
    certificate, which takes it."""
    widened = _widened.get(id(eligibility))
    if widened is None or widened[0] is not eligibility or widened[4] is None:
        return None
    return widened[1], widened[2], widened[3], widened[4]


def coverage_cap(eligibility: Eligibility) -> int | None:
    """Where ``widen`` ran the core for the solve on ``eligibility`` (town streets), the best
    upper bound on every plan's weighted coverage it found (the core's, or the converged
    relaxation's), else None: CP-SAT's coverage stage may stop once a plan reaches it
    (``matcher.cpsat.solver.run_cpsat``). Not on streets of the whole MIP (pastoral), where
    CP-SAT proves the lists' optimum by itself in 1-2 s and the cap made that stage about a
    second slower (bench/README.md, "Certified plans", ``towncert``)."""
    widened = _widened_mip(eligibility)
    if widened is None or widened[3].method is not BoundMethod.CORE:
        return None
    contexts, _, lp, state = widened
    step = weight_step(contexts)
    caps = []
    if state.coverage.bound is not None:
        caps.append(int(state.coverage.bound))
    if lp.coverage_converged is not None:
        caps.append(floor_to_step(lp.coverage_converged[0], step))
    return min(caps, default=None)


def coverage_start(
    problem: Problem, weights: ObjectiveWeights, eligibility: Eligibility, workers: int
) -> CoverageStart | None:
    """Where ``widen`` ran the core (town streets: ``coverage_cap`` is set), the coverage start
    of CP-SAT's coverage stage (``matcher.cpsat.solver.run_cpsat``): per order, the helpers of
    the best solution HiGHS's coverage MIP over the (widened) candidate lists with start times
    dropped finds from the hint (``FullMip.coverage_bound`` with its heuristics: every visit
    within its helper's day limits and clique rows, only the shared starts, windows and travel
    order left out). Else None. On the 1,500-order town streets the MIP reaches the cap in
    0.6-2 s, and CP-SAT over its visits and the hint's (``narrow_coverage``, about 2,600 of
    8,400 visits) turns it into a plan at the cap, or within 0.1 % of it, in 0.5-1.5 s more
    (bench/README.md, "Certified plans", ``certtown``)."""
    widened = _widened_mip(eligibility)
    if widened is None or widened[3].method is not BoundMethod.CORE:
        return None
    contexts = widened[0]

    def support(plans: Mapping[int, Plan], time_limit_s: float) -> dict[int, set[int]] | None:
        lists = FullMip(problem, weights, contexts)  # the lists as they are now
        found = lists.coverage_bound(plans, time_limit_s, workers, search=True)
        if found.values is None:
            return None
        return {
            o: {c.helper for c in candidates}
            for o, candidates in lists.visits_of(found.values).items()
        }

    return support


def cost_start(
    problem: Problem, weights: ObjectiveWeights, eligibility: Eligibility, workers: int
) -> CostStart | None:
    """Where ``widen`` ran HiGHS (the whole MIP or the core: HiGHS is installed), the cost start
    of CP-SAT's cost stage (``matcher.cpsat.solver.run_cpsat``): the support of the linear
    relaxation of the least cost over the (widened) candidate lists with start times dropped, at
    the coverage stage's level (``FullMip.cost_support``). Else None. On the 1,500-order streets
    the cost stage then starts 1-2 % above the lists' least cost instead of 10-15 % (town), and
    proves it on pastoral streets in 3-4 s instead of 5-8 (bench/README.md, "Certified plans",
    ``towncost``)."""
    widened = _widened_mip(eligibility)
    if widened is None:
        return None
    contexts, _, _, state = widened

    def support(
        plans: Mapping[int, Plan], level: int, time_limit_s: float
    ) -> tuple[dict[int, set[int]], float] | None:
        began = time.perf_counter()
        lists = FullMip(problem, weights, contexts)  # the lists as they are now
        found = lists.cost_support(level, COST_START_LP_SHARE * time_limit_s, workers)
        if found is None or state.method is not BoundMethod.CORE:
            return found
        # Core streets: HiGHS's cost MIP over the lists from the plan, its best solution's
        # visits too, when there is time for its root.
        left = COST_START_MIP_SHARE * time_limit_s - (time.perf_counter() - began)
        if left < COST_START_MIP_LEAST_S:
            return found
        mip = lists.cost_bound(level, plans, left, workers, search=True)
        if mip.values is None:
            return found
        named, relaxed = found
        for o, candidates in lists.visits_of(mip.values).items():
            named.setdefault(o, set()).update(c.helper for c in candidates)
        return named, relaxed

    return support


def _add_visits(
    contexts: list[OrderContext], pool: _Pool, lp: _Lp, visits: Mapping[int, list[Candidate]]
) -> int:
    """Add to the lists the visits (per order) not on them yet; how many were added."""
    added = 0
    for o, candidates in visits.items():
        ctx = contexts[o]
        known = {c.helper for c in ctx.candidates}
        for candidate in candidates:
            if candidate.helper not in known:
                ctx.candidates.append(candidate)
                known.add(candidate.helper)
                added += 1
        lp.listed[o] |= np.isin(pool.orders[o].helpers, list(known))
    return added


@dataclass
class _MipState:
    """The full problem's MIP built by ``widen`` and its coverage bound from the hint."""

    mip: FullMip
    coverage: full_mip.MipBound
    method: BoundMethod  # MIP: every eligible visit; CORE: ``core_mip``


# ``widen``'s relaxations, for the certificates of the solves they widened (by the eligibility's
# id; the certificate takes its own out). At most ``WIDENED_KEPT``, oldest dropped first: a solve
# that ends without a certificate (no plan found) leaves its relaxation behind.
WIDENED_KEPT = 4
_widened: dict[int, tuple[Eligibility, list[OrderContext], _Pool, _Lp, _MipState | None]] = {}


def budget(
    params: SolveParams, orders: int, visits: Callable[[], int] | None = None
) -> tuple[SolveParams, float]:
    """The solve's share of ``params.time_limit_s`` when a certificate is asked for, and the
    seconds of pricing before it (``widen``): ``certify_s`` (at most half the limit) comes out of
    the time limit, so solve and certificate together keep it, and half of it widens the
    candidate lists first. When the full problem's MIP runs (``visits()``, the eligible helper
    visits, at most ``MIP_VISITS``), ``widen`` gets ``MIP_WIDEN_SHARE`` of the solve's time more
    for it, and CP-SAT's coverage stage keeps half of what is left after ``widen`` (its
    ``coverage_time_share`` raised to match). Streets solved by neighbourhoods (above
    ``matcher.lns.LARGE_ORDERS``) keep their whole limit, certified after it as before: their
    search needs every second."""
    if not params.certify_s or orders > LARGE_ORDERS:
        return params, 0.0
    share = min(params.certify_s, params.time_limit_s / 2)
    widen_s = WIDEN_SHARE * share
    count = None if visits is None else visits()
    if count is not None and core_applies(count):
        # The core's coverage run in ``widen``; the certificate after the solve keeps
        # ``CORE_AFTER_SHARE``; CP-SAT's coverage stage ends at ``CORE_COVERAGE_STAGE`` of what
        # is left after ``widen`` (a plan at the core's bound ends it sooner: ``coverage_cap``).
        after = CORE_AFTER_SHARE * share
        solve_s = params.time_limit_s - after
        widen_s += CORE_WIDEN_S
        ends = widen_s + CORE_COVERAGE_STAGE * max(0.0, solve_s - widen_s)
        update = {
            "time_limit_s": solve_s,
            "certify_s": after,
            "coverage_time_share": min(1.0, max(params.coverage_time_share, ends / solve_s)),
        }
        return params.model_copy(update=update), widen_s
    if count is None or not mip_applies(count):
        update = {"time_limit_s": params.time_limit_s - share, "certify_s": share}
        return params.model_copy(update=update), widen_s
    after = MIP_AFTER_SHARE * share  # the cost MIP: 2-3.5 s on pastoral streets, its root 1-2 s
    solve_s = params.time_limit_s - after
    widen_s += MIP_WIDEN_SHARE * solve_s
    cover = params.coverage_time_share
    update = {
        "time_limit_s": solve_s,
        "certify_s": after,
        "coverage_time_share": min(1.0, cover + (1 - cover) * widen_s / solve_s),
    }
    return params.model_copy(update=update), widen_s


def eligible_visits(eligibility: Eligibility, contexts: list[OrderContext]) -> int:
    """Every eligible helper visit of the problem (``Eligibility.ranked``, cached: the
    certificate's pool reuses it), or, when the heads of the rankings (``ranked_head``, already
    there) hold more than ``MIP_VISITS``, their count: the MIP will not run, so the whole
    rankings are left to ``widen``'s own time."""
    heads = [eligibility.ranked_head(ctx) for ctx in contexts]
    least = sum(len(head.indices) for head in heads)
    if least > MIP_VISITS or all(head.complete for head in heads):
        return least
    return sum(len(eligibility.ranked(ctx)[0]) for ctx in contexts)


def core_applies(visits: int) -> bool:
    """Whether the core (``core_mip``) bounds a street with this many eligible helper visits:
    HiGHS installed and more than ``MIP_VISITS`` of them (fewer: the whole MIP)."""
    return visits > MIP_VISITS and full_mip.available()


def mip_applies(visits: int) -> bool:
    """Whether the full problem's MIP (``matcher.full_mip``) runs on a street with this many
    eligible helper visits: HiGHS installed and at most ``MIP_VISITS`` of them."""
    return visits <= MIP_VISITS and full_mip.available()
