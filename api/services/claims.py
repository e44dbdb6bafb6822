"""Claims: a helper lists the open orders they could serve and takes them — alone (单独认领),
with named teammates who each confirm (集体认领), or several at once, all or nothing (打包认领).

Eligibility is the matcher's: the listing asks ``eligible_helpers`` on a problem holding only this
helper; a claim solves the claimed orders with the claiming team pinned, and the plan as written
passes the matcher's checker, so a claim is refused for whatever the nightly run would refuse
(skills, reach, a free slot with travel, day limits, visits that overlap). The solve runs with no
lock held; then the street's write lock is taken, the members' rows locked, and the plan's basis
(the orders, the members' day) compared again: a claim overtaken meanwhile is planned again. Two
claims of one order: a compare-and-set on the order's ``version`` and the live-assignment unique
index let exactly one through, the other gets ``Conflict``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.i18n import N_
from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.errors import BadInput, Conflict, NotFound, ServiceError
from api.services.ledger.street_catalogue import StreetItem, street_catalogue
from api.services.matching.explain_text import rule_label
from api.services.matching.plan import Basis, Plan, Stale
from api.services.matching.problem import StreetProblem, build_problem
from api.services.offers.assign import (
    create_assignment,
    helpers_day,
    item_of,
    live_assignment,
    local_today,
)
from api.services.paging import Page, check_page
from api.settings import Settings
from api.store.db import begin_write
from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentRow,
    ClaimRow,
    HelperRow,
    OrderRow,
    UserRow,
    utcnow,
)
from matcher.candidates import (
    Eligibility,
    OrderContext,
    build_contexts,
    earliest_common_start,
    pin_reason,
)
from matcher.eligible import eligible_helpers
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Assignment, Reason, Result, Status
from matcher.solve import solve
from matcher.verify import check_plan

log = logging.getLogger("qunbang.claims")
MAX_BUNDLE = 10
ATTEMPTS = 3  # a claim plan overtaken by another writer is planned again this often
MAX_PAGE_SIZE = 100
WHY_NOT: dict[Reason, str] = {  # why one member cannot serve an order
    Reason.NO_SKILL: N_("a required skill is missing"),
    Reason.OUT_OF_REACH: N_("out of reach (radius or the item's distance limit)"),
    Reason.NOT_FREE: N_("not free in the time window, travel included"),
    Reason.AT_LIMIT: N_("no room left that day (orders or minutes)"),
}


@dataclass(frozen=True)
class ClaimableOrder:
    """What a helper may see of an order before taking it: no name, address, phone or category."""

    order_id: int
    date: dt.date
    item_code: str
    item_zh: str
    item_en: str
    window_start: int | None
    window_end: int | None
    flexible: bool
    duration_min: int
    community: str
    distance_km: float
    team_size: int
    needs_teammates: bool
    points: int


@dataclass(frozen=True)
class ClaimedOrder:
    order_id: int
    assignment_id: int
    start_minute: int | None
    order_status: str
    members: dict[int, str]  # helper id -> offer status (accepted, or pending for teammates)


@dataclass(frozen=True)
class ClaimOutcome:
    claim_id: int
    form: str
    orders: list[ClaimedOrder]


# ----------------------------------------------------------------------------- listing


def claimable_orders(
    session: Session,
    settings: Settings,
    helper_id: int,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    page: int = 1,
    page_size: int = 20,
    now: dt.datetime | None = None,
) -> Page[ClaimableOrder]:
    """Open, unmatched orders from today on that the helper could serve, by date and time; team
    items are listed too, marked as needing teammates."""
    check_page(page, page_size, MAX_PAGE_SIZE)
    if date_from and date_to and date_to < date_from:
        raise BadInput(_("date_to is before date_from"), field="date_to")
    helper = session.get(HelperRow, helper_id)
    if helper is None or not helper.active:
        raise NotFound(_("helper not found or no longer active"))
    now = now or utcnow()
    today = local_today(settings, now)
    items = street_catalogue(session, helper.street_id).items
    by_date: dict[dt.date, list[OrderRow]] = defaultdict(list)
    for order in _open_orders(session, helper.street_id, max(today, date_from or today), date_to):
        if not _too_late(settings, order, items[order.item], now):
            by_date[order.date].append(order)  # the matcher judges skills, reach, time, limits
    found = [
        claimable
        for date, orders in sorted(by_date.items())
        for claimable in _claimable_on(session, helper, date, orders, items)
    ]
    found.sort(key=lambda c: (c.date, _sort_start(c), c.distance_km, c.order_id))
    first = (page - 1) * page_size
    return Page(found[first : first + page_size], len(found), page, page_size)


def _claimable_on(
    session: Session,
    helper: HelperRow,
    date: dt.date,
    orders: list[OrderRow],
    items: Mapping[str, StreetItem],
) -> list[ClaimableOrder]:
    """One problem for the day with only this helper; an order is listed when the helper is
    among its eligible helpers (and, for a one-person item, holds any lead skill and speaks the
    resident's language, as serving alone requires)."""
    street = build_problem(session, helper.street_id, date, orders, helper_ids={helper.id})
    me = street.keys.helpers.key(helper.id)
    found = []
    for option in eligible_helpers(street.problem):
        mine = next((e for e in option.helpers if e.helper == me), None)
        if mine is None or (option.team == 1 and not (mine.has_lead and mine.speaks)):
            continue
        order = street.orders[option.order]
        item = items[order.item]
        found.append(
            ClaimableOrder(
                order_id=order.id,
                date=order.date,
                item_code=item.code,
                item_zh=item.name_zh,
                item_en=item.name_en,
                window_start=order.window_start,
                window_end=order.window_end,
                flexible=order.flexible,
                duration_min=item.duration_min,
                community=order.resident.community.name,
                distance_km=round(mine.km_one_way, 2),
                team_size=item.team_size,
                needs_teammates=item.team_size > 1,
                points=item.points,
            )
        )
    return found


def _sort_start(claimable: ClaimableOrder) -> int:
    return claimable.window_start if claimable.window_start is not None else 24 * 60


def _open_orders(
    session: Session, street_id: int, date_from: dt.date, date_to: dt.date | None
) -> Sequence[OrderRow]:
    live = select(AssignmentRow.id).where(
        AssignmentRow.order_id == OrderRow.id, AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES)
    )
    query = select(OrderRow).where(
        OrderRow.street_id == street_id,
        OrderRow.status == "open",
        OrderRow.date >= date_from,
        ~live.exists(),
    )
    if date_to is not None:
        query = query.where(OrderRow.date <= date_to)
    return session.scalars(query.order_by(OrderRow.date, OrderRow.id)).all()


