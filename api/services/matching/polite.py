"""A solve that yields the CPU: the nightly run's, and each task of the city's workers.

Light on purpose: a worker (a Ray task, a process of the pool) imports this module and the
matcher only, not the service's database layer.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Result
from matcher.solve import solve, solve_greedy


@dataclass(frozen=True)
class Politeness:
    """How a task's solve yields the CPU (``settings.nightly_nice``, ``settings.nightly_idle``)."""

    nice: int = 10
    idle: bool = True


Timed = tuple[Result, float, float]  # a task's result, its seconds and its process's CPU seconds


def solve_task(problem: Problem, params: SolveParams, politeness: Politeness) -> Timed:
    """One task of the city's workers: solve politely; returns the result, its seconds and the
    CPU seconds its process spent meanwhile (the task's own in a worker running one task)."""
    began, cpu = time.perf_counter(), _cpu_s()
    result = solve_politely(problem, params, politeness.nice, politeness.idle)
    return result, time.perf_counter() - began, _cpu_s() - cpu


def greedy_task(problem: Problem, params: SolveParams) -> Timed:
    """The office's hand rule on a problem (``matcher.solve.solve_greedy``), as a task."""
    began, cpu = time.perf_counter(), _cpu_s()
    result = solve_greedy(problem, params)
    return result, time.perf_counter() - began, _cpu_s() - cpu


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def solve_politely(
    problem: Problem,
    params: SolveParams,
    nice: int,
    idle: bool,
    solver: Callable[[Problem, SolveParams], Result] | None = None,
) -> Result:
    """``solve`` in a thread of its own at CPU niceness ``nice`` (``settings.nightly_nice``)
    and, with ``idle`` (``settings.nightly_idle``, Linux), under the ``SCHED_IDLE`` policy (the
    city's workers solve the same way, ``solve_task``): the thread and the
    solver's worker threads (which inherit both) get only CPU time nothing else wants, and a
    request thread that wakes takes the CPU from them at once — a street's nightly solve yields
    to helpers' answers and staff pages (its time limit is wall time: on a busy machine it finds
    less, never runs longer). Both end with the thread. ``solver``: ``matcher.solve.solve``
    unless given."""
    run = solver or solve
    idle = idle and hasattr(os, "SCHED_IDLE")
    if (nice <= 0 or not hasattr(os, "setpriority")) and not idle:
        return run(problem, params)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            me = threading.get_native_id()
            if nice > 0:
                os.setpriority(os.PRIO_PROCESS, me, max(nice, os.getpriority(os.PRIO_PROCESS, me)))
            if idle:  # pid 0: this thread (Linux); its new threads inherit the policy
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:  # not allowed here: solve at the caller's priority
            pass
        try:
            outcome["result"] = run(problem, params)
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=work, name="nightly-solve", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]
