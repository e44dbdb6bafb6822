"""Certified plans on 1,500-order streets: how far `solve`'s plan can be from the full problem's
best (every eligible helper), and what the certificate costs in time.

    python bench/certify_bench.py                                   # town + pastoral, seeds 0-2
    python bench/certify_bench.py --kinds town --seeds 0 --time-limit 20 --certify-s 6
    python bench/certify_bench.py --kinds pastoral --seeds 0 --fixed-work 10   # lists vs widened

``town`` is the ``plentiful`` street, ``pastoral`` the pastoral one, both at 1,500 orders. Each run
is a fresh process: ``solve`` with ``--time-limit`` on ``--workers`` workers and
``certify_s=--certify-s`` (``matcher.certificate``): the certificate's share comes out of the time
limit (``matcher.certificate.budget``), part of it pricing visits into the candidate lists before
CP-SAT (``widen``; ``--widen-share 0`` skips that) and, on streets of at most
``matcher.certificate.MIP_VISITS`` eligible visits, HiGHS's MIP over every eligible visit
(``matcher.full_mip``; ``--no-mip`` leaves it out), above it the core
(``matcher.certificate.core_mip``; ``--no-core`` leaves it out). Figures go to the terminal and to
``bench/out/certify.csv``; the load average is read before and after each run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing as mp
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from matcher import certificate, full_mip
from matcher import solve as solve_module
from matcher.candidates import OrderContext
from matcher.certificate import widen
from matcher.cpsat.objective import COST_SCALE, coverage_expression
from matcher.cpsat.solver import Plan, add_hard_rules, add_plan_hint
from matcher.cpsat.variables import make_variables
from matcher.generator import generate_street, preset
from matcher.lagrangian import lagrangian_coverage_bound
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Status
from matcher.solve import solve
from matcher.verify import verify

KINDS = {"town": "plentiful", "pastoral": "pastoral"}


def run_one(
    kind: str,
    seed: int,
    time_limit: float,
    certify_s: float,
    workers: int,
    widen_share: float,
    lagrangian_share: float,
    mip: bool = True,
    core: bool = True,
    cap: bool = True,
    cost_start: bool = True,
    coverage_stage: float | None = None,
    coverage_start: bool = True,
) -> dict[str, Any]:
    """One solve with its certificate on a freshly generated 1,500-order street; ``widen_share``
    of the certificate's seconds price visits into the candidate lists before CP-SAT, and the
    Lagrangian bound runs until ``lagrangian_share`` of the certificate's seconds after it."""
    load_before = os.getloadavg()[0]
    certificate.WIDEN_SHARE = widen_share
    certificate.LAGRANGIAN_SHARE = lagrangian_share
    added = [0]
    # Wall and CPU seconds (this thread's: GLOP and numpy run in it, CP-SAT's workers do not) of
    # each step of the certificate: pricing before the solve, then its coverage and cost rounds.
    steps: dict[str, list[float]] = {}
    phase = [""]  # "widen_" or "certify_" while one of them runs

    def timed(name: str, function: Any, outer: bool = False) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            key = name if outer else phase[0] + name
            if outer:
                phase[0] = name + "_"
            try:
                return function(*args, **kwargs)
            finally:
                phase[0] = "" if outer else phase[0]
                spent = steps.setdefault(key, [0.0, 0.0])
                spent[0] += time.perf_counter() - wall
                spent[1] += time.thread_time() - cpu

        return run

    def counted(*args: Any) -> int:
        added[0] = certificate.widen(*args)
        return added[0]

    solve_module.widen = timed("widen", counted, outer=True)  # type: ignore[assignment]
    solve_module.certify = timed("certify", certificate.certify, outer=True)  # type: ignore[assignment]
    lp_class = certificate._Lp
    lp_class.coverage_bound = timed("coverage", lp_class.coverage_bound)  # type: ignore[method-assign]
    lp_class.cost_bound = timed("cost", lp_class.cost_bound)  # type: ignore[method-assign]
    # HiGHS's runs over every eligible visit (``matcher.full_mip``): widen_mip_coverage before the
    # solve, certify_mip_coverage / certify_mip_cost after it.
    mip_class = full_mip.FullMip
    mip_class.coverage_bound = timed("mip_coverage", mip_class.coverage_bound)  # type: ignore[method-assign]
    mip_class.cost_bound = timed("mip_cost", mip_class.cost_bound)  # type: ignore[method-assign]
    if not mip:
        certificate.MIP_VISITS = -1  # as without HiGHS: the relaxation alone
    if not mip or not core:  # above MIP_VISITS (town): the relaxation alone, as before the core
        certificate.core_applies = lambda visits: False  # type: ignore[assignment]
    if not cap:  # CP-SAT's coverage stage without the certificate's cap
        solve_module.coverage_cap = lambda eligibility: None  # type: ignore[assignment]
    if not cost_start:  # CP-SAT's cost stage from the coverage stage's plan, as before
        solve_module.cost_start = lambda *args: None  # type: ignore[assignment]
    if coverage_stage is not None:  # where the coverage stage ends on core streets
        certificate.CORE_COVERAGE_STAGE = coverage_stage
    if not coverage_start:  # CP-SAT's coverage stage from the hint alone, as before
        solve_module.coverage_start = lambda *args: None  # type: ignore[assignment]
    # The certificate's last cost rounds: (relaxation's value, rounds, converged, least reduced
    # cost of a visit outside the lists); the cost bound is min(CP-SAT's bound on the lists,
    # value + max(0, least reduced cost)) when converged (``certify``).
    cost_rounds: list[tuple[Any, ...]] = []
    timed_cost = lp_class.cost_bound

    def kept_cost(*args: Any, **kwargs: Any) -> Any:
        out = timed_cost(*args, **kwargs)
        if phase[0] == "certify_":
            # Outside the lists: visits the relaxation holds at reduced cost < 0 (a plan using
            # one gains no lift from it) and the least reduced cost of those it does not hold.
            lp, held, least = args[0], 0, math.inf
            for o, reduced in enumerate(lp.reduced_costs(True)):
                if reduced is not None:
                    out_of_lists = ~lp.listed[o]
                    held += int((reduced[out_of_lists & lp.inside[o]] < -1e-6).sum())
                    rest = reduced[out_of_lists & ~lp.inside[o]]
                    least = min(least, float(rest.min())) if len(rest) else least
            cost_rounds.append((*out, held, least / COST_SCALE))
        return out

    lp_class.cost_bound = kept_cost  # type: ignore[method-assign]
    problem = generate_street(preset(KINDS[kind], seed=seed, orders=1500))
    params = SolveParams(time_limit_s=time_limit, workers=workers, seed=seed, certify_s=certify_s)
    began = time.perf_counter()
    result = solve(problem, params)
    wall = time.perf_counter() - began
    c = result.certificate
    stages = {s.name: s for s in result.stages}
    row: dict[str, Any] = {
        "kind": kind,
        "seed": seed,
        "helpers": len(problem.helpers),
        "time_limit_s": time_limit,
        "certify_s": certify_s,
        "widen_share": widen_share,
        "lagrangian_share": lagrangian_share,
        "mip": mip,
        "core": core,
        "cap": cap,
        "cost_start": cost_start,
        "coverage_start": coverage_start,
        "core_coverage_stage": certificate.CORE_COVERAGE_STAGE,
        "widened_visits": added[0],
        "coverage_stage": str(stages["coverage"].status) if "coverage" in stages else "",
        "cost_stage": str(stages["cost"].status) if "cost" in stages else "",
        "coverage_stage_s": round(stages["coverage"].runtime_s, 2) if "coverage" in stages else "",
        "coverage_stage_value": stages["coverage"].objective if "coverage" in stages else "",
        "cost_stage_s": round(stages["cost"].runtime_s, 2) if "cost" in stages else "",
        "solve_s": round(result.runtime_s, 2),
        "wall_s": round(wall, 2),
        "violations": len(verify(problem, result)),
        "load": f"{load_before:.1f}-{os.getloadavg()[0]:.1f}",
    }
    # widen_coverage, widen_cost: its coverage and cost rounds; certify_...: the certificate's.
    for name, (wall_s, cpu_s) in steps.items():
        row[f"{name}_wall_s"], row[f"{name}_cpu_s"] = round(wall_s, 2), round(cpu_s, 2)
    if c is not None:
        row |= {
            "coverage": c.coverage,
            "coverage_bound": c.coverage_bound,
            "coverage_gap_pct": round(100 * c.coverage_gap, 3),
            "coverage_by": str(c.coverage_method),
            "cost": c.cost,
            "cost_bound": c.cost_bound,
            "cost_gap_pct": round(100 * c.cost_gap, 2),
            "cost_by": str(c.cost_method),
            "within_pct": round(100 * c.within, 2),
            "certificate_s": round(c.runtime_s, 2),
            "rounds": c.rounds,
            "columns": c.columns,
            "eligible": c.eligible,
            "converged": c.converged,
        }
    if "cost" in stages:
        row["lists_cost_bound"] = round(stages["cost"].bound, 4)
        row["lists_cost_proven"] = str(stages["cost"].status) == str(Status.OPTIMAL)
    if cost_rounds:
        lower, _, cost_converged, cheapest_out, held, least = cost_rounds[-1]
        row["outside_held_negative"] = held
        row["least_rc_not_held"] = round(least, 4) if math.isfinite(least) else None
        row["lp_cost"] = None if lower is None else round(lower, 4)
        row["lp_cost_converged"] = cost_converged
        row["least_outside_rc"] = round(cheapest_out, 4) if math.isfinite(cheapest_out) else None
    return row