def _too_late(settings: Settings, order: OrderRow, item: StreetItem, now: dt.datetime) -> bool:
    """The order's day is past, or it is today and its latest start has passed (local time)."""
    local = now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(settings.timezone))
    if order.date != local.date() or order.window_start is None or order.window_end is None:
        return order.date < local.date()
    latest = order.window_end - item.duration_min if order.flexible else order.window_start
    return latest < local.hour * 60 + local.minute


# ----------------------------------------------------------------------------- claiming


def claim_single(
    session: Session,
    settings: Settings,
    helper_id: int,
    order_id: int,
    now: dt.datetime | None = None,
) -> ClaimOutcome:
    """单独认领: the helper takes an open one-person order alone, accepted at once."""
    return _claim(session, settings, "single", helper_id, [order_id], [], now)


def claim_team(
    session: Session,
    settings: Settings,
    helper_id: int,
    order_id: int,
    teammate_ids: Sequence[int],
    now: dt.datetime | None = None,
) -> ClaimOutcome:
    """集体认领: the helper takes an order with named teammates; the claimer's offer is accepted,
    each teammate gets a pending offer to confirm."""
    teammates = list(teammate_ids)
    if not teammates or len(set(teammates)) != len(teammates) or helper_id in teammates:
        raise BadInput(
            _("name distinct teammates, not yourself"),
            field="teammate_ids",
        )
    return _claim(session, settings, "team", helper_id, [order_id], teammates, now)


def claim_bundle(
    session: Session,
    settings: Settings,
    helper_id: int,
    order_ids: Sequence[int],
    now: dt.datetime | None = None,
) -> ClaimOutcome:
    """打包认领: several one-person orders at once, all or nothing, checked for time conflicts."""
    ids = list(order_ids)
    if not 2 <= len(ids) <= MAX_BUNDLE or len(set(ids)) != len(ids):
        raise BadInput(
            _("a bundle takes 2 to %(MAX_BUNDLE)s distinct orders", MAX_BUNDLE=MAX_BUNDLE),
            field="order_ids",
        )
    return _claim(session, settings, "bundle", helper_id, ids, [], now)


