"""A solve that yields the CPU: the nightly run's, and each task of the city's workers.

Light on purpose: a worker (a Ray task, a process of the pool) imports this module and the
matcher only, not the service's database layer.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Result
from matcher.solve import solve, solve_greedy


@dataclass(frozen=True)
class Politeness:
    """How a task's solve yields the CPU (``settings.nightly_nice``, ``settings.nightly_idle``)."""

    nice: int = 10
    idle: bool = True


T = TypeVar("T")
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
    """``solve`` run politely (``run_politely``): the thread and the solver's worker threads
    (which inherit both) get only CPU time nothing else wants, and a request thread that wakes
    takes the CPU from them at once — a street's nightly solve yields to helpers' answers and
    staff pages (its time limit is wall time: on a busy machine it finds less, never runs
    longer). The city's workers solve the same way (``solve_task``). ``solver``:
    ``matcher.solve.solve`` unless given."""
    run = solver or solve
    return run_politely(lambda: run(problem, params), nice, idle)


def run_politely(work: Callable[[], T], nice: int, idle: bool) -> T:
    """``work()`` in a thread of its own at CPU niceness ``nice`` (``settings.nightly_nice``)
    and, with ``idle`` (``settings.nightly_idle``, Linux), under the ``SCHED_IDLE`` policy;
    both end with the thread (an unprivileged thread cannot leave ``SCHED_IDLE``: the caller's
    own thread is never put there). Raises what ``work`` raises."""
    idle = idle and hasattr(os, "SCHED_IDLE")
    if (nice <= 0 or not hasattr(os, "setpriority")) and not idle:
        return work()
    outcome: dict[str, Any] = {}

    def polite() -> None:
        try:
            me = threading.get_native_id()
            if nice > 0:
                os.setpriority(os.PRIO_PROCESS, me, max(nice, os.getpriority(os.PRIO_PROCESS, me)))
            if idle:  # pid 0: this thread (Linux); its new threads inherit the policy
                os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:  # not allowed here: work at the caller's priority
            pass
        try:
            outcome["result"] = work()
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=polite, name="nightly-solve", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]


LOCAL_HOSTS = (None, "", "localhost", "127.0.0.1", "::1")


def lower_backends(engine: Any, nice: int) -> bool:
    """Each PostgreSQL server process (backend) that serves one of ``engine``'s connections
    runs at CPU niceness ``nice`` too: a batch job's queries (the nightly CLI's reads and
    writes) then yield the CPU to the service's. PostgreSQL has no priorities of its own; this
    works when the server runs on this machine and this process may renice its processes (the
    same user, or root) — otherwise nothing changes. Only for an engine of its own: a backend
    keeps its niceness while its connection lives. True if the listener was installed."""
    from sqlalchemy import event  # here: a solving worker imports this module without it

    local = engine.url.host in LOCAL_HOSTS or str(engine.url.host).startswith("/")
    if engine.dialect.name != "postgresql" or nice <= 0 or not hasattr(os, "setpriority"):
        return False
    if not local:
        return False

    def lower(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = int(cursor.fetchone()[0])
        dbapi_connection.rollback()  # end the implicit transaction of that read
        # Another user's process (the usual server install): left as it is.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, max(nice, os.getpriority(os.PRIO_PROCESS, pid)))

    event.listen(engine, "connect", lower)
    return True
