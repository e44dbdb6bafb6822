"""Staff dispatching by hand (下单): pick a team from a ranked list, reassign, cancel.

Every function checks that the order lies in the caller's scope (their street, or their
community); an order outside it is ``NotFound``, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import i18n
from api.i18n import gettext as _
from api.i18n import ngettext, pgettext
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict
from api.services.matching.day_loads import visits_on
from api.services.matching.explain_text import reason_label, rule_label
from api.services.matching.problem import (
    TeamViolation,
    build_problem,
    leg_minutes,
    team_violations,
)
from api.services.messages.results import tell_requesters
from api.services.offers.assign import (
    create_assignment,
    item_of,
    live_assignment,
    live_assignments,
    team_size,
    withdraw_assignment,
)
from api.services.offers.rematch import refused_helpers
from api.services.orders import scope_orders, scoped_order, scoped_orders
from api.services.types import UtcDateTime
from api.settings import Settings
from api.store.db import begin_write
from api.store.statuses import (
    CANCELLABLE_ORDER_STATUSES,
    AssignmentStatus,
    NotificationKind,
    OfferStatus,
)
from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    OPEN_ORDER_STATUSES,
    AssignmentRow,
    FeedbackRow,
    HelperRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    UserRow,
    utcnow,
)
from matcher.eligible import Eligible, eligible_helpers
from matcher.result import Reason

log = logging.getLogger("qunbang.dispatch")


@dataclass(frozen=True)
class MemberView:
    helper_id: int
    name: str
    offer_status: str
    respond_by: UtcDateTime
    distance_km: float | None


@dataclass(frozen=True)
class TeamView:
    """An order's live team as staff see it (after a reassignment)."""

    order_id: int
    order_status: str
    assignment_id: int
    source: str
    start_minute: int | None
    members: list[MemberView]


@dataclass(frozen=True)
class CancelView:
    order_id: int
    status: str
    cancelled_at: UtcDateTime
    reason: str
    offers_withdrawn: int


@dataclass(frozen=True)
class CandidateView:
    helper_id: int
    name: str
    community_id: int
    km_one_way: float
    in_circle: bool
    has_lead: bool
    speaks: bool
    gender_mismatch: bool
    offer_status: str | None  # on this order's live team, if there
    why: list[str]
    visits: int = 0  # visits that day so far
    max_orders: int = 0  # their daily limit
    score_from_resident: tuple[float, int] | None = None  # mean score and how many, if any
    score_overall: tuple[float, int] | None = None


@dataclass(frozen=True)
class CandidatesView:
    order_id: int
    team_size: int
    blocked_reason: str | None
    blocked_label: str | None  # the reason's name in the reader's language
    items: list[CandidateView]


# ----------------------------------------------------------------------------- reassign


class RuleBroken(BadInput):
    """A hand-picked team breaks a hard rule and staff gave no reason to override it."""

    code = "rule_broken"

    def __init__(self, message: str, rules: list[str]) -> None:
        super().__init__(message, "helper_ids")
        self.rules = rules