@dataclass(frozen=True)
class _Visit:
    """One claimed order as it will be written: its start and the members' distances."""

    order: OrderRow
    start: int | None
    distances: dict[int, float]  # member helper id -> one-way km, claimer first


@dataclass(frozen=True)
class ClaimPlan(Plan):
    """A claim (a ``Plan``): one visit per claimed order. Its basis is the orders and the
    members' day (``_basis``), read before solving."""

    members: tuple[int, ...]
    order_ids: tuple[int, ...]
    street_id: int
    visits: tuple[_Visit, ...]

    def read_basis(self, session: Session) -> Basis:
        return _basis(session, list(self.members), list(self.order_ids))


def _claim(
    session: Session,
    settings: Settings,
    form: str,
    claimer: int,
    order_ids: list[int],
    teammates: list[int],
    now: dt.datetime | None,
) -> ClaimOutcome:
    """Plan the claim with no lock held (the matcher's solve and checker), then take the street's
    write lock, lock the members' rows, check that nothing the plan rests on moved (the orders,
    the members' day) and write. A plan overtaken meanwhile is planned again; on any refusal
    nothing is written."""
    now = now or utcnow()
    members = [claimer, *teammates]
    for _attempt in range(ATTEMPTS):
        session.rollback()
        plan = _plan(session, settings, form, order_ids, members, now)
        session.rollback()
        begin_write(session, plan.street_id)
        try:
            _lock_members(session, members)
            plan.check(session)
            outcome = _write(session, settings, form, claimer, plan, now)
        except Stale:
            session.rollback()
            continue
        except ServiceError:
            session.rollback()
            raise
        session.commit()
        log.info(
            "claim %s by helper %s: orders %s (planned in %.3fs)",
            form,
            claimer,
            order_ids,
            plan.solve_s,
        )
        return outcome
    raise Conflict(_("the orders or your day changed meanwhile; try again"))


def _plan(
    session: Session,
    settings: Settings,
    form: str,
    order_ids: list[int],
    members: list[int],
    now: dt.datetime,
) -> ClaimPlan:
    """Check the members and orders and solve the claim (reads only; refusals raise). The basis
    is read first: the plan rests on what was read before solving."""
    began = time.perf_counter()
    street_id = _member_street(session, members)
    basis = _basis(session, members, order_ids)
    by_date: dict[dt.date, list[OrderRow]] = defaultdict(list)
    for order in _open_rows(session, settings, street_id, order_ids, now):
        _check_team_size(session, form, order, len(members))
        by_date[order.date].append(order)
    visits = [
        visit
        for date, orders in sorted(by_date.items())
        for visit in _plan_day(session, settings, street_id, date, orders, members, form)
    ]
    return ClaimPlan(
        basis=basis,
        solve_s=time.perf_counter() - began,
        members=tuple(members),
        order_ids=tuple(order_ids),
        street_id=street_id,
        visits=tuple(visits),
    )


def _basis(session: Session, members: list[int], order_ids: list[int]) -> Basis:
    """What a claim plan rests on: each order's status and version, and the members' live offers
    on those orders' dates (what is left of their day). Read before planning and again under
    the lock: any change in between means the plan is planned again."""
    orders = session.execute(
        select(OrderRow.id, OrderRow.status, OrderRow.version, OrderRow.date)
        .where(OrderRow.id.in_(order_ids))
        .order_by(OrderRow.id)
    ).all()
    busy = helpers_day(session, members, {row.date for row in orders})
    return (tuple(map(tuple, orders)), busy)


def _member_street(session: Session, members: list[int]) -> int:
    """The members are active helpers of the claimer's (the first member's) street; returns it."""
    rows = {
        helper_id: (street_id, active)
        for helper_id, street_id, active in session.execute(
            select(HelperRow.id, HelperRow.street_id, HelperRow.active).where(
                HelperRow.id.in_(members)
            )
        )
    }
    if members[0] not in rows or not rows[members[0]][1]:
        raise NotFound(_("helper not found or no longer active"))
    street_id = rows[members[0]][0]
    for teammate in members[1:]:
        if rows.get(teammate) != (street_id, True):
            raise BadInput(
                _(
                    "teammate %(teammate)s is not an active helper of your street",
                    teammate=teammate,
                ),
                field="teammate_ids",
            )
    return street_id