def fixed_work(kind: str, seed: int, deterministic_s: float, widened: bool) -> dict[str, Any]:
    """CP-SAT's coverage stage alone at fixed work (1 worker, ``deterministic_s`` of CP-SAT
    deterministic time, hinted with the hand rule's plan), on the candidate lists with or without
    ``widen``'s visits (priced to convergence first): what pricing into the lists is worth,
    whatever the load."""
    load_before = os.getloadavg()[0]
    problem = generate_street(preset(KINDS[kind], seed=seed, orders=1500))
    params = SolveParams(workers=1, seed=seed)
    eligibility, contexts, greedy = solve_module.prepare(problem, params)
    added = widen(problem, params.weights, eligibility, contexts, 600) if widened else 0
    status, coverage, bound = coverage_at_fixed_work(
        problem, contexts, greedy.assignments, seed, deterministic_s
    )
    return {
        "kind": kind,
        "seed": seed,
        "widened_visits": added,
        "visits": sum(len(c.candidates) for c in contexts),
        "deterministic_s": deterministic_s,
        "status": status,
        "coverage": coverage,
        "lists_bound": bound,
        "load": f"{load_before:.1f}-{os.getloadavg()[0]:.1f}",
    }


def coverage_at_fixed_work(
    problem: Problem,
    contexts: list[OrderContext],
    hint: Mapping[int, Plan],
    seed: int,
    deterministic_s: float,
) -> tuple[str, float, float]:
    """CP-SAT's coverage stage over ``contexts``' lists on 1 worker for ``deterministic_s`` of
    deterministic time, hinted: (status, best coverage, CP-SAT's bound over the lists)."""
    model = cp_model.CpModel()
    v = make_variables(model, contexts)
    add_hard_rules(model, problem, contexts, v)
    model.maximize(coverage_expression(contexts, v))
    add_plan_hint(model, contexts, v, hint)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = deterministic_s
    status = solver.solve(model)
    return solver.status_name(status), solver.objective_value, solver.best_objective_bound


