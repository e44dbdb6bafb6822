"""Neighbourhood search at fixed work: the plans a number of window steps reach, and their CPU.

    python bench/lns_steps_bench.py --preset plentiful --orders 5000 --coverage-steps 30
    python bench/lns_steps_bench.py --coverage-steps 20 --cost-steps 20 --cost-rule lexicographic

Prepares the street once, then calls ``Neighbourhoods.step`` on one thread: first at the open
orders (heaviest first, as the coverage stage seeds them), then at the orders the cost stage
seeds first (``--cost-rule cost``: coverage held, costliest first) or, for comparison, in a
shuffled order with windows solved coverage first then cost (``lexicographic``, the former cost
stage). The plans do not depend on the machine's load, so variants can be compared on a busy
machine; the CPU seconds (``time.process_time``) are only inflated by it.
"""

from __future__ import annotations

import argparse
import random
import time

from matcher.generator import generate_street, preset
from matcher.lns import Neighbourhoods
from matcher.params import SolveParams
from matcher.solve import prepare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="plentiful")
    ap.add_argument("--orders", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window", type=int, default=None)
    ap.add_argument("--coverage-steps", type=int, default=20)
    ap.add_argument("--coverage-objective", choices=("coverage", "both"), default="coverage")
    ap.add_argument("--cost-steps", type=int, default=0)
    ap.add_argument("--cost-rule", choices=("cost", "lexicographic"), default="cost")
    a = ap.parse_args()
    problem = generate_street(preset(a.preset, seed=a.seed, orders=a.orders))
    params = SolveParams(workers=1, seed=a.seed)
    _, contexts, greedy = prepare(problem, params)
    search = Neighbourhoods(
        problem, contexts, params, greedy.assignments, a.window, travel_reference=greedy.assignments
    )
    start = list(search.value)
    open_orders = [
        c.index
        for c in sorted(contexts, key=lambda c: (-c.weight, c.index))
        if c.index not in search.plans and c.team_possible(c.candidates)
    ]
    stage = "coverage" if a.coverage_objective == "coverage" else "street"
    visited: set[int] = set()
    steps, began = 0, time.process_time()
    for seed in open_orders:
        if steps >= a.coverage_steps:
            break
        if seed in visited or seed in search.plans:
            continue
        search.step(seed, float("inf"), visited, stage)
        steps += 1
    middle, coverage_cpu, improved = (
        list(search.value),
        time.process_time() - began,
        search.improved,
    )
    print(
        f"coverage steps {steps} ({improved} improving): coverage {start[0]} -> {middle[0]}, "
        f"cost {start[1] / 100:.1f} -> {middle[1] / 100:.1f}, {coverage_cpu:.1f} CPU s"
    )
    if not a.cost_steps:
        return
    if a.cost_rule == "cost":
        order, stage = search._costliest_first(), "cost"
    else:
        order, stage = [c.index for c in contexts], "street"
        random.Random(a.seed).shuffle(order)
    visited, steps, began = set(), 0, time.process_time()
    for seed in order:
        if steps >= a.cost_steps:
            break
        if seed in visited:
            continue
        search.step(seed, float("inf"), visited, stage)
        steps += 1
    end = search.value
    print(
        f"cost steps {steps} ({search.improved - improved} improving, rule {a.cost_rule}): "
        f"coverage {middle[0]} -> {end[0]}, cost {middle[1] / 100:.1f} -> {end[1] / 100:.1f}, "
        f"{time.process_time() - began:.1f} CPU s"
    )


if __name__ == "__main__":
    main()