def _lock_members(session: Session, members: list[int]) -> None:
    """Lock the members' rows (in id order, so claims never deadlock) and check they are still
    active: a deactivation running beside the claim waits, or is seen."""
    locked = session.execute(
        select(HelperRow.id, HelperRow.active)
        .where(HelperRow.id.in_(members))
        .order_by(HelperRow.id)
        .with_for_update()
    ).all()
    if len(locked) != len(set(members)) or not all(active for _, active in locked):
        raise Conflict(_("a member was just deactivated"))


def _open_rows(
    session: Session, settings: Settings, street_id: int, order_ids: list[int], now: dt.datetime
) -> list[OrderRow]:
    """The orders in id order, each of this street, open, unmatched and not past."""
    orders = []
    for order_id in sorted(order_ids):
        order = session.get(OrderRow, order_id)
        if order is None or order.street_id != street_id:
            raise NotFound(_("order %(order_id)s not found", order_id=order_id), field="order_id")
        if order.status != "open" or live_assignment(session, order_id) is not None:
            raise Conflict(_("order %(order_id)s is already taken", order_id=order_id))
        if _too_late(settings, order, item_of(session, order), now):
            raise BadInput(_("order %(order_id)s is past", order_id=order_id), field="order_id")
        orders.append(order)
    return orders


def _check_team_size(session: Session, form: str, order: OrderRow, members: int) -> None:
    needed = item_of(session, order).team_size
    if form != "team" and needed > 1:
        raise BadInput(
            _(
                "order %(id)s needs a team of %(needed)s: claim it with teammates",
                id=order.id,
                needed=needed,
            ),
            field="order_id" if form == "single" else "order_ids",
        )
    if form == "team" and members != needed:
        raise BadInput(
            _(
                "the order needs a team of %(needed)s, yours has %(members)s",
                needed=needed,
                members=members,
            ),
            field="teammate_ids",
        )


def _plan_day(
    session: Session,
    settings: Settings,
    street_id: int,
    date: dt.date,
    orders: list[OrderRow],
    members: list[int],
    form: str,
) -> list[_Visit]:
    """Solve the day's claimed orders with only the members, all pinned; refuse with the reason
    when they cannot serve them (each on their own account, or all together)."""
    pins = {order.id: members for order in orders}
    street = build_problem(session, street_id, date, orders, pins=pins, helper_ids=set(members))
    params = SolveParams(
        time_limit_s=settings.rematch_time_limit_s, workers=1, candidate_limit=None
    )
    eligibility, contexts = build_contexts(street.problem, params.wait_boost, limit=None)
    for ctx in contexts:
        _check_members(eligibility, ctx, street, members)
    result = solve(street.problem, params)
    if not _covers_all(result, street.problem):
        if form == "bundle":
            raise _bundle_conflict(street, params)
        raise BadInput(_("this team cannot serve the order together"))
    visits = []
    for ctx in contexts:
        by_index = {c.helper: c for c in ctx.candidates}
        team = [by_index[i] for i in ctx.pinned]
        solved = result.assignment_of(ctx.order.id)
        start = solved.start if solved else None
        if form != "bundle" and ctx.timed:  # one visit alone: as early as everyone is free
            earliest = earliest_common_start(team)
            start = earliest if earliest is not None else start
        helpers = street.problem.helpers
        distances = {
            street.keys.helpers.row(helpers[c.helper].id): round(c.leg.km_one_way, 2) for c in team
        }
        visits.append(_Visit(street.orders[ctx.order.id], start, distances))
    _verify(street, visits)
    return visits


def _verify(street: StreetProblem, visits: list[_Visit]) -> None:
    """The claim as it will be written passes the matcher's own checker (one rule, one place);
    should it not, it is refused naming the rule."""
    chosen = [
        Assignment(
            order=street.keys.orders.key(v.order.id),
            helpers=tuple(sorted(street.keys.helpers.keys(v.distances))),
            start=v.start,
        )
        for v in visits
    ]
    broken = check_plan(street.problem, chosen)
    if broken:
        rules = _("; ").join(dict.fromkeys(rule_label(v.rule) for v in broken))
        raise BadInput(_("cannot claim: %(rules)s", rules=rules), field="order_ids")


