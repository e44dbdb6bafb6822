"""Re-matching one order: after a decline or an expiry the order goes straight back to matching.

The members still on the team (accepted, or pending: they have not refused) stay pinned at the
visit's start; helpers who declined or let the offer expire are not asked again; the missing
places get new pending offers. The problem holds only that order — ``build_problem`` enters every
helper with what is left of their day — so a re-match takes a fraction of a second on a street.
If nobody can fill the place, the team stays as it is (the order stays ``offered``) for the next
nightly run, and a ``rematch`` run records why.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.services.assign import (
    add_offer,
    live_assignment,
    live_offers,
    refresh_order_status,
    team_size,
)
from api.services.problem import (
    StreetProblem,
    build_problem,
    helper_key,
    leg_minutes,
    order_key,
    row_id,
)
from api.settings import Settings
from api.store.tables import AssignmentRow, OfferRow, OrderRow, RunRow, RunUnmatched, utcnow
from matcher.model import replace
from matcher.params import SolveParams
from matcher.result import Reason, Result, Unmatched
from matcher.solve import solve, solve_greedy

log = logging.getLogger("qunbang.rematch")
REFUSALS = ("declined", "expired")


def refused_helpers(session: Session, order_ids: Iterable[int]) -> dict[int, set[int]]:
    """Per order, the helpers who declined it or let an offer for it expire."""
    refused: dict[int, set[int]] = defaultdict(set)
    rows = session.execute(
        select(AssignmentRow.order_id, OfferRow.helper_id)
        .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
        .where(AssignmentRow.order_id.in_(list(order_ids) or [-1]), OfferRow.status.in_(REFUSALS))
    )
    for order_id, helper_id in rows:
        refused[order_id].add(helper_id)
    return dict(refused)


def helper_km(problem: StreetProblem, helper_id: int, order: OrderRow) -> float:
    """One-way km from the helper's home to the resident's, as the matcher measured it."""
    km, _ = leg_minutes(problem.helpers[helper_key(helper_id)], order.resident)
    return round(km, 3)


def unmatched_row(run_id: int, unmatched: Unmatched) -> RunUnmatched:
    """A matcher explanation as a run's row (matcher ids mapped back to order ids, in the
    sentences too: staff know order 17, not the matcher's "o17")."""
    zh, en = unmatched.explanation_zh, unmatched.explanation_en
    if unmatched.outranked_by:
        key = re.compile(rf"\b{re.escape(unmatched.outranked_by)}\b")
        number = str(row_id(unmatched.outranked_by))
        zh, en = key.sub(number, zh), key.sub(number, en)
    return RunUnmatched(
        run_id=run_id,
        order_id=row_id(unmatched.order),
        reason=str(unmatched.reason),
        explanation_zh=zh,
        explanation_en=en,
        outranked_by=row_id(unmatched.outranked_by) if unmatched.outranked_by else None,
    )


def rematch_order(
    session: Session,
    settings: Settings,
    order: OrderRow,
    now: dt.datetime | None = None,
    *,
    trigger: str = "decline",
    run: RunRow | None = None,
) -> list[int]:
    """Fill the missing places of ``order``'s live team; returns the helpers newly offered the
    order. The caller holds a write transaction and commits. The attempt is recorded on ``run``
    if given (the nightly run's fallback), else on a new ``rematch`` run."""
    now = now or utcnow()
    assignment = live_assignment(session, order.id)
    if order.status == "cancelled" or assignment is None or assignment.status != "active":
        return []
    members = [o.helper_id for o in live_offers(assignment)]
    if len(members) >= team_size(session, order):
        return []
    began = time.perf_counter()
    problem = _problem(session, order, assignment, members)
    params = SolveParams(time_limit_s=settings.rematch_time_limit_s, workers=1, seed=0)
    result = solve(problem.problem, params)
    planned = result.assignment_of(order_key(order.id))
    record = run or _new_run(session, settings, order, trigger, now)
    added: list[int] = []
    if planned is not None:
        if not members:  # nobody was told a time yet: the visit may move
            assignment.start_minute = planned.start
        for helper_id in (row_id(h) for h in planned.helpers):
            if helper_id not in members:
                km = helper_km(problem, helper_id, order)
                add_offer(session, settings, assignment, helper_id, distance_km=km, now=now)
                added.append(helper_id)
    else:
        session.add(unmatched_row(record.id, _why(problem, result, order)))
        if not members:  # an empty team ends: the order is open again (claimable, next night)
            assignment.status, assignment.ended_at = "withdrawn", now
            session.flush()
    refresh_order_status(session, order)
    if run is None:
        _finish(record, result, added, time.perf_counter() - began)
    log.info("order %s re-matched (%s): new offers to %s", order.id, trigger, added or "nobody")
    return added


def _problem(
    session: Session, order: OrderRow, assignment: AssignmentRow, members: list[int]
) -> StreetProblem:
    fixed = {}
    if members and assignment.start_minute is not None:
        fixed[order.id] = assignment.start_minute
    return build_problem(
        session,
        order.street_id,
        order.date,
        [order],
        pins={order.id: members} if members else None,
        refused=refused_helpers(session, [order.id]),
        fixed_starts=fixed,
    )


def _new_run(
    session: Session, settings: Settings, order: OrderRow, trigger: str, now: dt.datetime
) -> RunRow:
    run = RunRow(
        street_id=order.street_id,
        date=order.date,
        kind="rematch",
        status="running",
        trigger=trigger,
        started_at=now,
        settings={"time_limit_s": settings.rematch_time_limit_s, "order_id": order.id},
    )
    session.add(run)
    session.flush()
    return run


def _finish(run: RunRow, result: Result, added: list[int], wall_s: float) -> None:
    run.status = "done"
    run.finished_at = utcnow()
    run.figures = {
        "orders": 1,
        "covered": len(result.assignments),
        "offers_created": len(added),
        "status": str(result.status),
        "message": result.message,
        "runtime_s": round(result.runtime_s, 3),
        "wall_s": round(wall_s, 3),
    }


def _why(problem: StreetProblem, result: Result, order: OrderRow) -> Unmatched:
    """The matcher's explanation. With members pinned a failed solve has none (the pins make it
    infeasible), so ask the hand rule about the order without pins; if that order alone could
    be staffed, the members already on the team are what cannot be joined."""
    key = order_key(order.id)
    found = next((u for u in result.unmatched if u.order == key), None)
    if found is not None:
        return found
    free = replace(
        problem.problem, orders=tuple(replace(o, pinned=()) for o in problem.problem.orders)
    )
    found = next((u for u in solve_greedy(free).unmatched if u.order == key), None)
    if found is not None:
        return found
    return Unmatched(
        order=key,
        reason=Reason.NOT_FREE,
        explanation_zh="除已在团队中的志愿者外，找不到能在同一时间到场补位的人。",
        explanation_en="No other helper can join the members already on the team at that time.",
    )