def reassign(
    session: Session,
    settings: Settings,
    actor: Actor,
    order_id: int,
    helper_ids: list[int],
    now: dt.datetime | None = None,
    *,
    override_reason: str = "",
) -> TeamView:
    """Hand the order to a team staff picked: the live team is withdrawn (its members told of
    the change) and the picked helpers get pending offers (source ``manual``), at the same
    visit time. The team must pass the matcher's own checker (skills, reach, time, limits,
    overlaps); a team that breaks a rule is refused naming it, unless staff give a reason to
    override, which is recorded on the assignment and audited. Hand-picked teams are kept by
    later nightly runs; an overridden one is left out of their plans altogether."""
    now = now or utcnow()
    street_id = session.scalar(select(OrderRow.street_id).where(OrderRow.id == order_id))
    session.rollback()
    begin_write(session, street_id)
    order = scoped_order(session, actor, order_id)
    if order.status not in OPEN_ORDER_STATUSES:
        status = pgettext("order_status", order.status)  # its label, as the pages name it
        raise Conflict(_("an order %(status)s can't move", status=status))
    team = _check_team(session, order, helper_ids)
    live = live_assignment(session, order.id)
    start = live.start_minute if live is not None else order.window_start
    broken = team_violations(
        session, order, [h.id for h in team], start, refused_helpers(session, [order.id])
    )
    reason = override_reason.strip()[:500]
    if broken and not reason:
        raise _rule_broken(session, broken)
    if live is not None:
        withdraw_assignment(session, live, "change", now)
        session.flush()
    distances = {h.id: round(leg_minutes(h, order.resident)[0], 3) for h in team}
    assignment = create_assignment(
        session,
        settings,
        order,
        [h.id for h in team],
        source="manual",
        start_minute=start,
        distances=distances,
        now=now,
    )
    detail: dict[str, object] = {
        "helpers": [h.id for h in team],
        "replaced": live.id if live else None,
    }
    if broken:
        assignment.override_reason, assignment.override_by = reason, actor.user_id
        detail |= {"override_reason": reason, "rules": sorted({str(v.rule) for v in broken})}
    action = "order.override" if broken else "order.reassign"
    audit(session, actor.user_id, action, "order", order.id, detail)
    session.commit()
    log.info("order %s reassigned by user %s: %s", order.id, actor.user_id, detail)
    return _team_view(session, order, assignment)


def _rule_broken(session: Session, broken: list[TeamViolation]) -> RuleBroken:
    """The refusal, naming each broken rule and who breaks it (by helper number)."""
    parts = []
    for violation in broken:
        rule = rule_label(violation.rule)
        who = violation.helper_id
        parts.append(_("%(rule)s (helper %(who)s)", rule=rule, who=who) if who else rule)
    return RuleBroken(
        _(
            "breaks a rule: %(rules)s. To send them anyway, give a reason",
            rules=_("; ").join(dict.fromkeys(parts)),
        ),
        sorted({str(v.rule) for v in broken}),
    )


def _check_team(session: Session, order: OrderRow, helper_ids: list[int]) -> list[HelperRow]:
    """The picked helpers: as many as the item's team, distinct, active, of the order's street."""
    size = team_size(session, order)
    if len(helper_ids) != size or len(set(helper_ids)) != size:
        raise BadInput(_("pick exactly %(size)s different helper(s)", size=size), "helper_ids")
    rows = {h.id: h for h in session.scalars(select(HelperRow).where(HelperRow.id.in_(helper_ids)))}
    for helper_id in helper_ids:
        helper = rows.get(helper_id)
        if helper is None or helper.street_id != order.street_id or not helper.active:
            raise BadInput(
                _(
                    "helper %(helper_id)s is not an active helper of this street",
                    helper_id=helper_id,
                ),
                "helper_ids",
            )
    return [rows[h] for h in helper_ids]


def _team_view(session: Session, order: OrderRow, assignment: AssignmentRow) -> TeamView:
    session.refresh(assignment)
    ids = [o.helper_id for o in assignment.offers]
    rows = session.execute(select(HelperRow.id, HelperRow.name).where(HelperRow.id.in_(ids)))
    names = {helper_id: name for helper_id, name in rows}
    members = [
        MemberView(o.helper_id, names[o.helper_id], o.status, o.respond_by, o.distance_km)
        for o in sorted(assignment.offers, key=lambda o: o.id)
        if o.status in LIVE_OFFER_STATUSES
    ]
    return TeamView(
        order.id, order.status, assignment.id, assignment.source, assignment.start_minute, members
    )


# ----------------------------------------------------------------------------- cancel


