"""The nightly run: match a street's open orders for a date and send the offers.

A run is written as ``running`` in its own transaction first. The solve happens outside any
write transaction; then every offer, withdrawal, explanation and the run's figures land in ONE
transaction. A run that dies half-way therefore leaves only its ``running`` record, which the next
run of that street and date (and any run listing) reports as failed.

Re-running a date is stable. Members who accepted are pinned to their order at their start.
Members with a pending offer are kept too (same order, same start): the run first plans with them
pinned, and only if re-planning them as well covers at least ``rerun_margin_orders`` more plain
orders' worth of priority-weighted demand does it move them (their offers are withdrawn, they are
told). So a re-run that changes nothing sends nothing, and after changes it moves only what it
must. Teams picked by hand (``manual``) or claimed (``claim``) are never re-planned; only their
missing places are filled; a team staff sent against a rule (an override) is not touched at all.
The run's figures count what it did to each order: kept, moved, withdrawn, new.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.closing.deadlines import roll_over
from api.services.errors import BadInput, Forbidden, ServiceError
from api.services.matching import community_figures, polite
from api.services.matching.nightly_write import NightlyWrite, chunks
from api.services.matching.plan import Basis, Plan, Stale
from api.services.matching.problem import StreetProblem, build_problem
from api.services.matching.runs import RunView, get_run, mark_failed, reap_interrupted, run_settings
from api.services.offers.assign import (
    live_offers,
    local_today,
    team_size,
)
from api.services.offers.rematch import refused_helpers, rematch, unmatched_row
from api.services.orders import materialize_series
from api.services.programmes.keep import paired_helpers
from api.settings import Settings
from api.store.db import begin_write, session_scope
from api.store.statuses import AssignmentStatus, OfferStatus
from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    AssignmentRow,
    OfferRow,
    OrderReserve,
    OrderRow,
    RunRow,
    Street,
    utcnow,
)
from matcher.candidates import broken_pins
from matcher.certificate import CERTIFY_S
from matcher.metrics import trip_km
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Result, Status
from matcher.solve import solve, solve_greedy
from matcher.verify import verify
from matcher.weights import WEIGHT_SCALE

log = logging.getLogger("qunbang.nightly")
REPLANNED_SOURCES = ("nightly", "rematch")  # teams the nightly run may change freely
MATCHED_STATUSES = ("open", "offered")
RESERVE_SIZE = 8  # helpers ranked next per order, asked first by a decline (matcher.reserve)
ATTEMPTS = 2  # a run whose orders change while it solves reads and solves once more


class NightlyFailed(ServiceError):
    """The run could not finish; its record says why (``status`` failed)."""

    code = "run_failed"

    def __init__(self, message: str, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class RunInProgress(NightlyFailed):
    """Another run of the street and date is live."""

    code = "run_in_progress"


@dataclass
class Snapshot:
    """What a run read: the orders it plans, their pins and refusals, and its plan's basis (the
    date's orders and live offers, checked again before writing)."""

    orders: list[OrderRow]
    pins: dict[int, list[int]] = field(default_factory=dict)  # accepted (or hand-picked) members
    fixed_starts: dict[int, int] = field(default_factory=dict)  # where pins hold a start
    pending: dict[int, list[int]] = field(default_factory=dict)  # pending members, kept if we can
    told_starts: dict[int, int] = field(default_factory=dict)  # the start pending members hold
    refused: dict[int, set[int]] = field(default_factory=dict)
    deferred: list[int] = field(default_factory=list)  # left to ``rematch`` one by one
    read_ids: list[int] = field(default_factory=list)  # the orders the basis covers
    basis: Basis = ()


@dataclass(frozen=True)
class Solved:
    """What a ``Solver`` returns: the matcher's result for the street's problem, when the
    street was split to solve it (``matcher.split``) the record of the split, and the hand
    rule's plan when the solver made it too (else the run makes it, for its figures)."""

    result: Result
    split: dict[str, Any] | None = None
    greedy: Result | None = None


# How a run solves its street's problem: by default in this process (``_polite_solver``); the
# city's run hands it to its workers instead (``api.services.matching.city``).
# It is given the problem, the parameters and each resident's community (by matcher id: where a
# street too large for one solve is cut, ``matcher.split``).
Solver = Callable[[Problem, SolveParams, Mapping[str, str]], Solved]


