"""The care circles' street-wide reads on the demo street (1,500 residents, 1,200 helpers):
``targets.target_count`` (what the run page and the report add), ``targets.circle_plan`` (the
planner page and ``qunbang circles plan``) and the pure planner alone
(``matcher.circle_plan.plan_circles``), min / median / max of ``--runs``, on a temporary SQLite
file seeded with the demo street (no visits yet: every circle is the ledger's).

    .venv/bin/python bench/circles_bench.py [--runs 5] [--size 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from api.services.actor import Actor
from api.services.circles import targets
from api.services.ledger.seed import seed_street
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import ResidentRow, Street
from matcher.circle_plan import plan_circles
from matcher.generator import preset


def timed(label: str, runs: int, work: Callable[[], object]) -> None:
    """Wall time (min / median / max) and the median CPU time of this process (less sensitive
    to a busy machine)."""
    seconds, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        work()
        seconds.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    figures = (min(seconds), statistics.median(seconds), max(seconds), statistics.median(cpu))
    ms = [f"{value * 1000:6.0f} ms" for value in figures]
    print(f"{label:<24} wall min {ms[0]}  median {ms[1]}  max {ms[2]}; CPU median {ms[3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=3, help="the street's circle target")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'circles.db'}"
        migrate(url)
        sessions = session_factory(make_engine(url))
        today = dt.date.today()
        with sessions() as session:
            street = seed_street(session, preset("demo"), order_date=today).street
            session.execute(update(Street).values(circle_size=args.size))
            session.commit()
            residents = session.scalar(select(ResidentRow.id).order_by(ResidentRow.id.desc()))
            actor = Actor(1, "bench", "staff", street.id, None, None, None)
            plan = targets.circle_plan(session, actor, today)
            print(f"demo street: {residents} residents; {plan.count.meeting} of "
                  f"{plan.count.total} meet a target of {args.size}; "
                  f"{sum(len(r.proposals) for r in plan.residents)} proposals")  # fmt: skip
            timed(
                "target_count (service)",
                args.runs,
                lambda: targets.target_count(session, actor, today),
            )
            timed(
                "circle_plan (service)",
                args.runs,
                lambda: targets.circle_plan(session, actor, today),
            )
            gathered = targets._gather(session, street.id, None, today, loads=True)
            people = (gathered.plan_residents, gathered.plan_helpers, gathered.target)
            timed("plan_circles (pure)", args.runs, lambda: plan_circles(*people))


if __name__ == "__main__":
    main()
