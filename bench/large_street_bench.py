"""Large streets at the nightly limit: CP-SAT (``solve``) against the hand rule, quiet and busy.

    python bench/large_street_bench.py                                  # the whole grid
    python bench/large_street_bench.py --sizes 5000 --kinds town --seeds 0 --modes busy

The grid is sizes x kinds x seeds x modes. ``town`` is the ``plentiful`` street scaled (two
helpers per order: 10,000 helpers for 5,000 orders), ``pastoral`` the pastoral one. In ``busy``
mode the bench starts its own CPU burners, one per core, for the length of the solve (each stops
by itself after ``2 x time limit + 60`` s at most). Each run is a fresh process. Every plan is
checked by the independent verifier. Per run it prints weighted coverage and km per covered order
of the hand rule and of ``solve``, the bounds the solve reports, whether the cost stage improved
on the coverage stage's plan, and whether the plan is at least the hand rule's (coverage no lower,
km per covered order no higher). Rows also go to ``bench/out/large_streets.csv``.

Time columns: ``search s`` is the two stages' runtimes, ``other s`` the rest of the wall time
(preparation before the search, explanation and result after it), ``over s`` how far the wall
time went past the limit (``matcher.lns.finish_times``: the cheap part of the explanations may
run a little past it; bench/README.md). ``steps`` is improving / all window steps, ``advised``
the unmatched orders whose explanation has a next step. ``cov bound`` is the best coverage bound
known for the candidate lists: with ``--bound lp`` or ``--bound mip`` (computed after the solve
and outside its time; see ``offline_bounds``) the best of that, what ``solve`` reports and any
bound an earlier run kept for the street's candidate lists (``cached_bound``: a MIP bound found
once is used by every later run over the same lists).

``--bound mip`` is the strongest: the day-plan model of ``matcher.bound`` (every helper picks
one of their day plans; only a team's shared start is relaxed) with integral columns, solved by
HiGHS through OR-Tools' linear solver wrapper, and its proven dual bound taken (valid at any time
limit). The coverage bound depends only on the street's candidate lists, so it is kept in
``bench/out/large_bounds.json`` under the street and a fingerprint of its lists (``lists_key``)
and shared by the runs over them (quiet and busy); the cost bound (at the plan's coverage) is
computed per run.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing as mp
import os
import re
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from matcher.cpsat.objective import COST_SCALE
from matcher.generator import generate_street, preset
from matcher.lns import plan_value
from matcher.metrics import summarize
from matcher.params import SolveParams
from matcher.solve import prepare, solve, solve_greedy
from matcher.verify import verify

console = Console(width=230)
KINDS = {"town": "plentiful", "pastoral": "pastoral", "scarce": "scarce"}


def burn(seconds: float) -> None:
    """A CPU-bound loop that stops by itself."""
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003


def _load() -> float:
    return os.getloadavg()[0]


BOUNDS_FILE = Path("bench/out/large_bounds.json")


def offline_bounds(
    problem: Any,
    params: SolveParams,
    contexts: list[Any],
    coverage_level: float,
    how: str,
    limit_s: float,
    key: str,
    cap: tuple[float, int] | None = None,
    cache: Path | None = BOUNDS_FILE,
) -> tuple[float | None, float | None, float]:
    """(coverage upper bound, cost lower bound at ``coverage_level``, seconds) for the candidate
    lists ``contexts``: ``matcher.bound``'s day-plan relaxation solved as an LP (``how="lp"``,
    HiGHS' LP solver) or with integral columns (``"mip"``, HiGHS' branch and bound, its dual
    bound taken after at most ``limit_s`` per solve). Both are valid bounds on every plan over
    these lists; the MIP's is tighter (only a team's shared start is relaxed).

    ``cap`` (the hand rule's km and covered orders): one more row, no more km per covered order
    than the hand rule's, which every plan ``solve`` may return keeps (``matcher.lns``): the
    bounds then hold for those plans, the ones the issue asks about, and are cached apart.

    ``cache``: the file keeping the coverage bounds by ``key`` (None: neither read nor kept)."""
    from ortools.linear_solver import pywraplp

    import matcher.bound as bound_module

    began = time.perf_counter()
    cached = json.loads(cache.read_text()) if cache is not None and cache.exists() else {}
    name = "HIGHS" if how == "mip" else "HIGHS_LP"
    create = pywraplp.Solver.CreateSolver
    bound_module.pywraplp.Solver.CreateSolver = staticmethod(lambda _: create(name))  # type: ignore[method-assign]
    try:
        relaxation = bound_module._Relaxation(problem, contexts)
    finally:
        bound_module.pywraplp.Solver.CreateSolver = create  # type: ignore[method-assign]
    solver = relaxation.solver
    if cap is not None:
        km, orders = cap
        key = f"{key}/capped"
        terms = [
            orders * candidate.leg.km_round_trip * relaxation.assign[ctx.index][k]
            for ctx in contexts
            for k, candidate in enumerate(ctx.candidates)
        ]
        # (a hair looser than the hand rule's own figure: never a tighter row than it keeps)
        terms += [-km * (1 + 1e-9) * covered for covered in relaxation.covered]
        solver.Add(solver.Sum(terms) <= 0)
    if how == "mip":
        for var in solver.variables():
            var.SetInteger(True)
    solver.SetTimeLimit(int(limit_s * 1000))

    integral = how == "mip"

    def dual() -> float | None:  # the relaxation's own ``_run``, with the dual bound read
        if solver.Solve() not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            return None
        return solver.Objective().BestBound() if integral else solver.Objective().Value()

    relaxation._run = dual  # type: ignore[method-assign]
    coverage = cached.get(f"{key}/{how}")
    if coverage is None:
        coverage = relaxation.solve_coverage()
        if coverage is not None and cache is not None:
            cached = json.loads(cache.read_text()) if cache.exists() else {}
            cached[f"{key}/{how}"] = coverage
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(cached, indent=1, sort_keys=True))
    cost = relaxation.solve_cost(coverage_level, params)
    if cost is None and integral:  # no integral plan in time: the LP's bound then
        integral = False
        for var in solver.variables():
            var.SetInteger(False)
        value = dual()
        cost = None if value is None else value / COST_SCALE
    return coverage, cost, time.perf_counter() - began


def lists_key(kind: str, orders: int, seed: int, contexts: list[Any]) -> str:
    """The street and a fingerprint of its candidate lists and weights: a kept bound holds only
    for the lists it was found over, so a change of the generator or the lists makes new keys."""
    lists = [(ctx.order.id, ctx.weight, [c.helper for c in ctx.candidates]) for ctx in contexts]
    digest = hashlib.sha1(json.dumps(lists).encode()).hexdigest()[:12]
    return f"{kind}/{orders}/{seed}/{digest}"


def cached_bound(key: str) -> float | None:
    """The best coverage bound kept in ``BOUNDS_FILE`` for the lists of ``key`` (an earlier
    ``--bound lp`` or ``--bound mip`` run; capped bounds aside, they hold only for the capped
    plans), so a run with ``--bound lp`` still compares against a MIP bound found before."""
    if not BOUNDS_FILE.exists():
        return None
    found = [
        float(v)
        for k, v in json.loads(BOUNDS_FILE.read_text()).items()
        if k.startswith(f"{key}/") and "capped" not in k and v is not None
    ]
    return min(found) if found else None


def run_one(
    kind: str,
    orders: int,
    seed: int,
    mode: str,
    limit: float,
    workers: int,
    bound: str = "none",
    bound_limit: float = 120.0,
    capped: bool = False,
) -> dict:
    problem = generate_street(preset(KINDS[kind], seed=seed, orders=orders))
    params = SolveParams(time_limit_s=limit, workers=workers, seed=seed)
    greedy = solve_greedy(problem, params)
    costs: list[float] = []

    def progress(stage: str, objective: float, bound: float, elapsed: float) -> None:
        if stage == "cost":
            costs.append(objective)

    burners = []
    if mode == "busy":
        ctx = mp.get_context("fork")
        burners = [ctx.Process(target=burn, args=(2 * limit + 60,)) for _ in range(2)]
        for b in burners:
            b.start()
    load_before = _load()
    began = time.perf_counter()
    result = solve(problem, params, progress)
    wall = time.perf_counter() - began
    load_after = _load()
    for b in burners:
        b.terminate()
        b.join()
    g, r = summarize(problem, greedy), summarize(problem, result)
    _, contexts, _ = prepare(problem, params)
    key = lists_key(kind, orders, seed, contexts)
    index = {c.order.id: c.index for c in contexts}
    helper = {h.id: i for i, h in enumerate(problem.helpers)}

    def cost(res: Any) -> float:
        plans = {index[a.order]: ([helper[h] for h in a.helpers], a.start) for a in res.assignments}
        return plan_value(problem, contexts, plans, params.weights)[1] / 100

    g_km = g.travel_km_total / max(1, g.orders_covered)
    r_km = r.travel_km_total / max(1, r.orders_covered)
    stages = {s.name: s for s in result.stages}
    cov_stage, cost_stage = stages.get("coverage"), stages.get("cost")
    improved = bool(costs) and costs[-1] < costs[0] - 1e-6
    search_s = sum(s.runtime_s for s in result.stages if s.name in ("coverage", "cost"))
    steps = re.search(r"(\d+) of (\d+) steps", result.message)
    lp_cov = lp_cost = None
    bound_s = 0.0
    if bound != "none":
        covered = float(result.weighted_coverage)
        cap = (g.travel_km_total, g.orders_covered) if capped else None
        lp_cov, lp_cost, bound_s = offline_bounds(
            problem, params, contexts, covered, bound, bound_limit, key, cap
        )
    best_cov_bound = min(
        b
        for b in (
            cov_stage.bound if cov_stage else None,
            lp_cov,
            cached_bound(key),
        )
        if b is not None
    )
    best_cost_bound = max(
        b for b in (cost_stage.bound if cost_stage else None, lp_cost, 0.0) if b is not None
    )
    return {
        "kind": kind,
        "orders": orders,
        "helpers": len(problem.helpers),
        "seed": seed,
        "mode": mode,
        "limit_s": limit,
        "load_1min": f"{load_before:.1f}-{load_after:.1f}",
        "greedy_coverage": greedy.weighted_coverage,
        "coverage": result.weighted_coverage,
        "gain_pct": round(100 * (result.weighted_coverage / greedy.weighted_coverage - 1), 2),
        "coverage_bound": round(best_cov_bound, 1),
        "coverage_gap_pct": round(100 * (best_cov_bound / result.weighted_coverage - 1), 2),
        "offline_bound": bound + (" capped" if capped else ""),
        "offline_coverage_bound": lp_cov,
        "offline_cost_bound": lp_cost,
        "offline_bound_s": round(bound_s, 1),
        "greedy_km_per_order": round(g_km, 3),
        "km_per_order": round(r_km, 3),
        "greedy_cost": round(cost(greedy), 1),
        "cost": round(cost(result), 1),
        "cost_bound": round(best_cost_bound, 1),
        "cost_gap_pct": round(100 * (cost(result) / best_cost_bound - 1), 2)
        if best_cost_bound
        else None,
        "cost_stage_first": costs[0] if costs else None,
        "cost_stage_improved": improved,
        "not_worse_than_greedy": result.weighted_coverage >= greedy.weighted_coverage
        and r_km <= g_km + 1e-9,
        "status": str(result.status),
        "message": result.message,
        "wall_s": round(wall, 1),
        "search_s": round(search_s, 1),
        "other_s": round(wall - search_s, 1),
        "over_s": round(max(0.0, wall - limit), 2),
        "steps": f"{steps.group(1)}/{steps.group(2)}" if steps else "-",
        "advised": f"{sum(u.params.step is not None for u in result.unmatched)}"
        f"/{len(result.unmatched)}",
        "violations": len(verify(problem, result)) + len(verify(problem, greedy)),
        "first_violations": [str(v) for v in verify(problem, result)[:3]],
    }


def _worker(args: tuple[Any, ...], queue: Any) -> None:
    queue.put(run_one(*args))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="5000,10000")
    ap.add_argument("--kinds", default="town,pastoral")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--modes", default="quiet,busy")
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="bench/out/large_streets.csv")
    ap.add_argument(
        "--bound",
        choices=("none", "lp", "mip"),
        default="none",
        help="offline bounds after each solve (HiGHS; mip is the tightest, see offline_bounds)",
    )
    ap.add_argument("--bound-limit", type=float, default=120.0, help="seconds per bound solve")
    ap.add_argument(
        "--capped",
        action="store_true",
        help="offline bounds with a row: no more km per covered order than the hand rule",
    )
    a = ap.parse_args()
    rows = []
    ctx = mp.get_context("spawn")
    for size in (int(s) for s in a.sizes.split(",")):
        for kind in a.kinds.split(","):
            for seed in (int(s) for s in a.seeds.split(",")):
                for mode in a.modes.split(","):
                    queue = ctx.Queue()
                    args = (
                        kind,
                        size,
                        seed,
                        mode,
                        a.time_limit,
                        a.workers,
                        a.bound,
                        a.bound_limit,
                        a.capped,
                    )
                    proc = ctx.Process(target=_worker, args=(args, queue))
                    proc.start()
                    row = queue.get()
                    proc.join()
                    rows.append(row)
                    console.print(row)
    table = Table(title=f"Large streets at {a.time_limit:g} s, {a.workers} workers")
    columns = [
        ("kind", "kind"),
        ("orders", "orders"),
        ("seed", "seed"),
        ("mode", "mode"),
        ("load_1min", "load"),
        ("greedy_coverage", "greedy cov"),
        ("coverage", "cov"),
        ("gain_pct", "gain %"),
        ("coverage_gap_pct", "cov gap %"),
        ("greedy_km_per_order", "greedy km/ord"),
        ("km_per_order", "km/ord"),
        ("greedy_cost", "greedy cost"),
        ("cost", "cost"),
        ("cost_gap_pct", "cost gap %"),
        ("cost_stage_improved", "cost stage improved"),
        ("not_worse_than_greedy", ">= greedy"),
        ("steps", "steps"),
        ("wall_s", "wall s"),
        ("search_s", "search s"),
        ("other_s", "other s"),
        ("over_s", "over s"),
        ("advised", "advised"),
        ("violations", "viol."),
    ]
    for _, title in columns:
        table.add_column(title)
    for row in rows:
        table.add_row(*(str(row[key]) for key, _ in columns))
    console.print(table)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    bad = [r for r in rows if not r["not_worse_than_greedy"] or r["violations"]]
    console.print(f"{len(rows) - len(bad)} of {len(rows)} runs at least the hand rule, verified")
    improved = sum(bool(r["cost_stage_improved"]) for r in rows)
    console.print(f"{improved} of {len(rows)} runs: the cost stage improved on the coverage stage")
    kept = sum(r["over_s"] <= 1.0 for r in rows)
    console.print(f"{kept} of {len(rows)} runs within 1 s of the limit")


if __name__ == "__main__":
    main()