@dataclass(frozen=True)
class NightlyPlan(Plan):
    """A nightly run's plan (a ``Plan``): the matcher's result for the street's problem, the hand
    rule's for comparison. Its basis is the date's planned orders and live offers (``_basis``)."""

    street_id: int
    date: dt.date
    order_ids: list[int]  # the orders read (the basis covers them)
    problem: StreetProblem
    result: Result
    greedy: Result | None
    kept_pending: bool = True  # False: pending members were re-planned (a better plan by margin)
    split: dict[str, Any] | None = None  # how the street was split to solve it, if it was

    def read_basis(self, session: Session) -> Basis:
        return _basis(session, self.street_id, self.date, self.order_ids, lock=True)


# ----------------------------------------------------------------------------- the run


def run_nightly(
    sessions: sessionmaker[Session],
    settings: Settings,
    street_id: int,
    date: dt.date,
    *,
    trigger: str = "cli",
    user_id: int | None = None,
    now: dt.datetime | None = None,
    solver: Solver | None = None,
) -> RunRow:
    """Match the street's open orders of ``date`` and write the offers and the run record in one
    transaction. Raises ``BadInput`` (unknown street), ``RunInProgress`` (another run of that
    street and date is live) or ``NightlyFailed`` (the run is recorded as failed). ``solver``
    solves the street's problem (default: in this process, ``_polite_solver``)."""
    now = now or utcnow()
    run_id = start_run_record(sessions, settings, street_id, date, trigger, user_id, now)
    return finish_run(sessions, settings, run_id, now, solver)


def finish_run(
    sessions: sessionmaker[Session],
    settings: Settings,
    run_id: int,
    now: dt.datetime,
    solver: Solver | None = None,
) -> RunRow:
    """Match and write the ``running`` run ``run_id``; a failure is recorded on it and raised
    as ``NightlyFailed``."""
    # This process's own solve: its reads and preparation yield the CPU as its solve does.
    background = solver is None
    solver = solver or _polite_solver(settings)
    try:
        with session_scope(sessions) as session:
            return _match_and_write(session, settings, run_id, now, solver, background)
    except Exception as error:
        log.exception("nightly run %s failed", run_id)
        message = error.message if isinstance(error, ServiceError) else f"{error}"
        mark_failed(sessions, run_id, message or type(error).__name__)
        if isinstance(error, NightlyFailed):
            raise
        raise NightlyFailed(
            _("run %(run_id)s failed: %(message)s", run_id=run_id, message=message), run_id
        ) from error


def start_run_record(
    sessions: sessionmaker[Session],
    settings: Settings,
    street_id: int,
    date: dt.date,
    trigger: str,
    user_id: int | None,
    now: dt.datetime,
) -> int:
    """The ``running`` record (its own commit), after reaping interrupted runs and creating the
    date's occurrences of recurring orders."""
    with session_scope(sessions) as session:
        begin_write(session, street_id)
        if session.get(Street, street_id) is None:
            raise BadInput(_("no street with id %(street_id)s", street_id=street_id), "street_id")
        reap_interrupted(session, settings, street_id, date, now)
        busy = session.scalar(
            select(RunRow.id).where(
                RunRow.street_id == street_id, RunRow.date == date, RunRow.status == "running"
            )
        )
        if busy is not None:
            raise RunInProgress(
                _("run %(busy)s for %(date)s is still running", busy=busy, date=date)
            )
        materialize_series(session, street_id, date, settings=settings)
        roll_over(session, settings, street_id, date, now)
        run = RunRow(
            street_id=street_id,
            date=date,
            kind="nightly",
            status="running",
            trigger=trigger,
            started_at=now,
            settings=run_settings(settings, _params(settings), trigger),
            started_by=user_id,
        )
        session.add(run)
        session.commit()
        log.info("nightly run %s started for street %s on %s", run.id, street_id, date)
        return run.id


def _params(settings: Settings) -> SolveParams:
    return SolveParams(
        time_limit_s=settings.nightly_time_limit_s,
        workers=settings.nightly_workers,
        seed=0,
        reserve_size=RESERVE_SIZE,
        certify_s=CERTIFY_S,
    )


def _solve_politely(problem: Problem, params: SolveParams, settings: Settings) -> Result:
    return solve_politely(problem, params, settings.nightly_nice, settings.nightly_idle)


def _polite_solver(settings: Settings) -> Solver:
    """The default ``Solver``: ``_solve_politely`` in this process."""

    def solver(problem: Problem, params: SolveParams, _regions: Mapping[str, str]) -> Solved:
        return Solved(_solve_politely(problem, params, settings))

    return solver


