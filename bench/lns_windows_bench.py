"""Window sizes at fixed CPU: how much one stage of the neighbourhood search gains per CPU second.

    python bench/lns_windows_bench.py cost --preset plentiful --orders 5000 --cpu 4 \
        --variants 60/0.25,40/0.15,30/0.1,20/0.05
    python bench/lns_windows_bench.py coverage --preset pastoral --cpu 5 --variants 60/0.25,30/0.1

Prepares the street once and, per variant (window orders / CP-SAT deterministic seconds), runs
one stage on one thread until ``--cpu`` seconds of CPU (``time.process_time``, so a busy machine
only slows the run, not the figures much): ``cost`` after the same ``--coverage-steps`` coverage
steps (60 / 0.25, at the open orders), sweeps of cost windows costliest orders first, as the cost
stage does; ``coverage`` from the hand rule's plan, sweeps at the open orders and then anywhere
on the street, as the coverage stage does. Prints coverage and cost before and after.
"""

from __future__ import annotations

import argparse
import time

from matcher.generator import generate_street, preset
from matcher.lns import Neighbourhoods
from matcher.params import SolveParams
from matcher.solve import prepare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=("cost", "coverage"))
    ap.add_argument("--preset", default="plentiful")
    ap.add_argument("--orders", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpu", type=float, default=4.0, help="CPU seconds per variant")
    ap.add_argument("--coverage-steps", type=int, default=40, help="before a cost stage")
    ap.add_argument("--variants", default="60/0.25,30/0.1")
    a = ap.parse_args()
    problem = generate_street(preset(a.preset, seed=a.seed, orders=a.orders))
    params = SolveParams(workers=1, seed=a.seed)
    _, contexts, greedy = prepare(problem, params)
    far = time.perf_counter() + 1e6
    for variant in a.variants.split(","):
        window, deterministic_s = int(variant.split("/")[0]), float(variant.split("/")[1])
        search = Neighbourhoods(
            problem, contexts, params, greedy.assignments, 60, 0.25, greedy.assignments
        )
        open_orders = [
            c.index
            for c in sorted(contexts, key=lambda c: (-c.weight, c.index))
            if c.index not in search.plans and c.team_possible(c.candidates)
        ]
        if a.stage == "cost":
            visited: set[int] = set()
            made = 0
            for order in open_orders:
                if made >= a.coverage_steps:
                    break
                if order not in visited and order not in search.plans:
                    search.step(order, far, visited, "coverage")
                    made += 1
        before = list(search.value)
        search.window, search.step_dt = window, deterministic_s
        stage = a.stage
        began, steps = time.process_time(), 0
        costliest = search._costliest_first()
        while time.process_time() - began < a.cpu:
            if stage == "cost":
                seeds = costliest
            elif stage == "coverage":
                seeds = [i for i in open_orders if i not in search.plans]
            else:
                seeds = [c.index for c in contexts]
                search.rng.shuffle(seeds)
            visited, improved = set(), search.improved
            for order in seeds:
                if time.process_time() - began >= a.cpu:
                    break
                if order in visited or (stage == "coverage" and order in search.plans):
                    continue
                search.step(order, far, visited, stage)
                steps += 1
            if search.improved == improved:
                if stage != "coverage":
                    break
                stage = "street"  # the coverage stage's second part
            if stage == "cost":
                search.rng.shuffle(costliest)
            search.shuffle_walks = True
        cpu = time.process_time() - began
        print(
            f"{a.preset} {a.orders} seed {a.seed} {a.stage} window {window} / {deterministic_s} s:"
            f" coverage {before[0]:,} -> {search.value[0]:,}"
            f" ({100 * (search.value[0] / before[0] - 1):+.2f} %),"
            f" cost {before[1] / 100:,.1f} -> {search.value[1] / 100:,.1f}"
            f" ({100 * (search.value[1] / before[1] - 1):+.2f} %),"
            f" {steps} steps in {cpu:.2f} CPU s",
            flush=True,
        )


if __name__ == "__main__":
    main()
