"""How loose the large streets' coverage bound can be: the day-plan MIP's optimum made a plan.

    python bench/mip_plan_bench.py --sizes 5000 --kinds town --seeds 0
    python bench/mip_plan_bench.py --keep      # also keep each MIP bound in the bench's cache

``large_street_bench.py --bound mip`` bounds weighted coverage by HiGHS's MIP over the day-plan
model of ``matcher.bound``, which relaxes only a team's shared start. This bench solves that MIP
(HiGHS, at most ``--limit`` seconds), cuts every order's candidate list to the team the MIP's best
solution sends (no candidates where it sends none) and asks CP-SAT for a plan over those lists,
the real model with the starts: a plan over the street's candidate lists, so the best plan over
them lies between its coverage and the MIP's bound. Prints both, the gap between them and the
seconds both took. With ``--keep`` the MIP's dual bound (valid at any time limit) goes into
``bench/out/large_bounds.json`` under the key ``large_street_bench`` uses for the same lists
(``lists_key``), so its ``--bound lp`` runs compare against it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from ortools.linear_solver import pywraplp
from rich.console import Console
from rich.table import Table

import matcher.bound as bound_module
from matcher.candidates import OrderContext
from matcher.cpsat.solver import Plan, run_cpsat
from matcher.generator import generate_street, preset
from matcher.lns import plan_value
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.solve import prepare

sys.path.insert(0, str(Path(__file__).resolve().parent))
from large_street_bench import BOUNDS_FILE, KINDS, lists_key

console = Console(width=160)


def teams_plan(
    problem: Problem, params: SolveParams, contexts: list[OrderContext], limit_s: float
) -> tuple[float | None, bool, dict[int, Plan]]:
    """(HiGHS's dual bound on weighted coverage over ``contexts``' lists, None when it found no
    solution in ``limit_s``; whether it proved its optimum; the plan CP-SAT makes of its best
    solution's teams, each order's list cut to the team the MIP sends, empty when none)."""
    create = pywraplp.Solver.CreateSolver
    bound_module.pywraplp.Solver.CreateSolver = staticmethod(lambda _: create("HIGHS"))  # type: ignore[method-assign]
    try:
        relaxation = bound_module._Relaxation(problem, contexts)
    finally:
        bound_module.pywraplp.Solver.CreateSolver = create  # type: ignore[method-assign]
    solver = relaxation.solver
    for var in solver.variables():
        var.SetInteger(True)
    solver.SetTimeLimit(int(limit_s * 1000))
    relaxation.coverage_objective()
    status = solver.Solve()
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None, False, {}
    lists = []
    for ctx in contexts:
        team = []
        if relaxation.covered[ctx.index].solution_value() > 0.5:
            team = [
                c
                for k, c in enumerate(ctx.candidates)
                if relaxation.assign[ctx.index][k].solution_value() > 0.5
            ]
        lists.append(dataclasses.replace(ctx, candidates=team))
    cut = params.model_copy(update={"time_limit_s": limit_s})
    outcome = run_cpsat(problem, lists, cut, {}, time.perf_counter(), hint_is_plan=True)
    return solver.Objective().BestBound(), status == pywraplp.Solver.OPTIMAL, outcome.plans or {}


def mip_plan(kind: str, orders: int, seed: int, limit_s: float, keep: bool) -> dict:
    problem = generate_street(preset(KINDS[kind], seed=seed, orders=orders))
    params = SolveParams(time_limit_s=limit_s, workers=2, seed=seed)
    _, contexts, _ = prepare(problem, params)
    key = lists_key(kind, orders, seed, contexts)
    began = time.perf_counter()
    bound, optimal, plans = teams_plan(problem, params, contexts, limit_s)
    took = time.perf_counter() - began
    if bound is None:
        return {"street": f"{kind} {orders} seed {seed}", "mip": "no solution in time"}
    if keep:
        cached = json.loads(BOUNDS_FILE.read_text()) if BOUNDS_FILE.exists() else {}
        cached[f"{key}/mip"] = bound
        BOUNDS_FILE.parent.mkdir(parents=True, exist_ok=True)
        BOUNDS_FILE.write_text(json.dumps(cached, indent=1, sort_keys=True))
    covered = plan_value(problem, contexts, plans, params.weights)[0]
    return {
        "street": f"{kind} {orders} seed {seed}",
        "key": key,
        "mip": f"{bound:,.0f} ({'optimal' if optimal else 'dual'})",
        "s": f"{took:.1f}",
        "plan": f"{covered:,}",
        "apart %": f"{100 * (bound / covered - 1):.2f}" if covered else "-",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="5000,10000")
    ap.add_argument("--kinds", default="town,pastoral")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--limit", type=float, default=300.0, help="seconds for HiGHS and CP-SAT")
    ap.add_argument("--keep", action="store_true", help="keep the MIP bounds in the bench cache")
    a = ap.parse_args()
    rows = [
        mip_plan(kind, size, seed, a.limit, a.keep)
        for size in (int(s) for s in a.sizes.split(","))
        for kind in a.kinds.split(",")
        for seed in (int(s) for s in a.seeds.split(","))
    ]
    table = Table(title="The day-plan MIP's optimum as a plan")
    columns = ["street", "key", "mip", "s", "plan", "apart %"]
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console.print(table)


if __name__ == "__main__":
    main()