def solve_politely(problem: Problem, params: SolveParams, nice: int, idle: bool) -> Result:
    """``polite.solve_politely`` with this module's ``solve``."""
    return polite.solve_politely(problem, params, nice, idle, solve)


def _match_and_write(
    session: Session,
    settings: Settings,
    run_id: int,
    now: dt.datetime,
    solver: Solver,
    background: bool = False,
) -> RunRow:
    """Read, solve and write the run. ``background``: the reads, the problem's preparation and
    the solve run as the solve alone did (``polite.run_politely``: niced and ``SCHED_IDLE``),
    holding no lock; the write, which takes the street's lock, runs in the caller's thread (a
    thread starved of CPU must not hold a lock others wait for)."""
    run = session.get_one(RunRow, run_id)
    street_id, date = run.street_id, run.date
    began = time.perf_counter()

    def read_and_solve() -> tuple[Snapshot, NightlyPlan]:
        snapshot = read_snapshot(session, street_id, date)
        return snapshot, _solve(session, settings, street_id, date, snapshot, solver)

    for attempt in range(1, ATTEMPTS + 1):
        if background:
            nice, idle = settings.nightly_nice, settings.nightly_idle
            snapshot, plan = polite.run_politely(read_and_solve, nice, idle)
        else:
            snapshot, plan = read_and_solve()
        session.commit()  # end the read transaction (objects stay loaded)
        log.info(
            "nightly run %s: read and solved in %.3fs; writing", run_id, time.perf_counter() - began
        )
        try:
            return _write(session, settings, run_id, snapshot, plan, began, now)
        except Stale:
            session.rollback()
            log.warning("run %s: orders changed while solving (attempt %s)", run_id, attempt)
    raise NightlyFailed(
        _("run %(run_id)s: the orders kept changing while it solved; run it again", run_id=run_id)
    )


# ----------------------------------------------------------------------------- read


def read_snapshot(session: Session, street_id: int, date: dt.date) -> Snapshot:
    """The open and offered orders of the date that need (re)planning, with pins: accepted
    members of re-plannable teams, every live member of hand-picked or claimed teams."""
    orders = list(
        session.scalars(
            select(OrderRow)
            .where(
                OrderRow.street_id == street_id,
                OrderRow.date == date,
                OrderRow.status.in_(MATCHED_STATUSES),
            )
            .order_by(OrderRow.id)
        )
    )
    live = _live_assignments(session, [o.id for o in orders])
    snapshot = Snapshot(orders=[])
    for order in orders:
        assignment = live.get(order.id)
        if assignment is not None and not _needs_plan(session, snapshot, order, assignment):
            continue
        snapshot.orders.append(order)
    # A programme's confirmed pair: its order is planned with the pair's helper first, as a
    # member already told (kept unless they can no longer serve it; ``programmes.keep``).
    fresh = [o for o in snapshot.orders if o.id not in live]
    for order_id, helpers in paired_helpers(session, fresh).items():
        snapshot.pending.setdefault(order_id, helpers)
    snapshot.read_ids = [o.id for o in snapshot.orders]
    snapshot.refused = refused_helpers(session, snapshot.read_ids)
    snapshot.basis = _basis(session, street_id, date, snapshot.read_ids)
    return snapshot


def _needs_plan(
    session: Session, snapshot: Snapshot, order: OrderRow, assignment: AssignmentRow
) -> bool:
    """Record the pins of an order that has a live team; False if there is nothing to plan."""
    if assignment.status != AssignmentStatus.ACTIVE or assignment.override_reason:
        return False  # an override was sent against a rule: planning around it could not work
    members = live_offers(assignment)
    if assignment.source in REPLANNED_SOURCES:
        pinned = [o.helper_id for o in members if o.status == OfferStatus.ACCEPTED]
        pending = [
            o.helper_id for o in members if o.status == OfferStatus.PENDING and o.helper.active
        ]
    else:  # a hand-picked or claimed team keeps everyone; only missing places are filled
        pinned, pending = [o.helper_id for o in members], []
        if len(pinned) >= team_size(session, order):
            return False
    start = assignment.start_minute
    if pinned:
        snapshot.pins[order.id] = pinned
        if start is not None:
            snapshot.fixed_starts[order.id] = start
    if pending:
        snapshot.pending[order.id] = pending
        if start is not None:
            snapshot.told_starts[order.id] = start
    return True


