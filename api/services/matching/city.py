"""The city's nightly run: every street of the deployment for one date, solved in parallel.

The driver (this process) reads and writes the database exactly as a single street's run does
(``nightly.start_run_record`` then ``nightly.finish_run``: one ``running`` record, the read, the
re-check of the basis and one write transaction per street); only the solves go to the workers
(``fanout``: Ray, or processes of this machine), as pure matcher problems. Each street runs in a
thread of the driver that waits for its tasks, so while one street's solve runs on a worker the
others are read and written. A street that fails is recorded as failed on its run and reported;
the others go on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.services.errors import ServiceError
from api.services.matching.fanout import (
    DEFAULT_MAX_ORDERS,
    Politeness,
    Pool,
    PoolKind,
    StreetSolver,
    TaskTiming,
    open_pool,
)
from api.services.matching.nightly import finish_run, start_run_record
from api.settings import Settings
from api.store.db import session_scope
from api.store.tables import RunRow, Street, utcnow

log = logging.getLogger("qunbang.city")
MAX_DRIVER_THREADS = 32  # streets read, waiting on workers or written at once

Event = Literal["started", "done", "failed"]


@dataclass(frozen=True)
class StreetOutcome:
    """One street's run: its record when done, or why it failed (``error``)."""

    street_id: int
    name: str
    run: RunRow | None
    error: str | None
    wall_s: float


@dataclass
class CityRun:
    """A city's nightly run: where it ran, each street's outcome and every task's timing."""

    date: dt.date
    pool: PoolKind
    workers: int
    outcomes: list[StreetOutcome] = field(default_factory=list)
    timings: list[TaskTiming] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def failed(self) -> list[StreetOutcome]:
        return [o for o in self.outcomes if o.error is not None]


Progress = Callable[[Event, str, StreetOutcome | None], None]


def every_street(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    """The deployment's streets (id, name), by id."""
    with session_scope(sessions) as session:
        return [
            (s.id, s.name)
            for s in session.execute(select(Street.id, Street.name).order_by(Street.id))
        ]


def run_city(
    sessions: sessionmaker[Session],
    settings: Settings,
    date: dt.date,
    *,
    workers: int,
    max_orders: int = DEFAULT_MAX_ORDERS,
    use_ray: bool | None = None,
    streets: list[tuple[int, str]] | None = None,
    trigger: str = "cli",
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> CityRun:
    """Match every street (or ``streets``) for ``date`` on a pool of ``workers`` (Ray when it is
    installed and ``use_ray`` is not False). Never raises for one street's failure: it is in
    that street's outcome."""
    began = time.perf_counter()
    streets = every_street(sessions) if streets is None else streets
    politeness = Politeness(settings.nightly_nice, settings.nightly_idle)
    pool = open_pool(workers, politeness, use_ray)
    city = CityRun(date=date, pool=pool.kind, workers=pool.workers)
    tell = progress or (lambda event, name, outcome: None)
    try:
        threads = max(1, min(len(streets), 2 * pool.workers, MAX_DRIVER_THREADS))
        with ThreadPoolExecutor(threads, thread_name_prefix="city") as driver:
            jobs = [
                driver.submit(
                    _one_street, sessions, settings, pool, date, sid, name, max_orders, trigger,
                    now, tell,
                )
                for sid, name in streets
            ]  # fmt: skip
            for job in as_completed(jobs):
                outcome = job.result()
                city.outcomes.append(outcome)
                tell("failed" if outcome.error else "done", outcome.name, outcome)
    finally:
        pool.close()
    city.outcomes.sort(key=lambda o: o.street_id)
    city.timings = list(pool.timings)
    city.wall_s = time.perf_counter() - began
    return city


def _one_street(
    sessions: sessionmaker[Session],
    settings: Settings,
    pool: Pool,
    date: dt.date,
    street_id: int,
    name: str,
    max_orders: int,
    trigger: str,
    now: dt.datetime | None,
    tell: Progress,
) -> StreetOutcome:
    """One street's run as the single-street nightly makes it, solved on ``pool``."""
    began = time.perf_counter()
    tell("started", name, None)
    solver = StreetSolver(pool, name, max_orders, hand_rule=True)
    try:
        at = now or utcnow()
        run_id = start_run_record(sessions, settings, street_id, date, trigger, None, at)
        run = finish_run(sessions, settings, run_id, at, solver)
    except ServiceError as error:  # recorded on its run (if it got one); the others go on
        return StreetOutcome(street_id, name, None, error.message, time.perf_counter() - began)
    except Exception as error:  # a bug or a lost worker: reported, the others go on
        log.exception("street %s failed", name)
        message = f"{type(error).__name__}: {error}"
        return StreetOutcome(street_id, name, None, message, time.perf_counter() - began)
    return StreetOutcome(street_id, name, run, None, time.perf_counter() - began)