def probe(
    kind: str, seed: int, deterministic_s: float, samples: int, lagrangian_s: float = 0.0
) -> dict[str, Any]:
    """Could reduced costs carry CP-SAT's proof over the widened lists to the full problem?

    Prices the full relaxation to convergence (``widen``, then the coverage rounds), takes CP-SAT's
    plan over the widened lists at fixed work as the incumbent, and counts the eligible visits
    outside the lists that reduced-cost fixing excludes (a plan using visit j covers at most
    relaxation + its reduced cost; excluded when that is not above the incumbent). Then, for
    ``samples`` visits it does not exclude, the relaxation with that visit forced in (probing):
    that value is the best bound *any* dual solution of the relaxation can give for plans using
    the visit (LP duality), so if probing excludes none, no choice among the duals will. The same
    for cost at the incumbent's coverage: the visits whose reduced cost is under 1 % of the cost
    relaxation (none of them could be excluded for a 1 % cost certificate). CPU seconds per step."""
    load_before = os.getloadavg()[0]
    problem = generate_street(preset(KINDS[kind], seed=seed, orders=1500))
    params = SolveParams(workers=1, seed=seed)
    eligibility, contexts, greedy = solve_module.prepare(problem, params)
    listed_before = sum(len(c.candidates) for c in contexts)
    cpu = time.process_time()
    added = widen(problem, params.weights, eligibility, contexts, 600)
    lp = certificate._widened.pop(id(eligibility))[3]
    for _ in range(20):  # to convergence (each call stops after ``MAX_ROUNDS`` rounds)
        if lp.coverage_bound(time.perf_counter() + 600)[2]:
            break
    relaxed = lp.last_value
    widen_cpu = time.process_time() - cpu
    print(f"  relaxation {relaxed:.1f} after {widen_cpu:.1f} s CPU", flush=True)
    helper_duals = lp._duals()[:2]
    # Visits outside the lists whose probe equals the relaxation by the module docstring's
    # argument: helper idle in the relaxed plan, order fully covered, lead and language held.
    busy = np.zeros(len(problem.helpers), dtype=bool)
    for (_, helper), (var, _) in lp.assign.items():
        busy[helper] |= var.solution_value() > 1e-6
    swappable = 0
    for ctx in contexts:
        e = lp.pool.orders[ctx.index]
        if lp.covered[ctx.index].solution_value() < 1 - 1e-6:
            continue
        fits = ~lp.listed[ctx.index] & ~busy[e.helpers]
        if ctx.needs_lead:
            fits &= e.lead
        if ctx.needs_language:
            fits &= e.speaks
        swappable += int(fits.sum())
    cpu = time.process_time()
    status, incumbent, lists_bound = coverage_at_fixed_work(
        problem, contexts, greedy.assignments, seed, deterministic_s
    )
    cpsat_cpu = time.process_time() - cpu
    print(f"  incumbent {incumbent} ({status}, lists' bound {lists_bound})", flush=True)
    lagrangian: dict[str, Any] = {}
    if lagrangian_s:
        cpu = time.process_time()
        bound, value, lagrangian_status = lagrangian_coverage_bound(
            problem,
            contexts,
            lp.pool,
            lp.listed,
            helper_duals,
            greedy.assignments,
            seed,
            lagrangian_s,
        )
        lagrangian = {
            "lagrangian_bound": round(bound, 1),
            "lagrangian_value": round(value, 1),
            "lagrangian_status": lagrangian_status,
            "lagrangian_cpu_s": round(time.process_time() - cpu, 1),
        }
        print(f"  lagrangian {lagrangian}", flush=True)
    outside, zero, fixable = 0, 0, 0
    kept: list[tuple[int, int]] = []
    for o, reduced in enumerate(lp.reduced_costs(False)):
        if reduced is None:
            continue
        for position in np.flatnonzero(~lp.listed[o]).tolist():
            outside += 1
            d = float(reduced[position])
            zero += d > -1e-6
            if math.floor(relaxed + d + 1e-6) <= incumbent:
                fixable += 1
            else:
                kept.append((o, position))
    cpu = time.process_time()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(kept), size=min(samples, len(kept)), replace=False)
    drops, probe_fixable = [], 0
    for pick in picks.tolist():
        o, position = kept[pick]
        lp.add_visits([(o, position)])
        var = lp.assign[(o, int(lp.pool.orders[o].helpers[position]))][0]
        var.SetLb(1)
        solved = lp.solver.Solve() == pywraplp.Solver.OPTIMAL
        forced = lp.solver.Objective().Value() if solved else -math.inf
        var.SetLb(0)
        drops.append(relaxed - forced if solved else math.inf)
        probe_fixable += forced == -math.inf or math.floor(forced + 1e-6) <= incumbent
    probe_cpu = time.process_time() - cpu
    print(f"  {outside} outside, {zero} at 0, {fixable} fixable, probes {drops}", flush=True)
    lp.solver.Solve()  # back to the relaxation's optimum (the forced columns are free again)
    cpu = time.process_time()
    for _ in range(20):
        if lp.cost_bound(int(incumbent), time.perf_counter() + 600)[2]:
            break
    cost_relaxed = lp.last_value
    cost_cpu = time.process_time() - cpu
    below_1pct = zero_cost = cost_outside = 0
    for o, reduced in enumerate(lp.reduced_costs(True)):
        if reduced is None:
            continue
        values = reduced[~lp.listed[o]]
        cost_outside += len(values)
        below_1pct += int((values < 0.01 * cost_relaxed).sum())
        zero_cost += int((values < 1e-6).sum())
    return {
        "kind": kind,
        "seed": seed,
        "lists": listed_before,
        "widened_visits": added,
        "eligible": lp.pool.eligible,
        "relaxation": round(relaxed, 1),
        "incumbent": incumbent,
        "cpsat_status": status,
        "lists_bound": lists_bound,
        "gap": round(relaxed - incumbent, 1),
        "outside": outside,
        "reduced_zero": zero,
        "swappable": swappable,
        "rc_fixable": fixable,
        "probed": len(drops),
        "probe_fixable": probe_fixable,
        "probe_drop_max": round(max(drops, default=0.0), 2),
        "probe_drop_median": round(float(np.median(drops)) if drops else 0.0, 2),
        "cost_relaxation": round(cost_relaxed / COST_SCALE, 1),
        "cost_outside": cost_outside,
        "cost_rc_zero": zero_cost,
        "cost_rc_below_1pct": below_1pct,
        **lagrangian,
        "widen_cpu_s": round(widen_cpu, 1),
        "cpsat_cpu_s": round(cpsat_cpu, 1),
        "probe_cpu_s": round(probe_cpu, 1),
        "cost_cpu_s": round(cost_cpu, 1),
        "load": f"{load_before:.1f}-{os.getloadavg()[0]:.1f}",
    }