def _basis(
    session: Session, street_id: int, date: dt.date, order_ids: list[int], lock: bool = False
) -> Basis:
    """The planned orders' (id, status, version) and every live offer of the date (id, status):
    what the plan rests on. With ``lock`` the rows are locked (PostgreSQL; SQLite's write
    transaction already excludes other writers) so nothing moves between the check and the
    commit."""
    orders = select(OrderRow.id, OrderRow.status, OrderRow.version).where(
        OrderRow.id.in_(order_ids or [-1])
    )
    offers = (
        select(OfferRow.id, OfferRow.status)
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .where(
            OrderRow.street_id == street_id,
            OrderRow.date == date,
            AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
            OfferRow.status.in_(LIVE_OFFER_STATUSES),
        )
    )
    if lock:
        orders = orders.with_for_update()
        offers = offers.with_for_update(of=OfferRow)
    return (
        tuple(tuple(r) for r in session.execute(orders.order_by(OrderRow.id))),
        tuple(tuple(r) for r in session.execute(offers.order_by(OfferRow.id))),
    )


# ----------------------------------------------------------------------------- solve


def _solve(
    session: Session,
    settings: Settings,
    street_id: int,
    date: dt.date,
    snapshot: Snapshot,
    solver: Solver,
) -> NightlyPlan:
    """Solve keeping pending members (``_keep_or_move``). Should the pinned orders admit no plan
    together, they are taken out and left to ``rematch`` one by one after the write, so
    one order nobody can complete does not stop the whole street's run."""
    began = time.perf_counter()
    params = _params(settings)
    problem, solved, kept = _keep_or_move(
        session, settings, street_id, date, snapshot, params, solver
    )
    if _no_plan(solved.result) and snapshot.pins:
        log.warning(
            "pinned orders admit no joint plan (%s); filling them one by one",
            solved.result.message,
        )
        snapshot.deferred = sorted(snapshot.pins)
        snapshot.orders = [o for o in snapshot.orders if o.id not in snapshot.deferred]
        snapshot.pins, snapshot.fixed_starts = {}, {}
        snapshot.pending, snapshot.told_starts = {}, {}
        problem = _problem(session, street_id, date, snapshot)
        solved = solver(problem.problem, params, _regions(problem))
        kept = False  # the pending members of the other orders were planned afresh
    result = solved.result
    if _no_plan(result):
        raise NightlyFailed(
            _(
                "the solver found no plan (%(status)s): %(message)s",
                status=result.status,
                message=result.message,
            )
        )
    broken = verify(problem.problem, result, params.wait_boost)
    if broken:  # never send a plan the matcher's own checker rejects
        raise NightlyFailed(
            _(
                "the plan breaks %(broken)s rule(s) and was not sent: %(message)s",
                broken=len(broken),
                message=broken[0].message,
            )
        )
    greedy = solved.greedy or solve_greedy(problem.problem, params)
    return NightlyPlan(
        basis=snapshot.basis,
        solve_s=time.perf_counter() - began,
        street_id=street_id,
        date=date,
        order_ids=snapshot.read_ids,
        problem=problem,
        result=result,
        greedy=None if _no_plan(greedy) else greedy,
        kept_pending=kept,
        split=solved.split,
    )


def _keep_or_move(
    session: Session,
    settings: Settings,
    street_id: int,
    date: dt.date,
    snapshot: Snapshot,
    params: SolveParams,
    solver: Solver,
) -> tuple[StreetProblem, Solved, bool]:
    """Plan with the pending members pinned at the start they were told. When some order is left
    uncovered, also plan with them free, and take that plan only if it covers at least
    ``rerun_margin_orders`` plain orders' worth more (or keeping them admits no plan at all).
    Returns the problem, its result and whether the pending members were kept."""
    if not snapshot.pending:
        problem = _problem(session, street_id, date, snapshot)
        return problem, solver(problem.problem, params, _regions(problem)), True
    kept = _problem(session, street_id, date, snapshot, keep_pending=True)
    if _unpin_broken(snapshot, kept):  # a pending member can no longer serve: let them go
        kept = _problem(session, street_id, date, snapshot, keep_pending=True)
    kept_solved = solver(kept.problem, params, _regions(kept))
    kept_result = kept_solved.result
    if not _no_plan(kept_result) and not kept_result.unmatched:
        return kept, kept_solved, True
    free = _problem(session, street_id, date, snapshot)
    free_solved = solver(free.problem, params, _regions(free))
    free_result = free_solved.result
    if _no_plan(free_result):
        return kept, kept_solved, True
    margin = settings.rerun_margin_orders * WEIGHT_SCALE
    gain = free_result.weighted_coverage - kept_result.weighted_coverage
    if _no_plan(kept_result) or gain >= max(margin, 1):
        log.info("re-run moves pending members: +%s weighted coverage", gain)
        return free, free_solved, False
    return kept, kept_solved, True