def cancel_order(
    session: Session,
    settings: Settings,
    actor: Actor,
    order_id: int,
    reason: str,
    now: dt.datetime | None = None,
) -> CancelView:
    """Cancel an order not yet done: its live team is withdrawn and every member told."""
    now = now or utcnow()
    begin_write(session)
    order = scoped_order(session, actor, order_id)
    if order.status not in CANCELLABLE_ORDER_STATUSES:
        status = pgettext("order_status", order.status)
        raise Conflict(_("an order %(status)s can't be cancelled", status=status))
    live = live_assignment(session, order.id)
    withdrawn = 0
    if live is not None:
        withdrawn = sum(o.status in LIVE_OFFER_STATUSES for o in live.offers)
        withdraw_assignment(session, live, "cancellation", now)
    order.status, order.cancelled_at, order.cancel_reason = "cancelled", now, reason
    order.version += 1
    # The requesters are told it cannot be done, unless they cancelled it themselves.
    tell_requesters(session, order, NotificationKind.NOT_DONE, "cancelled", skip=actor.user_id)
    audit(session, actor.user_id, "order.cancel", "order", order.id, {"reason": reason})
    session.commit()
    log.info("order %s cancelled by user %s", order.id, actor.user_id)
    return CancelView(order.id, order.status, now, reason, withdrawn)


# ----------------------------------------------------------------------------- candidates


def candidates_for(
    session: Session, actor: Actor, order_id: int, limit: int = 20
) -> CandidatesView:
    """Helpers able to serve the order on their own account, best first (``_rank``); each with
    why (distance, circle or not, visits that day of their limit, past scores, lead skill,
    language)."""
    return candidates_for_many(session, actor, [order_id], limit)[order_id]


def candidates_for_many(
    session: Session, actor: Actor, order_ids: Iterable[int], limit: int = 20
) -> dict[int, CandidatesView]:
    """``candidates_for`` of each order (a page listing several). Orders of one street and day
    that have no live team are judged in one problem, so what they ask of the street (its
    helpers and their day) is read once: the answers are the same, since the only visits an
    order's problem leaves out of the helpers' day are its own team's. The helpers' visits
    that day and their past scores are read once for all the orders (one grouped query each)."""
    orders = scoped_orders(session, actor, order_ids)  # one statement each, not one per order
    live = live_assignments(session, [order.id for order in orders])
    teams = {order.id: live.get(order.id) for order in orders}
    groups: dict[tuple[object, ...], list[OrderRow]] = defaultdict(list)
    for order in orders:
        alone = teams[order.id] is not None
        groups[("alone", order.id) if alone else (order.street_id, order.date)].append(order)
    found: dict[int, _Options] = {}
    for group in groups.values():
        found.update(_options(session, group, limit))
    shortlisted = {o.id: [h for h, _ in found[o.id].helpers] for o in orders}
    loads = _loads(session, orders, shortlisted)
    scores = past_scores(session, {h for ids in shortlisted.values() for h in ids})
    return {
        order.id: _view(session, order, found[order.id], teams[order.id], loads, scores, limit)
        for order in orders
    }


# How many of an order's nearest eligible helpers (besides its circle) are read for their day
# and scores before ranking: ranking only reorders near helpers, it never reaches far ones.
SHORTLIST = 4


@dataclass(frozen=True)
class _Options:
    """An order's eligible helpers (row id, the matcher's facts), nearest first, and why none."""

    team: int
    helpers: list[tuple[int, Eligible]]
    blocked: Reason | None
    rows: dict[int, Any]  # helper rows by id


def _options(session: Session, orders: list[OrderRow], limit: int) -> dict[int, _Options]:
    """The eligible helpers of ``orders`` (one street and day), from one problem of just those."""
    first = orders[0]
    problem = build_problem(  # ``near``: only who could serve one of them enters
        session,
        first.street_id,
        first.date,
        orders,
        refused=refused_helpers(session, [order.id for order in orders]),
        near=True,
        answers_only=True,
    )
    options = {o.order: o for o in eligible_helpers(problem.problem, settled=problem.settled)}
    found = {}
    for order in orders:
        option = options[problem.keys.orders.key(order.id)]
        nearest = sorted(option.helpers, key=lambda e: (not e.in_circle, e.km_one_way))
        circle = sum(e.in_circle for e in nearest)
        kept = nearest[: circle + SHORTLIST * limit]
        rows = {problem.keys.helpers.row(e.helper): problem.helpers[e.helper] for e in kept}
        found[order.id] = _Options(
            option.team,
            [(problem.keys.helpers.row(e.helper), e) for e in kept],
            option.blocked_reason,
            rows,
        )
    return found