def in_child(function: Any, *args: Any) -> dict[str, Any]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--kinds", default="town,pastoral")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--certify-s", type=float, default=certificate.CERTIFY_S)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--widen-share",
        type=float,
        default=certificate.WIDEN_SHARE,
        help="share of --certify-s pricing visits into the candidate lists before CP-SAT (where "
        "the MIP runs, pricing takes certificate.WIDEN_LP_SHARE of widen's time instead)",
    )
    parser.add_argument(
        "--lagrangian-share",
        type=float,
        default=certificate.LAGRANGIAN_SHARE,
        help="share of the certificate's seconds after the solve by which the Lagrangian bound "
        "must be done (0: left out)",
    )
    parser.add_argument(
        "--fixed-work",
        type=float,
        default=0.0,
        help="instead: coverage stage alone at this much deterministic time, lists vs widened",
    )
    parser.add_argument(
        "--probe",
        type=int,
        default=0,
        help="instead: reduced-cost fixing and this many probes against the full relaxation "
        "(with --fixed-work deterministic seconds for the incumbent, 10 by default)",
    )
    parser.add_argument(
        "--lagrangian",
        type=float,
        default=0.0,
        help="with --probe: also the Lagrangian bound integral on the lists (deterministic s)",
    )
    parser.add_argument(
        "--no-mip",
        action="store_true",
        help="without the full problem's MIP nor its core (HiGHS): the relaxation alone",
    )
    parser.add_argument(
        "--no-core",
        action="store_true",
        help="without the core on streets above MIP_VISITS (town): the relaxation, as before",
    )
    parser.add_argument(
        "--no-cap",
        action="store_true",
        help="without the certificate's cap on CP-SAT's coverage stage (coverage_cap)",
    )
    parser.add_argument(
        "--no-cost-start",
        action="store_true",
        help="without the cost start (the cost relaxation's support, matcher.cpsat.solver."
        "narrow_cost): CP-SAT's cost stage from the coverage stage's plan, as before",
    )
    parser.add_argument(
        "--no-coverage-start",
        action="store_true",
        help="without the coverage start (HiGHS's coverage MIP over the lists, matcher.cpsat."
        "solver.narrow_coverage): CP-SAT's coverage stage from the hint, as before",
    )
    parser.add_argument(
        "--coverage-stage",
        type=float,
        default=None,
        help="certificate.CORE_COVERAGE_STAGE: where CP-SAT's coverage stage ends on core streets",
    )
    parser.add_argument("--out", default="bench/out/certify.csv")
    args = parser.parse_args()
    rows = []
    for kind in args.kinds.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            runs: list[tuple[Any, ...]]
            if args.probe:
                work = args.fixed_work or 10.0
                runs = [(probe, kind, seed, work, args.probe, args.lagrangian)]
            elif args.fixed_work:
                runs = [(fixed_work, kind, seed, args.fixed_work, w) for w in (False, True)]
            else:
                one = (kind, seed, args.time_limit, args.certify_s, args.workers)
                shares = (args.widen_share, args.lagrangian_share)
                flags: tuple[Any, ...] = (not args.no_mip, not args.no_core, not args.no_cap)
                flags += (not args.no_cost_start, args.coverage_stage, not args.no_coverage_start)
                runs = [(run_one, *one, *shares, *flags)]
            for run in runs:
                row = in_child(*run)
                rows.append(row)
                print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    print(f"written {out}")


if __name__ == "__main__":
    main()
