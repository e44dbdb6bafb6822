"""Solving many streets at once: on Ray (the ``cluster`` extra) or on this machine.

A ``Pool`` takes pure matcher problems and gives back results; it never sees the database. On
Ray each solve is a task of one CPU: in local mode on this machine (``workers`` CPUs), or on the
cluster ``RAY_ADDRESS`` names (its nodes need qunbang installed, as the driver has it). Without
Ray, the solves run in a pool of processes of this machine (or one after another with one
worker). Either way a task solves as the nightly run does (``polite.solve_politely``: niced,
under ``SCHED_IDLE`` when the settings ask for it), so a city run still yields the CPU to the
service's requests.

``StreetSolver`` is the nightly run's ``Solver`` for one street: one task, or, for a street with
more than ``max_orders`` orders, its parts as tasks in parallel (``matcher.split``). Every task's
timing is kept (``Pool.timings``): the bench predicts wall times for more workers from them.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, Literal

from api.services.matching.nightly import Solved
from api.services.matching.polite import Politeness, Timed, greedy_task, solve_task
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Result
from matcher.split import DEFAULT_MAX_ORDERS, solve_split

log = logging.getLogger("qunbang.fanout")
PoolKind = Literal["ray", "processes", "sequential"]


@dataclass(frozen=True)
class TaskTiming:
    """One solve task: what it solved (street label and part), its size and its seconds."""

    label: str
    orders: int
    seconds: float  # inside the worker
    cpu_s: float  # CPU of the worker's process meanwhile (exact when it runs one task at once)
    wall_s: float  # from submission to result, queueing included


@dataclass
class Pool:
    """Where the tasks run. ``submit`` may be called from several threads at once."""

    kind: PoolKind
    workers: int
    politeness: Politeness
    timings: list[TaskTiming] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, problem: Problem, params: SolveParams, greedy: bool = False) -> Future[Timed]:
        """A task solving ``problem`` (politely), or with ``greedy`` applying the hand rule."""
        raise NotImplementedError

    def hand_rule(self, problem: Problem, params: SolveParams, label: str) -> Callable[[], Result]:
        """Start the hand rule on ``problem`` as a task; the returned call waits for its plan
        (and may be called again)."""
        future = self.submit(problem, params, greedy=True)
        began = time.perf_counter()

        @functools.cache
        def wait() -> Result:
            result, seconds, cpu_s = future.result()
            timing = TaskTiming(
                f"{label}@greedy", len(problem.orders), seconds, cpu_s, time.perf_counter() - began
            )
            with self._lock:
                self.timings.append(timing)
            return result

        return wait

    def solve(self, problems: Sequence[Problem], params: SolveParams, label: str) -> list[Result]:
        """Solve ``problems`` in parallel and return their results in order."""
        began = time.perf_counter()
        futures = [self.submit(p, params) for p in problems]
        results = []
        for index, (problem, future) in enumerate(zip(problems, futures, strict=True)):
            result, seconds, cpu_s = future.result()
            part = label if len(problems) == 1 else f"{label}#{index + 1}"
            wall_s = time.perf_counter() - began
            timing = TaskTiming(part, len(problem.orders), seconds, cpu_s, wall_s)
            with self._lock:
                self.timings.append(timing)
            results.append(result)
        return results

    def close(self) -> None:
        """Let the workers go."""


@dataclass
class RayPool(Pool):
    """Tasks on Ray: local mode with ``workers`` CPUs, or the cluster at ``RAY_ADDRESS``."""

    _remote: Any = None
    _greedy: Any = None
    _started: bool = False

    def __post_init__(self) -> None:
        import ray

        if not ray.is_initialized():
            # No RAY_ADDRESS: a local instance of our own ("local": not a cluster that happens
            # to run on this machine), with ``workers`` CPUs.
            address = os.environ.get("RAY_ADDRESS") or "local"
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address == "local":
                options["num_cpus"] = self.workers
            ray.init(address=address, **options)
            self._started = True
        else:
            self.workers = int(ray.cluster_resources().get("CPU", self.workers))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(solve_task)
        self._greedy = ray.remote(num_cpus=1, max_retries=0)(greedy_task)

    def submit(self, problem: Problem, params: SolveParams, greedy: bool = False) -> Future[Timed]:
        if greedy:
            return self._greedy.remote(problem, params).future()  # type: ignore[no-any-return]
        return self._remote.remote(problem, params, self.politeness).future()  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()


@dataclass
class ProcessPool(Pool):
    """Tasks in ``workers`` processes of this machine."""

    _executor: ProcessPoolExecutor | None = None

    def __post_init__(self) -> None:
        # forkserver: the driver runs threads (one per street); a plain fork could copy a lock
        # held by one of them into the worker.
        self._executor = ProcessPoolExecutor(self.workers, mp_context=get_context("forkserver"))

    def submit(self, problem: Problem, params: SolveParams, greedy: bool = False) -> Future[Timed]:
        assert self._executor is not None
        if greedy:
            return self._executor.submit(greedy_task, problem, params)
        return self._executor.submit(solve_task, problem, params, self.politeness)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()


@dataclass
class SequentialPool(Pool):
    """One task at a time, in the caller's process."""

    _one: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, problem: Problem, params: SolveParams, greedy: bool = False) -> Future[Timed]:
        future: Future[Timed] = Future()
        with self._one:
            try:
                if greedy:
                    future.set_result(greedy_task(problem, params))
                else:
                    future.set_result(solve_task(problem, params, self.politeness))
            except Exception as error:
                future.set_exception(error)
        return future


