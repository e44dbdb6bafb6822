"""Re-matching one order: after a decline or an expiry the order goes straight back to matching.

The solve runs with no lock held; the plan is then written under the street's write lock after
checking that nothing it rests on moved (``rematch``). The members still on the team (accepted,
or pending: they have not refused) stay pinned at the visit's start; helpers who declined or let
the offer expire are not asked again; the missing places get new pending offers. The problem
holds only that order — ``build_problem`` enters every helper with what is left of their day — so
a re-match takes a fraction of a second on a street. If nobody can fill the place, the team stays
as it is (the order stays ``offered``) for the next nightly run, and a ``rematch`` run records
why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.orm import Session

from api.services.circles.facts import Pairs, pair_records
from api.services.ledger.street_catalogue import street_catalogue
from api.services.matching.keys import Keys
from api.services.matching.plan import Basis, Plan, Stale
from api.services.matching.problem import StreetProblem, build_problem, leg_minutes
from api.services.offers.assign import (
    Visit,
    expected_order_status,
    helpers_day,
    live_assignment,
    live_offers,
    local_today,
    notify_offer,
    refresh_order_status,
    respond_by,
    settled,
)
from api.services.offers.state import REFUSALS, OrderState, order_state
from api.settings import Settings
from api.store.db import among_bound, begin_write, dialect_of
from api.store.stamps import CATALOGUE, helpers_name
from api.store.statuses import (
    UNMATCHED_ORDER_STATUSES,
    AssignmentStatus,
    OfferStatus,
    RunKind,
    RunStatus,
)
from api.store.tables import (
    AssignmentRow,
    OfferRow,
    OrderRow,
    RunRow,
    RunUnmatched,
    utcnow,
)
from matcher.model import replace
from matcher.params import SolveParams
from matcher.result import Assignment, Reason, Result, Unmatched, WhyParams
from matcher.solve import solve, solve_greedy
from matcher.verify import verify

log = logging.getLogger("qunbang.rematch")
ATTEMPTS = 3  # plans overtaken by another writer are solved again this often


def refused_helpers(session: Session, order_ids: Iterable[int]) -> dict[int, set[int]]:
    """Per order, the helpers who declined it or let an offer for it expire."""
    refused: dict[int, set[int]] = defaultdict(set)
    rows = session.execute(_refused(dialect_of(session)), {"orders": list(order_ids)})
    for order_id, helper_id in rows:
        refused[order_id].add(helper_id)
    return dict(refused)


@cache  # built once per database kind, run with each call's orders
def _refused(dialect: str) -> Select[int, int]:
    return (
        select(AssignmentRow.order_id, OfferRow.helper_id)
        .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
        .where(
            among_bound(AssignmentRow.order_id, "orders", dialect),
            OfferRow.status.in_(REFUSALS),
        )
    )


def helper_km(problem: StreetProblem, helper_id: int, order: OrderRow) -> float:
    """One-way km from the helper's home to the resident's, as the matcher measured it."""
    km, _ = leg_minutes(problem.helpers[problem.keys.helpers.key(helper_id)], order.resident)
    return round(km, 3)


def unmatched_row(run_id: int, unmatched: Unmatched, keys: Keys) -> RunUnmatched:
    """A matcher explanation as a run's row: the reason and its facts as data, the order, the
    outranking order and the helpers the next step names mapped back to row ids through the
    problem's ``keys`` (sentences are made where they are shown:
    ``api.services.matching.explain_text``)."""
    outranked = unmatched.outranked_by
    params = unmatched.params
    if params.step is not None:  # the helpers it names, by row id (as text, like every key)
        step = params.step
        known = keys.helpers.to_row
        named = [h for h in (step.helper, *step.team) if h is not None]
        if all(h in known for h in named):
            helper = str(known[step.helper]) if step.helper else None
            team = tuple(str(known[h]) for h in step.team)
            step = step.model_copy(update={"helper": helper, "team": team})
            params = params.model_copy(update={"step": step})
        else:  # made on another problem than ``keys`` (a re-match asking without its pins)
            params = params.model_copy(update={"step": None})
    return RunUnmatched(
        run_id=run_id,
        order_id=keys.orders.row(unmatched.order),
        reason=str(unmatched.reason),
        params=params.model_dump(mode="json"),
        outranked_by=keys.orders.row(outranked) if outranked is not None else None,
    )


@dataclass(frozen=True)
class RematchPlan(Plan):
    """A re-match (a ``Plan``): whom to add, at what start, or why nobody. Its basis is the
    order, its offers and the added helpers' day (``_basis``)."""

    order_id: int
    street_id: int
    trigger: str
    members: tuple[int, ...]
    added: tuple[int, ...]
    start: int | None
    distances: dict[int, float]
    unmatched: Unmatched | None
    result: Result
    asked: str = "street"  # whose problem found the plan: the order's "reserve" or the "street"

    def read_basis(self, session: Session) -> Basis:
        return _basis(session, order_state(session, self.order_id), self.added)