def _loads(
    session: Session, orders: list[OrderRow], helpers: dict[int, list[int]]
) -> dict[tuple[dt.date, int], int]:
    """Visits that day of each order's shortlisted helpers (one query per date on the page)."""
    by_date: dict[dt.date, set[int]] = defaultdict(set)
    for order in orders:
        by_date[order.date].update(helpers[order.id])
    return {
        (date, helper): count
        for date, ids in by_date.items()
        for helper, count in visits_on(session, date, ids).items()
    }


@dataclass(frozen=True)
class PastScores:
    """A helper's feedback scores: the mean and count overall, and from each resident."""

    overall: tuple[float, int]
    by_resident: dict[int, tuple[float, int]]


def past_scores(session: Session, helper_ids: set[int]) -> dict[int, PastScores]:
    """The feedback scores of visits each helper took part in (accepted members of done or
    confirmed visits), overall and per resident: one grouped query."""
    if not helper_ids:
        return {}
    query = (
        select(
            OfferRow.helper_id,
            OrderRow.resident_id,
            func.sum(FeedbackRow.score),
            func.count(FeedbackRow.id),
        )
        .join(OrderRow, FeedbackRow.order_id == OrderRow.id)
        .join(AssignmentRow, AssignmentRow.order_id == OrderRow.id)
        .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
        .where(
            OfferRow.helper_id.in_(sorted(helper_ids)),
            OfferRow.status == OfferStatus.ACCEPTED,
            AssignmentRow.status.in_((AssignmentStatus.DONE, AssignmentStatus.CONFIRMED)),
        )
        .group_by(OfferRow.helper_id, OrderRow.resident_id)
    )
    sums: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for helper_id, resident_id, total, count in session.execute(query):
        sums[helper_id][resident_id] = (int(total), int(count))
    return {
        helper_id: PastScores(
            overall=(
                sum(t for t, _ in per.values()) / sum(c for _, c in per.values()),
                sum(c for _, c in per.values()),
            ),
            by_resident={r: (t / c, c) for r, (t, c) in per.items()},
        )
        for helper_id, per in sums.items()
    }


LOW_SCORE = 2.0  # a mean this low from the resident puts the helper after the others


def _rank(
    eligible: Eligible, visits: int, from_resident: tuple[float, int] | None
) -> tuple[bool, bool, int, int, float]:
    """Best first: the resident's circle; not someone the resident scored low; then by half
    kilometre, and within one the lighter day; then the nearer."""
    low = from_resident is not None and from_resident[0] <= LOW_SCORE
    return (not eligible.in_circle, low, int(eligible.km_one_way * 2), visits, eligible.km_one_way)


