"""Certified plans on 1,500-order streets: how far `solve`'s plan can be from the full problem's
best (every eligible helper), and what the certificate costs in time.

    python bench/certify_bench.py                                   # town + pastoral, seeds 0-2
    python bench/certify_bench.py --kinds town --seeds 0 --time-limit 20 --certify-s 6
    python bench/certify_bench.py --kinds pastoral --seeds 0 --fixed-work 10   # lists vs widened

``town`` is the ``plentiful`` street, ``pastoral`` the pastoral one, both at 1,500 orders. Each run
is a fresh process: ``solve`` with ``--time-limit`` on ``--workers`` workers and
``certify_s=--certify-s`` (``matcher.certificate``): the certificate's share comes out of the time
limit (``matcher.certificate.budget``), part of it pricing visits into the candidate lists before
CP-SAT (``widen``; ``--widen-share 0`` skips that). Figures go to the terminal and to
``bench/out/certify.csv``; the load average is read before and after each run. See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

from ortools.sat.python import cp_model

from matcher import certificate
from matcher import solve as solve_module
from matcher.certificate import widen
from matcher.cpsat.objective import coverage_expression
from matcher.cpsat.solver import add_hard_rules, add_plan_hint
from matcher.cpsat.variables import make_variables
from matcher.generator import generate_street, preset
from matcher.params import SolveParams
from matcher.solve import solve
from matcher.verify import verify

KINDS = {"town": "plentiful", "pastoral": "pastoral"}


def run_one(
    kind: str, seed: int, time_limit: float, certify_s: float, workers: int, widen_share: float
) -> dict[str, Any]:
    """One solve with its certificate on a freshly generated 1,500-order street; ``widen_share``
    of the certificate's seconds price visits into the candidate lists before CP-SAT."""
    load_before = os.getloadavg()[0]
    certificate.WIDEN_SHARE = widen_share
    added = [0]
    plain = certificate.widen

    def counted(*args: Any) -> int:
        added[0] = plain(*args)
        return added[0]

    solve_module.widen = counted  # type: ignore[assignment]
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
        "widened_visits": added[0],
        "coverage_stage": str(stages["coverage"].status) if "coverage" in stages else "",
        "cost_stage": str(stages["cost"].status) if "cost" in stages else "",
        "solve_s": round(result.runtime_s, 2),
        "wall_s": round(wall, 2),
        "violations": len(verify(problem, result)),
        "load": f"{load_before:.1f}-{os.getloadavg()[0]:.1f}",
    }
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
    model = cp_model.CpModel()
    v = make_variables(model, contexts)
    add_hard_rules(model, problem, contexts, v)
    model.maximize(coverage_expression(contexts, v))
    add_plan_hint(model, contexts, v, greedy.assignments)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = deterministic_s
    status = solver.solve(model)
    return {
        "kind": kind,
        "seed": seed,
        "widened_visits": added,
        "visits": sum(len(c.candidates) for c in contexts),
        "deterministic_s": deterministic_s,
        "status": solver.status_name(status),
        "coverage": solver.objective_value,
        "lists_bound": solver.best_objective_bound,
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
        help="share of --certify-s pricing visits into the candidate lists before CP-SAT",
    )
    parser.add_argument(
        "--fixed-work",
        type=float,
        default=0.0,
        help="instead: coverage stage alone at this much deterministic time, lists vs widened",
    )
    parser.add_argument("--out", default="bench/out/certify.csv")
    args = parser.parse_args()
    rows = []
    for kind in args.kinds.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            runs: list[tuple[Any, ...]]
            if args.fixed_work:
                runs = [(fixed_work, kind, seed, args.fixed_work, w) for w in (False, True)]
            else:
                one = (kind, seed, args.time_limit, args.certify_s, args.workers, args.widen_share)
                runs = [(run_one, *one)]
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