def rematch(
    session: Session,
    settings: Settings,
    order_id: int,
    now: dt.datetime | None = None,
    *,
    trigger: str = "decline",
    run_id: int | None = None,
) -> list[int]:
    """Fill the missing places of the order's live team: solve with no lock held, then take the
    street's write lock, check nothing the plan rests on moved, and write. A plan overtaken by
    another writer is solved again (``ATTEMPTS`` times); failing that, the order waits for the
    nightly run. Returns the helpers newly offered the order. Ends any open transaction."""
    now = now or utcnow()
    for _ in range(ATTEMPTS):
        session.rollback()  # a fresh read: no transaction, so no lock, while solving
        plan = plan_rematch(session, settings, order_id, now, trigger=trigger)
        session.rollback()
        if plan is None:
            end_if_empty(session, order_id, now)
            return []
        begin_write(session, plan.street_id, plan.order_id, plan.added)
        try:
            applied = apply_rematch(session, settings, plan, now, run_id=run_id)
        except Stale:
            session.rollback()
            continue
        session.commit()
        return applied.added
    log.warning("order %s: re-match kept being overtaken; left for the nightly run", order_id)
    return []


def end_if_empty(session: Session, order_id: int, now: dt.datetime) -> bool:
    """End the order's active team if nobody is left on it (the order is open again: claimable,
    and planned by the next nightly run). Its own short write; True if it ended one."""
    street_id = session.scalar(select(OrderRow.street_id).where(OrderRow.id == order_id))
    session.rollback()
    if street_id is None:
        return False
    begin_write(session, street_id, order_id)
    order = session.get_one(OrderRow, order_id)
    assignment = live_assignment(session, order_id)
    if (
        assignment is None
        or assignment.status != AssignmentStatus.ACTIVE
        or live_offers(assignment)
    ):
        session.rollback()
        return False
    assignment.status, assignment.ended_at = AssignmentStatus.WITHDRAWN, now
    session.flush()
    refresh_order_status(session, order)
    session.commit()
    return True


def plan_rematch(
    session: Session,
    settings: Settings,
    order_id: int,
    now: dt.datetime,
    *,
    trigger: str = "decline",
    leaving: tuple[int, int] | None = None,
) -> RematchPlan | None:
    """Solve the re-match of one order (reads only). None when there is nothing to fill. A plan
    the matcher's verifier rejects is never returned as a plan (logged, treated as nobody).

    ``leaving`` (offer id, helper id): a member's answer not written yet — a decline planned
    ahead so that the answer and its re-match are written in one transaction. The plan treats
    that offer as declined: its helper is off the team and not asked again, and the plan's
    basis expects the offer declined."""
    order = session.get(OrderRow, order_id)
    if order is None or order.status in UNMATCHED_ORDER_STATUSES:
        return None
    state = order_state(session, order.id)  # the team, refusals, reserve and stamps: one read
    if state.assignment_status != AssignmentStatus.ACTIVE:
        return None
    if state.override_reason:
        return None  # staff sent this team against a rule; the gap is theirs to fill
    gone = leaving[0] if leaving else None
    members = [helper for offer, helper in state.members() if offer != gone]
    catalogue = street_catalogue(session, order.street_id, state.catalogue_stamp)
    if len(members) >= catalogue.item(order.item).team_size:
        return None
    began = time.perf_counter()
    refused = state.refused()
    if leaving:
        refused.add(leaving[1])
    params = SolveParams(time_limit_s=settings.rematch_time_limit_s, workers=1, seed=0)
    pool = [h for h in state.reserve if h not in members and h not in refused]
    planned, asked = None, "reserve"
    stamps = {CATALOGUE: state.catalogue_stamp, helpers_name(order.street_id): state.helpers_stamp}
    pairs = pair_records(session, [order.resident])  # the resident's circle: read once for both
    if pool:  # the reserve first: a few helpers solve in milliseconds
        problem = _problem(
            session, order, state.start_minute, members, refused, stamps, pairs, {*pool, *members}
        )
        result, planned = _solved(problem, params, order)
    if planned is None:  # nobody in the reserve can come (or none kept): the whole street
        asked = "street"
        problem = _problem(session, order, state.start_minute, members, refused, stamps, pairs)
        result, planned = _solved(problem, params, order)
    keys = problem.keys
    chosen = keys.helpers.rows(planned.helpers) if planned else []
    added = tuple(h for h in chosen if h not in members)
    return RematchPlan(
        order_id=order.id,
        street_id=order.street_id,
        trigger=trigger,
        members=tuple(members),
        added=added,
        start=planned.start if planned else None,
        distances={h: helper_km(problem, h, order) for h in added},
        unmatched=None if planned else _why(problem, result, order),
        result=result,
        asked=asked,
        basis=_basis(session, state, added, declined=gone),
        solve_s=time.perf_counter() - began,
    )