def _view(
    session: Session,
    order: OrderRow,
    found: _Options,
    live: AssignmentRow | None,
    loads: dict[tuple[dt.date, int], int],
    scores: dict[int, PastScores],
    limit: int,
) -> CandidatesView:
    """The order's candidates, ranked (``_rank``) and cut to ``limit``, each with why."""
    on_team = {
        o.helper_id: o.status
        for o in (live.offers if live is not None else [])
        if o.status in LIVE_OFFER_STATUSES
    }
    item = item_of(session, order)
    resident = order.resident

    def facts(helper_id: int) -> tuple[int, tuple[float, int] | None]:
        past = scores.get(helper_id)
        return loads.get((order.date, helper_id), 0), (
            past.by_resident.get(resident.id) if past else None
        )

    ranked = sorted(found.helpers, key=lambda pair: _rank(pair[1], *facts(pair[0])))[:limit]
    items = []
    for helper_id, eligible in ranked:
        helper = found.rows[helper_id]
        visits, from_resident = facts(helper_id)
        past = scores.get(helper_id)
        items.append(
            CandidateView(
                helper_id=helper.id,
                name=helper.name,
                community_id=helper.community_id,
                km_one_way=round(eligible.km_one_way, 3),
                in_circle=eligible.in_circle,
                has_lead=eligible.has_lead,
                speaks=eligible.speaks,
                gender_mismatch=eligible.gender_mismatch,
                offer_status=on_team.get(helper.id),
                why=_why(eligible, item.lead_skill, resident.language)
                + _load_and_scores(visits, helper.max_orders, from_resident, past),
                visits=visits,
                max_orders=helper.max_orders,
                score_from_resident=from_resident,
                score_overall=past.overall if past else None,
            )
        )
    blocked = found.blocked
    return CandidatesView(
        order.id,
        found.team,
        str(blocked) if blocked else None,
        reason_label(blocked) if blocked else None,
        items,
    )


def _load_and_scores(
    visits: int,
    limit: int,
    from_resident: tuple[float, int] | None,
    past: PastScores | None,
) -> list[str]:
    """Why, continued: the helper's day so far and what residents scored them."""
    reasons = [_("%(visits)s of %(limit)s visits that day", visits=visits, limit=limit)]
    if from_resident is not None:
        reasons.append(
            ngettext(
                "scored %(score)s by this resident (%(n)s visit)",
                "scored %(score)s by this resident on average (%(n)s visits)",
                from_resident[1],
                score=i18n.format_number(from_resident[0], 1),
            )
        )
    if past is not None:
        reasons.append(
            ngettext(
                "scored %(score)s overall (%(n)s visit)",
                "scored %(score)s overall on average (%(n)s visits)",
                past.overall[1],
                score=i18n.format_number(past.overall[0], 1),
            )
        )
    else:
        reasons.append(_("no scores yet"))
    return reasons


def _why(eligible: Eligible, lead_skill: str | None, language: str | None) -> list[str]:
    reasons = [_("%(distance)s away", distance=i18n.format_km(eligible.km_one_way))]
    if eligible.in_circle:
        reasons.append(_("in the resident's circle"))
    else:
        reasons.append(_("not in the resident's circle"))
    if lead_skill and eligible.has_lead:
        reasons.append(_("holds the lead skill (%(lead_skill)s)", lead_skill=lead_skill))
    if language and eligible.speaks:
        reasons.append(_("speaks the resident's language (%(language)s)", language=language))
    if eligible.gender_mismatch:
        reasons.append(_("not the gender the resident prefers"))
    return reasons


# ----------------------------------------------------------------------------- overrides


@dataclass(frozen=True)
class OverrideView:
    """A live team staff sent against a hard rule, with their reason."""

    order_id: int
    assignment_id: int
    helper_ids: list[int]
    helper_names: list[str]
    reason: str
    by: str
    at: dt.datetime


def overrides_on(session: Session, actor: Actor, date: dt.date) -> list[OverrideView]:
    """The live overridden teams of the date that the caller may see (staff only)."""
    if actor.role != "staff":
        return []
    stmt = (
        select(AssignmentRow, UserRow.username)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
        .outerjoin(UserRow, AssignmentRow.override_by == UserRow.id)
        .where(
            OrderRow.date == date,
            AssignmentRow.override_reason != "",
            AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
        )
        .order_by(OrderRow.id)
    )
    found = []
    for assignment, username in session.execute(scope_orders(stmt, actor)):
        members = [o for o in assignment.offers if o.status in LIVE_OFFER_STATUSES]
        found.append(
            OverrideView(
                order_id=assignment.order_id,
                assignment_id=assignment.id,
                helper_ids=[o.helper_id for o in members],
                helper_names=[o.helper.name for o in members],
                reason=assignment.override_reason,
                by=username or "",
                at=assignment.created_at,
            )
        )
    return found
