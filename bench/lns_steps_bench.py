"""Neighbourhood search at fixed work: the plans a number of window steps reach, and their CPU.

    python bench/lns_steps_bench.py --preset plentiful --orders 5000 --coverage-steps 30
    python bench/lns_steps_bench.py --coverage-steps 20 --cost-steps 20 --cost-rule lexicographic
    python bench/lns_steps_bench.py --orders 10000 --prepare

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

from matcher.candidates import build_contexts
from matcher.generator import generate_street, preset
from matcher.greedy import greedy_assign
from matcher.lns import Neighbourhoods
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.reserve import reserves
from matcher.solve import prepare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="plentiful")
    ap.add_argument("--orders", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window", type=int, default=None)
    ap.add_argument("--step-s", type=float, default=None, help="deterministic s per window solve")
    ap.add_argument("--coverage-steps", type=int, default=20)
    ap.add_argument("--coverage-objective", choices=("coverage", "both"), default="coverage")
    ap.add_argument("--cost-steps", type=int, default=0)
    ap.add_argument("--cost-rule", choices=("cost", "lexicographic"), default="cost")
    ap.add_argument(
        "--no-cap",
        action="store_true",
        help="no travel cap (the search may exceed the hand rule's km per covered order)",
    )
    ap.add_argument(
        "--then-coverage-steps",
        type=int,
        default=0,
        help="after the cost steps, this many coverage steps more (at the still open orders)",
    )
    ap.add_argument(
        "--prepare",
        action="store_true",
        help="only time the preparation: CPU s of candidate lists, hand rule and reserves",
    )
    a = ap.parse_args()
    problem = generate_street(preset(a.preset, seed=a.seed, orders=a.orders))
    params = SolveParams(workers=1, seed=a.seed)
    if a.prepare:
        _prepare(problem, params)
        return
    _, contexts, greedy = prepare(problem, params)
    search = Neighbourhoods(
        problem,
        contexts,
        params,
        greedy.assignments,
        a.window,
        a.step_s,
        travel_reference=None if a.no_cap else greedy.assignments,
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
        f"cost {start[1] / 100:.1f} -> {middle[1] / 100:.1f}, {coverage_cpu:.1f} CPU s, "
        f"km/order {search.km / max(1, len(search.plans)):.4f}"
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
        f"{time.process_time() - began:.1f} CPU s, km/order {search.km / len(search.plans):.4f}"
    )
    if not a.then_coverage_steps:
        return
    improved, again = search.improved, list(search.value)
    visited, steps, began = set(), 0, time.process_time()
    for seed in [i for i in open_orders if i not in search.plans]:
        if steps >= a.then_coverage_steps:
            break
        if seed in visited or seed in search.plans:
            continue
        search.step(seed, float("inf"), visited, "coverage")
        steps += 1
    print(
        f"coverage steps again {steps} ({search.improved - improved} improving): "
        f"coverage {again[0]} -> {search.value[0]}, cost {again[1] / 100:.1f} -> "
        f"{search.value[1] / 100:.1f}, {time.process_time() - began:.1f} CPU s, "
        f"km/order {search.km / len(search.plans):.4f}"
    )


def _prepare(problem: Problem, params: SolveParams) -> None:
    """CPU seconds of each part of the preparation, and how many orders' whole rankings were
    made (the rest stopped in the head: ``Eligibility.ranked_head``)."""
    c0 = time.process_time()
    eligibility, contexts = build_contexts(problem, params.wait_boost, params.candidate_limit)
    c1 = time.process_time()
    made = len(eligibility._ranked)
    greedy = greedy_assign(problem, eligibility, contexts)
    c2 = time.process_time()
    made_greedy = len(eligibility._ranked)
    teams = {i: tuple(t) for i, (t, _) in greedy.assignments.items()}
    reserves(problem, eligibility, contexts, teams, params.weights, 3)
    c3 = time.process_time()
    print(
        f"{len(contexts)} orders: candidate lists {c1 - c0:.2f} CPU s ({made} whole rankings), "
        f"hand rule {c2 - c1:.2f} ({made_greedy} whole rankings), reserves of 3 {c3 - c2:.2f}"
    )


if __name__ == "__main__":
    main()