def _solved(
    problem: StreetProblem, params: SolveParams, order: OrderRow
) -> tuple[Result, Assignment | None]:
    """Solve; the order's planned team, or None. A plan the matcher's verifier rejects is never
    returned (logged, treated as nobody)."""
    result = solve(problem.problem, params)
    planned = result.assignment_of(problem.keys.orders.key(order.id))
    if planned is not None and (violations := verify(problem.problem, result)):
        log.error("order %s: re-match plan breaks %s; not sent", order.id, violations)
        planned = None
    return result, planned


def _basis(
    session: Session, state: OrderState, added: Iterable[int], declined: int | None = None
) -> Basis:
    """What a re-match plan rests on: the order as ``state`` read it (its status, version, the
    visit's day, window and item, its live team and every offer on it, the catalogue's stamp)
    and the live offers of that day held by the helpers the plan adds (what is left of their
    day). Offer ``declined`` is counted as declined (an answer planned ahead, written with the
    plan)."""
    offers = tuple(
        (i, a, h, OfferStatus.DECLINED if i == declined else status)
        for i, a, h, status in state.offers
    )
    busy = helpers_day(session, added, [state.date]) if added else ()
    return (dataclasses.replace(state, offers=offers), busy)


@dataclass(frozen=True)
class Applied:
    """A re-match written: the helpers newly offered the order, and the order's status, its
    live assignment's status (None: it ended), that team's accepted and pending members, its
    size and the visit's start after the write (what an answer's view shows, not read back)."""

    added: list[int]
    order_status: str
    assignment_status: str | None
    accepted: int
    pending: int
    team_size: int
    start_minute: int | None


def apply_rematch(
    session: Session,
    settings: Settings,
    plan: RematchPlan,
    now: dt.datetime,
    *,
    run_id: int | None = None,
) -> Applied:
    """Write a re-match plan; the caller holds the street's write lock and commits. Raises
    ``Stale`` when the order, its offers or the added helpers' day changed since planning. The
    attempt is recorded on run ``run_id`` if given (the nightly run's fallback), else on a new
    ``rematch`` run. Writes statements of its own (no row objects read): the basis just read
    under the lock holds everything the write needs."""
    state = order_state(session, plan.order_id)
    if _basis(session, state, plan.added) != plan.basis:
        raise Stale
    assert state.assignment_id is not None  # the basis holds: the live team is as planned
    visit = state.visit
    record = run_id if run_id else _new_run(session, settings, plan, visit, now)
    assignment_status: str | None = state.assignment_status
    start = state.start_minute
    if plan.unmatched is None:
        if not plan.members and plan.start != start:  # nobody was told a time: the visit moves
            start = plan.start
            session.execute(_moved(), {"assignment": state.assignment_id, "start": start})
        deadline = respond_by(settings, visit, start, now)
        offers = [
            OfferRow(
                assignment_id=state.assignment_id,
                helper_id=helper_id,
                offered_at=now,
                respond_by=deadline,
                distance_km=plan.distances[helper_id],
            )
            for helper_id in plan.added
        ]
        session.add_all(offers)
        session.flush()  # their ids, for the messages
        for offer in offers:
            notify_offer(session, offer, visit, "offer")
    else:
        # A re-match's problem holds this order alone: those are all its keys.
        keys = Keys.of(orders=[plan.order_id])
        session.execute(insert(RunUnmatched), [_unmatched_values(record, plan.unmatched, keys)])
        if not plan.members:  # an empty team ends: the order is open again (claimable, next night)
            session.execute(_ended(), {"assignment": state.assignment_id, "now": now})
            assignment_status = None
    size = street_catalogue(session, state.street_id, state.catalogue_stamp).item(state.item)
    accepted = state.counted(OfferStatus.ACCEPTED) if assignment_status else 0
    status = expected_order_status(
        state.status, assignment_status, accepted, size.team_size if assignment_status else 0
    )
    if status != state.status:
        session.execute(settled(), {"order": plan.order_id, "status": status})
    session.expire_all()  # rows a caller holds (the order, its team) are read again when used
    log.info(
        "order %s re-matched (%s): new offers to %s", plan.order_id, plan.trigger,
        plan.added or "nobody",
    )  # fmt: skip
    pending = state.counted(OfferStatus.PENDING) + len(plan.added) if assignment_status else 0
    return Applied(
        list(plan.added), status, assignment_status, accepted, pending, size.team_size, start
    )


