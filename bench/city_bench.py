"""A city on Ray: the city scenario solved through the city fan-out, with 1 and 2 workers.

    python bench/city_bench.py                               # scenarios/city.yaml, workers 1,2
    python bench/city_bench.py --workers 2 --time-limit 3    # one measurement, shorter solves
    python bench/city_bench.py --scenario scenarios/city-small.yaml --workers 1,2

For each worker count a local Ray instance with that many CPUs runs ``api.planner.city.run_city``
(the code behind ``qunbang scenario run`` on a city file): every street is built in the driver
and solved as tasks (a street above the file's ``split_orders`` in parts, ``matcher.split``);
every plan is checked by the independent verifier. Prints the wall time (Ray's start-up apart),
each street's wall and solve time, the speed-up of 2 workers over 1, and the wall time predicted
for 8, 32 and 128 workers from the task timings:

    predicted(W) = max(critical path, LPT schedule of every task on W workers, driver's serial
                   build time)

where the critical path is the slowest street's chain (its slowest part, then its repair) —
with enough workers nothing finishes before its slowest task. The same model at the measured
worker count, set against the measured wall, gives the driver's overhead (reading results,
merging, verifying, summarising): printed beside the predictions, not added to them.

On a busy machine wall times say little, so the bench also counts CPU seconds: each task's (its
worker process's CPU while it ran) and the driver's (this process, every thread). CP-SAT's time
limit is wall time, though: on a busy machine a solve stops at its limit having had a fraction
of a CPU, where on an idle one it would have used the whole limit. So the quiet 2-core estimate
is a range, ``(sum of task times + driver's CPU) / 2`` with each solve task taken as
``max(CPU, limit)`` (low) or ``CPU + limit`` (high; the hand rule's task as its CPU). Figures
go to the terminal and to ``bench/out/city.json``; the machine's load average is printed at the
start and the end.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from api.planner.city import CityResult, load_city, run_city
from api.planner.run import Overrides
from api.services.matching.fanout import Politeness, RayPool, TaskTiming
from matcher.split import REPAIR_TIME_SHARE
from matcher.verify import verify

REPO = Path(__file__).resolve().parents[1]
PREDICT = (8, 32, 128)
console = Console(width=None if sys.stdout.isatty() else 160)


def measure(path: Path, workers: int, overrides: Overrides) -> tuple[CityResult, float]:
    """One city run on a fresh local Ray instance of ``workers`` CPUs; returns the result and
    Ray's start-up seconds."""
    import ray

    city = load_city(path)
    began = time.perf_counter()
    global DRIVER_CPU_S
    pool = RayPool("ray", workers, Politeness(nice=0, idle=False))
    ready = ray.remote(num_cpus=1)(_ready)  # workers started and warm before the clock runs
    ray.get([ready.remote() for _ in range(workers)])
    startup = time.perf_counter() - began
    cpu = _cpu_s()
    try:
        result = run_city(path, city, pool, overrides)
    finally:
        pool.close()
    DRIVER_CPU_S = _cpu_s() - cpu
    return result, startup


DRIVER_CPU_S = 0.0  # the last measured run's driver CPU seconds


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ready() -> int:
    """A worker started with the task module imported (``polite``: the matcher, OR-Tools)."""
    import api.services.matching.polite  # noqa: F401

    return os.getpid()


def chains(timings: list[TaskTiming], cpu: bool = False) -> dict[str, float]:
    """Per street, the seconds of its longest chain: its slowest part, then its repair (a
    split street's repair is its last task, labelled with the street's bare name)."""
    parts: dict[str, list[float]] = defaultdict(list)
    single: dict[str, float] = {}
    for timing in timings:
        street, _, part = timing.label.partition("#")
        seconds = timing.cpu_s if cpu else timing.seconds
        if part:
            parts[street].append(seconds)
        else:
            single[street] = single.get(street, 0.0) + seconds
    return {
        street: (max(parts[street]) if street in parts else 0.0) + single.get(street, 0.0)
        for street in {*parts, *single}
    }


def lpt(durations: list[float], workers: int) -> float:
    """The makespan of the longest-first list schedule of ``durations`` on ``workers``."""
    loads = [0.0] * workers
    heapq.heapify(loads)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + duration)
    return max(loads)


def model(result: CityResult, workers: int) -> float:
    durations = [t.seconds for t in result.timings]
    critical = max(chains(result.timings).values())
    serial = sum(s.build_s for s in result.streets)
    return max(critical, lpt(durations, workers), serial)


def predict(result: CityResult) -> dict[int, float]:
    return {w: model(result, w) for w in PREDICT}


def _quiet_task_s(result: CityResult, limit_s: float) -> list[tuple[str, float]]:
    """Each task's seconds on an idle machine, high estimate: its CPU plus its time limit."""
    split = {s.name for s in result.streets if s.split}
    out = []
    for timing in result.timings:
        street, _, part = timing.label.partition("#")
        if "@greedy" in timing.label:
            limit = 0.0
        elif street in split and not part:
            limit = max(1.0, limit_s * REPAIR_TIME_SHARE)
        else:
            limit = limit_s
        out.append((timing.label, timing.cpu_s + limit))
    return out