def _check_members(
    eligibility: Eligibility, ctx: OrderContext, street: StreetProblem, members: list[int]
) -> None:
    """Each member could serve the order alone; together they hold any lead skill and speak the
    resident's language."""
    order_id = street.orders[ctx.order.id].id
    for helper_id in members:
        index = eligibility.helper_index[street.keys.helpers.key(helper_id)]
        leg = eligibility.travel.leg(street.problem.helpers[index], ctx.order)
        reason = pin_reason(eligibility, ctx, index, leg)
        if reason is not None:
            why = _(WHY_NOT[reason]) if reason in WHY_NOT else str(reason.value)
            claimer = helper_id == members[0]
            raise BadInput(
                _("you cannot take order %(order)s: %(why)s", order=order_id, why=why)
                if claimer
                else _(
                    "teammate %(teammate)s cannot take order %(order)s: %(why)s",
                    teammate=helper_id,
                    order=order_id,
                    why=why,
                ),
                field="order_id" if claimer else "teammate_ids",
            )
    team = [c for c in ctx.candidates if c.helper in set(ctx.pinned)]
    if ctx.needs_lead and not any(c.has_lead for c in team):
        lead = ctx.item.lead_skill
        raise BadInput(
            _(
                "order %(order_id)s needs a lead holding the skill %(lead)s",
                order_id=order_id,
                lead=lead,
            ),
        )
    if ctx.needs_language and not any(c.speaks for c in team):
        raise BadInput(
            _(
                "order %(order_id)s needs a member who speaks the resident's language",
                order_id=order_id,
            ),
        )


def _covers_all(result: Result, problem: Problem) -> bool:
    covered = result.status in (Status.OPTIMAL, Status.FEASIBLE)
    return covered and len(result.assignments) == len(problem.orders)


def _bundle_conflict(street: StreetProblem, params: SolveParams) -> BadInput:
    """Name the pairs of bundled orders the helper cannot do both of; when every pair fits, the
    bundle as a whole exceeds the helper's day."""
    problem = street.problem
    clashes = []
    for first, second in combinations(problem.orders, 2):
        pair = problem.model_copy(update={"orders": (first, second)})
        if not _covers_all(solve(pair, params), pair):
            clashes.append((street.orders[first.id].id, street.orders[second.id].id))
    if not clashes:
        helper = problem.helpers[0]
        orders, minutes = helper.max_orders, helper.max_minutes - helper.committed_minutes
        return BadInput(
            _(
                "together the orders exceed what is left of your day "
                "(%(orders)s orders, %(minutes)s minutes)",
                orders=orders,
                minutes=minutes,
            ),
            field="order_ids",
        )
    pairs = _(", ").join(_("orders %(a)s and %(b)s", a=a, b=b) for a, b in clashes)
    return BadInput(
        _("the bundled orders clash in time, travel included: %(pairs)s", pairs=pairs),
        field="order_ids",
    )


def _write(
    session: Session,
    settings: Settings,
    form: str,
    claimer: int,
    plan: ClaimPlan,
    now: dt.datetime,
) -> ClaimOutcome:
    """The claim and one assignment per order: the claimer accepted, teammates pending."""
    claim = ClaimRow(form=form, helper_id=claimer, created_at=now)
    session.add(claim)
    session.flush()
    claimed = []
    # in order id order: two claims never wait on each other's orders (no deadlocks)
    for visit in sorted(plan.visits, key=lambda v: v.order.id):
        _take(session, visit.order)
        assignment = create_assignment(
            session,
            settings,
            visit.order,
            list(visit.distances),
            source="claim",
            start_minute=visit.start,
            accepted=[claimer],
            claim_id=claim.id,
            distances=visit.distances,
            now=now,
        )
        members = {offer.helper_id: offer.status for offer in assignment.offers}
        order = visit.order
        claimed.append(ClaimedOrder(order.id, assignment.id, visit.start, order.status, members))
    user_id = session.scalar(select(UserRow.id).where(UserRow.helper_id == claimer))
    detail = {"orders": [c.order_id for c in claimed], "members": list(plan.visits[0].distances)}
    audit(session, user_id, f"claim.{form}", "claim", claim.id, detail)
    return ClaimOutcome(claim.id, form, claimed)


def _take(session: Session, order: OrderRow) -> None:
    """Compare-and-set on the order's version: only a claim that saw the order open, and
    unchanged since, takes it (a concurrent claim waits on the row, then finds it changed)."""
    taken = session.scalar(
        update(OrderRow)
        .where(
            OrderRow.id == order.id, OrderRow.status == "open", OrderRow.version == order.version
        )
        .values(version=OrderRow.version + 1)
        .returning(OrderRow.id)
        .execution_options(synchronize_session=False)
    )
    if taken is None:
        raise Conflict(_("order %(id)s was just taken", id=order.id))
    session.refresh(order)