def _unpin_broken(snapshot: Snapshot, kept: StreetProblem) -> bool:
    """Drop from ``snapshot.pending`` the members the matcher says can no longer serve their
    order on their own account (skills, reach, time or limits changed since they were told)."""
    dropped = False
    for key, helpers in broken_pins(kept.problem).items():
        order_id = kept.orders[key].id
        pending = snapshot.pending.get(order_id, [])
        for helper_key, _reason in helpers:
            if (helper_id := kept.keys.helpers.row(helper_key)) in pending:
                pending.remove(helper_id)
                dropped = True
        if not pending:
            snapshot.pending.pop(order_id, None)
            snapshot.told_starts.pop(order_id, None)
    return dropped


def _problem(
    session: Session,
    street_id: int,
    date: dt.date,
    snapshot: Snapshot,
    keep_pending: bool = False,
) -> StreetProblem:
    pins, starts = snapshot.pins, snapshot.fixed_starts
    if keep_pending:
        pins = {
            order: [*snapshot.pins.get(order, []), *snapshot.pending.get(order, [])]
            for order in {*snapshot.pins, *snapshot.pending}
        }
        starts = {**snapshot.told_starts, **snapshot.fixed_starts}
    return build_problem(
        session,
        street_id,
        date,
        snapshot.orders,
        pins=pins,
        refused=snapshot.refused,
        fixed_starts=starts,
    )


def _regions(problem: StreetProblem) -> dict[str, str]:
    """Each resident's community, by matcher id."""
    return {key: str(row.community_id) for key, row in problem.residents.items()}


def _no_plan(result: Result) -> bool:
    return result.status in (Status.INFEASIBLE, Status.UNKNOWN) and not result.assignments


# ----------------------------------------------------------------------------- write


def _write(
    session: Session,
    settings: Settings,
    run_id: int,
    snapshot: Snapshot,
    plan: NightlyPlan,
    began: float,
    now: dt.datetime,
) -> RunRow:
    """Everything the run changes, in one transaction; then the deferred orders, each re-matched
    on its own (solved with no lock held)."""
    begin_write(session, plan.street_id)
    plan.check(session)
    run = session.get_one(RunRow, run_id)
    counts = _apply(session, settings, run.id, plan, now)
    keys = plan.problem.keys
    session.add_all(unmatched_row(run.id, u, keys) for u in plan.result.unmatched)
    _keep_reserves(session, run.id, plan)
    run.status = "done"
    run.finished_at = utcnow()
    wall_s = time.perf_counter() - began
    run.figures = _figures(plan, counts, len(snapshot.deferred), wall_s)
    wait_boost = _params(settings).wait_boost
    run.figures["communities"] = community_figures.of_plan(plan.problem, plan.result, wait_boost)
    if plan.split is not None:  # solved in parts (matcher.split): the run's figures say so
        run.figures["split"] = plan.split
    session.commit()
    log.info("nightly run %s done (solved in %.3fs): %s", run.id, plan.solve_s, run.figures)
    for order_id in snapshot.deferred:
        rematch(session, settings, order_id, now, trigger="nightly", run_id=run.id)
    session.refresh(run)
    return run


def _apply(
    session: Session, settings: Settings, run_id: int, plan: NightlyPlan, now: dt.datetime
) -> Counter[str]:
    """Bring each planned order's live team in line with the plan (``NightlyWrite``: decided
    order by order, written in a handful of statements); returns what it did, counted."""
    planned = {a.order: a for a in plan.result.assignments}
    order_ids = plan.problem.keys.orders.rows(plan.problem.orders)
    for chunk in chunks(order_ids):  # the check expired them: read again at once, not one by one
        session.scalars(select(OrderRow).where(OrderRow.id.in_(chunk))).all()
    live = _live_assignments(session, order_ids)
    write = NightlyWrite(session, settings, run_id, plan.problem, now)
    for key, order in plan.problem.orders.items():
        write.plan(order, planned.get(key), live.get(order.id))
    write.write()
    return write.counts