def predict_quiet(result: CityResult, driver_cpu_s: float, limit_s: float) -> dict[int, float]:
    """The wall time predicted for W workers on idle machines (one core each, a driver of its
    own): the slowest street's chain, the LPT schedule, or the driver's CPU, whichever is
    longest; from the high estimate of each task."""
    tasks = _quiet_task_s(result, limit_s)
    chain: dict[str, float] = defaultdict(float)
    parts: dict[str, float] = defaultdict(float)
    for label, seconds in tasks:
        street, _, part = label.partition("#")
        if part:
            parts[street] = max(parts[street], seconds)
        else:
            chain[street] += seconds
    critical = max(chain[s] + parts[s] for s in {*chain, *parts})
    durations = [seconds for _, seconds in tasks]
    return {w: max(critical, lpt(durations, w), driver_cpu_s) for w in PREDICT}


def quiet_estimate(
    result: CityResult, driver_cpu_s: float, limit_s: float, cores: int = 2
) -> tuple[float, float]:
    """The wall time 2 idle cores would take, low and high, from CPU seconds and each solve
    task's time limit (module docstring)."""
    split = {s.name for s in result.streets if s.split}
    low = high = driver_cpu_s
    for timing in result.timings:
        street, _, part = timing.label.partition("#")
        if "@greedy" in timing.label:
            limit = 0.0
        elif street in split and not part:  # the repair solve
            limit = max(1.0, limit_s * REPAIR_TIME_SHARE)
        else:
            limit = limit_s
        low += max(timing.cpu_s, limit)
        high += timing.cpu_s + limit
    return low / cores, high / cores


def street_table(result: CityResult) -> Table:
    table = Table(title=f"City on {result.workers} worker(s): {result.wall_s:.1f} s")
    for name in ("street", "orders", "helpers", "parts", "build s", "solve s", "wall s",
                 "coverage %", "violations"):  # fmt: skip
        table.add_column(name, justify="left" if name == "street" else "right")
    solve_s: dict[str, float] = defaultdict(float)
    for timing in result.timings:
        solve_s[timing.label.partition("#")[0]] += timing.seconds
    for street in result.streets:
        violations = len(verify(street.problem, street.result))
        parts = len(street.split["parts"]) if street.split else 1
        table.add_row(
            street.name,
            f"{street.summary.orders_total:,}",
            f"{len(street.problem.helpers):,}",
            str(parts),
            f"{street.build_s:.1f}",
            f"{solve_s[street.name]:.1f}",
            f"{street.wall_s:.1f}",
            f"{100 * street.result.coverage_ratio:.1f}",
            str(violations),
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", type=Path, default=REPO / "scenarios" / "city.yaml")
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per solve")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "city.json")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    overrides = Overrides(time_limit_s=args.time_limit)
    console.print(f"load average at start: {os.getloadavg()}")
    runs: dict[int, dict[str, Any]] = {}
    walls: dict[int, float] = {}
    for workers in counts:
        result, startup = measure(args.scenario, workers, overrides)
        walls[workers] = result.wall_s
        console.print(street_table(result))
        predicted = predict(result)
        limit = args.time_limit or load_city(args.scenario).solver.time_limit_s
        quiet = quiet_estimate(result, DRIVER_CPU_S, limit)
        idle = predict_quiet(result, DRIVER_CPU_S, limit)
        console.print(
            f"{workers} worker(s): wall {result.wall_s:.1f} s (Ray start-up {startup:.1f} s "
            "apart), "
            f"{result.covered:,} of {result.orders:,} orders, coverage "
            f"{100 * result.coverage_ratio:.2f} %, tasks {len(result.timings)}, task seconds "
            f"{sum(t.seconds for t in result.timings):.1f}, slowest task "
            f"{max(t.seconds for t in result.timings):.1f} s; model at {workers}: "
            f"{model(result, workers):.1f} s; task CPU "
            f"{sum(t.cpu_s for t in result.timings):.1f} s, driver CPU {DRIVER_CPU_S:.1f} s, "
            f"quiet 2-core estimate {quiet[0]:.1f}-{quiet[1]:.1f} s; predicted "
            + ", ".join(f"{w} workers {s:.1f} s" for w, s in predicted.items())
            + "; predicted on idle machines "
            + ", ".join(f"{w} workers {s:.1f} s" for w, s in idle.items())
        )
        runs[workers] = {
            "wall_s": round(result.wall_s, 2),
            "ray_startup_s": round(startup, 2),
            "orders": result.orders,
            "covered": result.covered,
            "coverage_ratio": result.coverage_ratio,
            "predicted_wall_s": {str(w): round(s, 1) for w, s in predicted.items()},
            "critical_path_s": round(max(chains(result.timings).values()), 2),
            "driver_cpu_s": round(DRIVER_CPU_S, 2),
            "task_cpu_s": round(sum(t.cpu_s for t in result.timings), 2),
            "quiet_2_core_estimate_s": [round(q, 1) for q in quiet],
            "predicted_idle_wall_s": {str(w): round(s, 1) for w, s in idle.items()},
            "streets": [
                {
                    "name": s.name,
                    "orders": s.summary.orders_total,
                    "build_s": round(s.build_s, 2),
                    "wall_s": round(s.wall_s, 2),
                    "coverage_ratio": s.result.coverage_ratio,
                    "split": s.split,
                }
                for s in result.streets
            ],
            "tasks": [
                {
                    "label": t.label,
                    "orders": t.orders,
                    "seconds": round(t.seconds, 2),
                    "cpu_s": round(t.cpu_s, 2),
                }
                for t in result.timings
            ],
        }
    if 1 in walls and 2 in walls:
        console.print(f"speed-up of 2 workers over 1: {walls[1] / walls[2]:.2f}x")
    console.print(f"load average at end: {os.getloadavg()}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, ensure_ascii=False, indent=2), encoding="utf-8")
    console.print(f"written to {args.out}")


if __name__ == "__main__":
    main()