def _unmatched_values(run_id: int, unmatched: Unmatched, keys: Keys) -> dict[str, object]:
    row = unmatched_row(run_id, unmatched, keys)
    return {c: getattr(row, c) for c in ("run_id", "order_id", "reason", "params", "outranked_by")}


@cache
def _moved() -> Any:
    return (
        update(AssignmentRow)
        .where(AssignmentRow.id == bindparam("assignment"))
        .values(start_minute=bindparam("start"))
        .execution_options(synchronize_session=False)
    )


@cache
def _ended() -> Any:
    return (
        update(AssignmentRow)
        .where(AssignmentRow.id == bindparam("assignment"))
        .values(status=AssignmentStatus.WITHDRAWN, ended_at=bindparam("now"))
        .execution_options(synchronize_session=False)
    )


def _problem(
    session: Session,
    order: OrderRow,
    start_minute: int | None,
    members: list[int],
    refused: set[int],
    stamps: dict[str, str | None] | None = None,
    pairs: Pairs | None = None,
    helper_ids: set[int] | None = None,
) -> StreetProblem:
    """The order's re-match problem: members pinned (at their start, if told one), refused
    helpers blocked; the helpers near the order, or just ``helper_ids`` (a reserve)."""
    fixed = {}
    if members and start_minute is not None:
        fixed[order.id] = start_minute
    return build_problem(
        session,
        order.street_id,
        order.date,
        [order],
        pins={order.id: members} if members else None,
        refused={order.id: refused} if refused else None,
        fixed_starts=fixed,
        helper_ids=helper_ids,
        near=helper_ids is None,
        stamps=stamps,
        pairs=pairs,
    )


def _new_run(
    session: Session, settings: Settings, plan: RematchPlan, visit: Visit, now: dt.datetime
) -> int:
    """The re-match's run: written once, finished (the plan is made, the writing cannot fail
    apart); its id."""
    values = {
        "street_id": visit.street_id,
        "date": visit.date,
        "kind": RunKind.REMATCH,
        "status": RunStatus.DONE,
        "trigger": plan.trigger,
        "started_at": now,
        "finished_at": utcnow(),
        "settings": {"time_limit_s": settings.rematch_time_limit_s, "order_id": plan.order_id},
        "figures": _figures(plan),
    }
    return int(session.execute(insert(RunRow).returning(RunRow.id), values).scalar_one())


def _figures(plan: RematchPlan) -> dict[str, object]:
    return {
        "orders": 1,
        "covered": len(plan.result.assignments),
        "offers_created": len(plan.added),
        "asked": plan.asked,
        "status": str(plan.result.status),
        "message": plan.result.message,
        "runtime_s": round(plan.result.runtime_s, 3),
        "wall_s": round(plan.solve_s, 3),
    }


def _why(problem: StreetProblem, result: Result, order: OrderRow) -> Unmatched:
    """The matcher's explanation. With members pinned a failed solve has none (the pins make it
    infeasible), so ask the hand rule about the order without pins; if that order alone could
    be staffed, the members already on the team are what cannot be joined."""
    key = problem.keys.orders.key(order.id)
    found = next((u for u in result.unmatched if u.order == key), None)
    if found is not None:
        return found
    free = replace(
        problem.problem, orders=tuple(replace(o, pinned=()) for o in problem.problem.orders)
    )
    found = next((u for u in solve_greedy(free).unmatched if u.order == key), None)
    if found is not None:
        return found
    params = WhyParams(item=order.item, joining=max(1, len(problem.problem.order(key).pinned)))
    return Unmatched(order=key, reason=Reason.NOT_FREE, params=params)


def rematch_or_release(
    session: Session,
    settings: Settings,
    order_id: int,
    date: dt.date,
    now: dt.datetime,
    trigger: str,
) -> int:
    """Re-match after a change that is already committed (an answer, an expiry, a ledger edit
    taking a member off): should it fail, the change still stands and the order waits for the
    next nightly run; a team left with nobody ends (the order is open again). Returns the
    number of new offers."""
    try:
        if date < local_today(settings, now):  # the visit day is over: nothing to offer
            end_if_empty(session, order_id, now)
            return 0
        return len(rematch(session, settings, order_id, now, trigger=trigger))
    except Exception:
        session.rollback()
        log.exception("re-match of order %s failed; left for the nightly run", order_id)
        end_if_empty(session, order_id, now)  # an emptied team must not stay active
        return 0