def _keep_reserves(session: Session, run_id: int, plan: NightlyPlan) -> None:
    """Replace the reserves of the run's orders with the plan's (``OrderReserve``)."""
    keys = plan.problem.keys
    order_ids = [o.id for o in plan.problem.orders.values()]
    session.execute(delete(OrderReserve).where(OrderReserve.order_id.in_(order_ids or [-1])))
    rows = [
        {"order_id": keys.orders.row(key), "helper_ids": keys.helpers.rows(ids), "run_id": run_id}
        for key, ids in plan.result.reserves.items()
    ]
    if rows:
        session.execute(insert(OrderReserve), rows)


def _live_assignments(session: Session, order_ids: list[int]) -> dict[int, AssignmentRow]:
    return {
        a.order_id: a
        for a in session.scalars(
            select(AssignmentRow).where(
                AssignmentRow.order_id.in_(order_ids or [-1]),
                AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
            )
        )
    }


def _figures(
    plan: NightlyPlan, counts: Counter[str], deferred: int, wall_s: float
) -> dict[str, Any]:
    result, greedy, problem = plan.result, plan.greedy, plan.problem.problem
    return {
        "orders": len(problem.orders),
        "covered": result.covered_orders,
        "weighted_coverage": result.weighted_coverage,
        "weighted_demand": result.weighted_demand,
        "coverage_ratio": result.coverage_ratio,
        "greedy_covered": greedy.covered_orders if greedy else None,
        "greedy_coverage_ratio": greedy.coverage_ratio if greedy else None,
        "travel_km": round(sum(trip_km(problem, result)), 3),
        "status": str(result.status),
        "gap": result.gap,
        "runtime_s": round(result.runtime_s, 3),
        "wall_s": round(wall_s, 3),
        "message": result.message,
        "stages": [s.model_dump(mode="json") for s in result.stages],
        # bounds against every eligible helper (``matcher.certificate``), when the solve made them
        "certificate": result.certificate.model_dump(mode="json") if result.certificate else None,
        "unmatched": len(result.unmatched),
        "deferred": deferred,
        "offers_created": counts["offers_created"],
        "offers_kept": counts["offers_kept"],
        "offers_withdrawn": counts["offers_withdrawn"],
        "orders_kept": counts["orders_kept"],
        "orders_filled": counts["orders_filled"],
        "orders_moved": counts["orders_moved"],
        "orders_withdrawn": counts["orders_withdrawn"],
        "orders_new": counts["orders_new"],
        "pending_kept": plan.kept_pending,
    }


# ----------------------------------------------------------------------------- the staff endpoint


def start_run(
    sessions: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    date: dt.date | None,
    now: dt.datetime | None = None,
) -> RunView:
    """A run started by street staff for their street: ``date``, or tomorrow (street time)."""
    street_id, day = _staff_run(settings, actor, date, now)
    run = run_nightly(
        sessions, settings, street_id, day, trigger="api", user_id=actor.user_id, now=now
    )
    with session_scope(sessions) as session:
        return get_run(session, settings, actor, run.id, now)


def begin_run(
    sessions: sessionmaker[Session],
    settings: Settings,
    actor: Actor,
    date: dt.date | None,
    launch: Callable[[Callable[[], None]], object],
    now: dt.datetime | None = None,
) -> RunView:
    """``start_run`` that does not wait for the matching: the ``running`` record is written now
    (a refusal — not street-wide staff, another run of that street and date still live — is
    raised now) and the matching is handed to ``launch`` (e.g. an executor's ``submit``) to
    run in the background. Returns the run as it stands: ``running``; its page follows it."""
    street_id, day = _staff_run(settings, actor, date, now)
    now = now or utcnow()
    run_id = start_run_record(sessions, settings, street_id, day, "api", actor.user_id, now)

    def match() -> None:
        with contextlib.suppress(NightlyFailed):  # recorded on the run, logged by finish_run
            finish_run(sessions, settings, run_id, now)

    launch(match)
    with session_scope(sessions) as session:
        return get_run(session, settings, actor, run_id, now)


def _staff_run(
    settings: Settings, actor: Actor, date: dt.date | None, now: dt.datetime | None
) -> tuple[int, dt.date]:
    """The street and date of a run staff start: their street, ``date`` or tomorrow."""
    if actor.street_id is None or actor.community_id is not None:
        raise Forbidden(_("only street-wide staff may start a run"))
    return actor.street_id, date or local_today(settings, now) + dt.timedelta(days=1)
