"""Benchmark the matcher on generated streets: CP-SAT against the hand rule, bounds, time, memory.

    python bench/street_bench.py                       # scarce + plentiful, 1,500 orders
    python bench/street_bench.py --time-limits 5,10,20,60
    python bench/street_bench.py --scaling 300,1500,5000 --time-limits 20

Every solve runs in a fresh process (peak memory is that process's own, model building included).
Figures go to the terminal and to ``bench/out/street.csv``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from matcher.bound import lp_bounds
from matcher.generator import generate_street, preset
from matcher.params import SolveParams
from matcher.solve import prepare, solve, solve_greedy
from matcher.verify import verify

console = Console(width=220)


def run_one(
    street: str,
    orders: int,
    time_limit: float,
    workers: int,
    seed: int,
    candidate_limit: int | None,
    coverage_share: float = SolveParams().coverage_time_share,
) -> dict[str, Any]:
    """One CP-SAT solve (and the greedy baseline) on a freshly generated street."""
    began = time.perf_counter()
    problem = generate_street(preset(street, seed=seed, orders=orders))
    generated = time.perf_counter() - began
    params = SolveParams(
        time_limit_s=time_limit,
        workers=workers,
        seed=seed,
        candidate_limit=candidate_limit,
        coverage_time_share=coverage_share,
    )
    greedy = solve_greedy(problem, params)
    first: list[tuple[float, float]] = []

    def progress(stage: str, objective: float, bound: float, elapsed: float) -> None:
        if stage == "coverage" and not first:
            first.append((objective, elapsed))

    result = solve(problem, params, progress)
    stage1 = result.stages[0]
    stage2 = (
        result.stages[1] if len(result.stages) > 1 and result.stages[1].name == "cost" else None
    )
    return {
        "street": street,
        "orders": len(problem.orders),
        "helpers": len(problem.helpers),
        "time_limit_s": time_limit,
        "generate_s": round(generated, 2),
        "greedy_coverage": greedy.weighted_coverage,
        "greedy_s": round(greedy.runtime_s, 2),
        "demand": result.weighted_demand,
        "cpsat_coverage": result.weighted_coverage,
        "gain_pct": round(100 * (result.weighted_coverage / greedy.weighted_coverage - 1), 2),
        "stage1_status": str(stage1.status),
        "stage1_bound": stage1.bound,
        "stage1_s": round(stage1.runtime_s, 2),
        # wall time from calling solve() to the end of the coverage stage, preparation included
        "stage1_done_s": round(result.runtime_s - (stage2.runtime_s if stage2 else 0), 2),
        "coverage_share": coverage_share,
        "stage2_status": str(stage2.status) if stage2 else "",
        "stage2_cost": stage2.objective if stage2 else None,
        "stage2_bound": stage2.bound if stage2 else None,
        "first_solution_s": round(first[0][1], 2) if first else None,
        "first_solution": first[0][0] if first else None,
        "runtime_s": round(result.runtime_s, 2),
        "status": str(result.status),
        "violations": len(verify(problem, result)) + len(verify(problem, greedy)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def bounds_for(
    street: str,
    orders: int,
    seed: int,
    candidate_limit: int | None,
    coverage_level: float | None,
    full: bool,
) -> dict[str, Any]:
    """Day-plan LP bounds on the candidates CP-SAT uses; with ``full``, on the full problem."""
    problem = generate_street(preset(street, seed=seed, orders=orders))
    params = SolveParams(candidate_limit=candidate_limit)
    _, contexts, _ = prepare(problem, params)  # the very candidates CP-SAT works with
    restricted = lp_bounds(problem, params, coverage_level=coverage_level, contexts=contexts)
    figures = {
        "lp_coverage_restricted": restricted.coverage_upper,
        "lp_cost_restricted": restricted.cost_lower,
        "lp_s": round(restricted.runtime_s, 1),
    }
    if full:  # every eligible helper: hundreds of thousands of plan columns, minutes of GLOP
        unrestricted = lp_bounds(problem, SolveParams(candidate_limit=None))
        figures["lp_coverage_full"] = unrestricted.coverage_upper
        figures["lp_full_s"] = round(unrestricted.runtime_s, 1)
    return figures


def in_child(function: Any, *args: Any) -> dict[str, Any]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streets", default="scarce,plentiful")
    parser.add_argument("--scaling", default="1500", help="order counts, comma-separated")
    parser.add_argument("--time-limits", default="5,10,20,60")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--candidates",
        type=int,
        default=SolveParams().candidate_limit or 0,
        help="K nearest eligible helpers per order; 0 keeps all",
    )
    parser.add_argument("--no-bounds", action="store_true", help="skip the LP bounds")
    parser.add_argument(
        "--proof-limit",
        type=float,
        default=10.0,
        help="one more run per street with this limit, all of it for coverage; 0 skips it",
    )
    parser.add_argument(
        "--full-bound", action="store_true", help="also bound the full problem (slow)"
    )
    parser.add_argument("--out", default="bench/out/street.csv")
    args = parser.parse_args()
    limit = args.candidates or None
    rows = []
    for street in args.streets.split(","):
        for orders in (int(n) for n in args.scaling.split(",")):
            runs = [
                in_child(run_one, street, orders, float(t), args.workers, args.seed, limit)
                for t in args.time_limits.split(",")
            ]
            if args.proof_limit:  # all of a short limit for coverage: is it proven by then?
                runs.append(
                    in_child(
                        run_one,
                        street,
                        orders,
                        args.proof_limit,
                        args.workers,
                        args.seed,
                        limit,
                        1.0,
                    )
                )
            extra: dict[str, Any] = {}
            if not args.no_bounds:
                best = max(r["cpsat_coverage"] for r in runs)
                extra = in_child(
                    bounds_for, street, orders, args.seed, limit, float(best), args.full_bound
                )
            for run in runs:
                rows.append({**run, **extra})
                console.print(_line(rows[-1]))
    _table(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    console.print(f"written {out}")


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['street']} {row['orders']} orders, {row['time_limit_s']:.0f}s: "
        f"greedy {row['greedy_coverage']} cpsat {row['cpsat_coverage']} "
        f"(+{row['gain_pct']} %) stage1 {row['stage1_status']} bound {row['stage1_bound']:.0f}"
    )


def _table(rows: list[dict[str, Any]]) -> None:
    """One column per run, one row per figure (the runs are few, the figures many)."""
    table = Table(title="CP-SAT vs hand rule (weighted coverage), bounds, time, memory")
    table.add_column("figure")
    for row in rows:
        share = "" if row["coverage_share"] != 1.0 else " (cov.)"
        table.add_column(
            f"{row['street']}\n{row['orders']} / {row['time_limit_s']:.0f}s{share}",
            justify="right",
        )
    figures = [
        key
        for key in dict.fromkeys(k for r in rows for k in r)
        if key not in ("street", "orders", "time_limit_s", "coverage_share")
    ]
    for figure in figures:
        table.add_row(figure, *(_fmt(row.get(figure)) for row in rows))
    console.print(table)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)


if __name__ == "__main__":
    main()