def ray_installed() -> bool:
    """Whether the ``cluster`` extra (Ray) is installed."""
    return importlib.util.find_spec("ray") is not None


def open_pool(workers: int, politeness: Politeness, use_ray: bool | None = None) -> Pool:
    """Ray when installed (unless ``use_ray`` is False), else processes of this machine (one
    worker: one solve after another)."""
    if use_ray is None:
        use_ray = ray_installed()
    if use_ray:
        return RayPool("ray", workers, politeness)
    if workers > 1:
        return ProcessPool("processes", workers, politeness)
    return SequentialPool("sequential", 1, politeness)


@dataclass(frozen=True)
class StreetSolver:
    """The nightly run's ``Solver`` for one street, on ``pool``: one task, or the street's
    parts as tasks when it has more than ``max_orders`` orders. Each task's CP-SAT runs with
    ``task_threads`` threads (the pool's CPUs are shared out by tasks, not by threads). The
    hand rule's plan is a task too, beside the solve: with ``hand_rule`` (the nightly run's
    figures compare with it) and always for a split street (its plan's floor)."""

    pool: Pool
    label: str
    max_orders: int = DEFAULT_MAX_ORDERS
    task_threads: int = 1
    hand_rule: bool = False

    def __call__(self, problem: Problem, params: SolveParams, regions: Mapping[str, str]) -> Solved:
        params = params.model_copy(update={"workers": self.task_threads})
        split = len(problem.orders) > self.max_orders
        greedy = (
            self.pool.hand_rule(problem, params, self.label) if split or self.hand_rule else None
        )
        if not split:
            result = self.pool.solve([problem], params, self.label)[0]
            return Solved(result, greedy=greedy() if greedy else None)

        def solve_many(problems: Sequence[Problem], part_params: SolveParams) -> list[Result]:
            return self.pool.solve(problems, part_params, self.label)

        result, record = solve_split(
            problem, params, self.max_orders, solve_many, regions, hand_rule=greedy
        )
        log.info("%s: split into %s parts: %s", self.label, len(record.parts), record)
        floor = greedy() if greedy else None
        return Solved(result, record.model_dump(mode="json"), floor if self.hand_rule else None)
