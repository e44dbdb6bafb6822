"""The database's invariants, written once: ``check_database`` lists every broken one.

Each invariant is one small function below (its docstring says what must hold). The rules of
matching (skills, lead skill, language, blocked pairs, reach, windows, availability, overlapping
visits, daily limits, team size) are not restated here: the live teams of each street and date
are handed to the matcher's own checker (``matcher.verify.check_plan``) on a problem where every
helper has their whole day. Assignments staff sent on purpose against a hard rule (a non-empty
``override_reason``) are left out of that check entirely: they are neither verified nor counted
against the helpers' other visits of the day.

What the database cannot tell: whether an offer withdrawn while ``accepted`` was withdrawn by a
re-run (forbidden) or by staff (cancel, reassign, deactivation: allowed). A withdrawal keeps no
trace of the status it ended, so "accepted members survive every re-run" is checked by the
stateful test around each nightly run (``tests/api/test_loop_state_machine.py``), not here.

Used by ``qunbang db check``, after every service test, and after every step of the stateful test.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.services.circles.totals import total_problems
from api.services.closing.points import balance
from api.services.hours import totals
from api.services.hours.checks import hours_ledger_problems
from api.services.ledger.street_catalogue import StreetCatalogue, StreetItem, street_catalogue
from api.services.matching.keys import Keys
from api.services.matching.problem import build_problem
from api.services.offers.assign import expected_order_status, live_offers
from api.services.programmes.invariants import pair_problems
from api.services.shop.checks import shop_findings
from api.store.statuses import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    UNMATCHED_ORDER_STATUSES,
    AssignmentStatus,
    FollowUpReason,
    OfferStatus,
    OrderStatus,
    PointsKind,
    Role,
)
from api.store.tables import (
    AssignmentRow,
    FollowUpRow,
    HelperRow,
    OfferRow,
    OrderRow,
    PointsEntry,
    UserRow,
)
from matcher.result import Assignment
from matcher.verify import COMPLETE_TEAM_RULES, check_plan
from matcher.verify import Violation as MatcherViolation


@dataclass(frozen=True)
class Violation:
    """One broken invariant: a stable ``code`` and a message naming the ids involved."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass
class _Loop:
    """What the checks read: the orders in scope, their live assignments and the items."""

    orders: dict[int, OrderRow]
    live: dict[int, list[AssignmentRow]]  # order id -> live assignments (at most one, we hope)
    catalogues: Callable[[int], StreetCatalogue]  # street id -> its effective catalogue
    street_id: int | None
    today: dt.date | None = None

    def item(self, order: OrderRow) -> StreetItem:
        return self.catalogues(order.street_id).item(order.item)

    def team_size(self, order: OrderRow) -> int:
        return self.item(order).team_size


def check_database(
    session: Session, street_id: int | None = None, today: dt.date | None = None
) -> list[Violation]:
    """Every broken invariant of the street (every street when ``street_id`` is None); empty if
    none. Reads only. With ``today`` (street time), the matching rules bind only the visits of
    today on: an earlier visit was checked when it was given out, and the ledger may change
    since (a helper who served mornings last week may serve afternoons now)."""
    loop = _read(session, street_id, today)
    found: list[Violation] = []
    for check in CHECKS:
        found += check(session, loop)
    return found


def _read(session: Session, street_id: int | None, today: dt.date | None) -> _Loop:
    orders = select(OrderRow).order_by(OrderRow.id)
    live = (
        select(AssignmentRow)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .where(AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES))
        .order_by(AssignmentRow.id)
    )
    if street_id is not None:
        orders = orders.where(OrderRow.street_id == street_id)
        live = live.where(OrderRow.street_id == street_id)
    by_order: dict[int, list[AssignmentRow]] = defaultdict(list)
    for assignment in session.scalars(live):
        by_order[assignment.order_id].append(assignment)
    return _Loop(
        orders={o.id: o for o in session.scalars(orders)},
        live=dict(by_order),
        catalogues=functools.cache(lambda street: street_catalogue(session, street)),
        street_id=street_id,
        today=today,
    )


# ----------------------------------------------------------------------------- offers and orders


def live_offers_on_live_assignments(session: Session, loop: _Loop) -> list[Violation]:
    """Every pending or accepted offer belongs to a live (active, done or confirmed) assignment:
    a withdrawn assignment holds no live member."""
    query = (
        select(OfferRow.id, OfferRow.helper_id, OfferRow.status, AssignmentRow, OrderRow.id)
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .where(
            OfferRow.status.in_(LIVE_OFFER_STATUSES),
            AssignmentRow.status.not_in(LIVE_ASSIGNMENT_STATUSES),
        )
        .order_by(OfferRow.id)
    )
    if loop.street_id is not None:
        query = query.where(OrderRow.street_id == loop.street_id)
    return [
        Violation(
            "offer_on_ended_assignment",
            f"offer {offer_id} (helper {helper_id}) is {status} on assignment {assignment.id} "
            f"of order {order_id}, which is {assignment.status}",
        )
        for offer_id, helper_id, status, assignment, order_id in session.execute(query)
    ]


def one_live_assignment(session: Session, loop: _Loop) -> list[Violation]:
    """An order has at most one live assignment (the partial unique index should ensure it)."""
    return [
        Violation(
            "two_live_assignments",
            f"order {order_id} has live assignments {[a.id for a in assignments]}",
        )
        for order_id, assignments in sorted(loop.live.items())
        if len(assignments) > 1
    ]


def order_status_agrees(session: Session, loop: _Loop) -> list[Violation]:
    """An order's status is the one its live assignment and offers give
    (``assign.expected_order_status``); a cancelled order, one waiting for review and a
    rejected one have no live assignment (they are never matched)."""
    found = []
    for order in loop.orders.values():
        assignment = next(iter(loop.live.get(order.id, [])), None)
        if order.status in UNMATCHED_ORDER_STATUSES and assignment is not None:
            found.append(
                Violation(
                    "cancelled_with_team"
                    if order.status == OrderStatus.CANCELLED
                    else "unreviewed_with_team",
                    f"order {order.id} is {order.status} but assignment {assignment.id} is "
                    f"{assignment.status}",
                )
            )
            continue
        accepted = sum(o.status == OfferStatus.ACCEPTED for o in _members(assignment))
        expected = expected_order_status(
            order.status,
            assignment.status if assignment else None,
            accepted,
            loop.team_size(order),
        )
        if expected != order.status:
            where = f"assignment {assignment.id} {assignment.status}" if assignment else "none"
            found.append(
                Violation(
                    "order_status",
                    f"order {order.id} is {order.status}, expected {expected} (live "
                    f"assignment: {where}; {accepted} of {loop.team_size(order)} accepted)",
                )
            )
    return found


def reviews_are_recorded(session: Session, loop: _Loop) -> list[Violation]:
    """The review step (社区下单) leaves its trace: an order waiting for review was reviewed by
    nobody yet; a rejected one names its reviewer and the reason its requester reads."""
    found = []
    for order in loop.orders.values():
        if order.status == OrderStatus.REVIEW and order.reviewed_by is not None:
            found.append(
                Violation("review_decided", f"order {order.id} is in review but was reviewed")
            )
        if order.status == OrderStatus.REJECTED and (
            order.reviewed_by is None or not order.reject_reason.strip()
        ):
            found.append(
                Violation(
                    "rejected_without_reason",
                    f"order {order.id} is rejected without a reviewer or a reason",
                )
            )
    return found


def teams_are_whole(session: Session, loop: _Loop) -> list[Violation]:
    """An active assignment has at least one live member (an emptied team ends, so the order is
    open and claimable again); a done or confirmed one has its whole team accepted and nobody
    pending."""
    found = []
    for order_id, assignments in sorted(loop.live.items()):
        assignment = assignments[0]
        members = _members(assignment)
        if assignment.status == AssignmentStatus.ACTIVE and not members:
            found.append(
                Violation(
                    "empty_assignment",
                    f"assignment {assignment.id} of order {order_id} is active without a "
                    "pending or accepted member",
                )
            )
        elif assignment.status != AssignmentStatus.ACTIVE:
            accepted = [o for o in members if o.status == OfferStatus.ACCEPTED]
            size = loop.team_size(loop.orders[order_id])
            if len(accepted) < size or len(accepted) < len(members):
                found.append(
                    Violation(
                        "unfinished_team_done",
                        f"assignment {assignment.id} of order {order_id} is "
                        f"{assignment.status} with {len(accepted)} accepted of {size} and "
                        f"{len(members) - len(accepted)} pending",
                    )
                )
    return found


def _members(assignment: AssignmentRow | None) -> list[OfferRow]:
    return live_offers(assignment) if assignment is not None else []


# ----------------------------------------------------------------------------- the matching rules


def matching_rules_hold(session: Session, loop: _Loop) -> list[Violation]:
    """The live teams of each street and date, pending members included, pass the matcher's
    verifier with every helper's whole day: no team larger than its size, no helper with
    overlapping visits or over their daily limits, skills, reach, windows, availability.
    Overridden assignments are left out; a team with a place still to fill may lack its size,
    lead skill or language for now."""
    days: dict[tuple[int, object], list[AssignmentRow]] = defaultdict(list)
    for order_id, assignments in sorted(loop.live.items()):
        order = loop.orders[order_id]
        if not assignments[0].override_reason and (loop.today is None or order.date >= loop.today):
            days[(order.street_id, order.date)].append(assignments[0])
    found = []
    for (street_id, _), assignments in sorted(days.items(), key=lambda kv: str(kv[0])):
        found += _verify_day(session, loop, street_id, assignments)
    return found


def _verify_day(
    session: Session, loop: _Loop, street_id: int, assignments: list[AssignmentRow]
) -> list[Violation]:
    teams = {a.order_id: [o.helper_id for o in live_offers(a)] for a in assignments}
    orders = [loop.orders[a.order_id] for a in assignments]
    date = orders[0].date
    try:
        members = {h for team in teams.values() for h in team}
        street = build_problem(session, street_id, date, orders, committed=False, members=members)
    except ValueError as error:  # the rows do not even make a valid problem
        return [Violation("problem_invalid", f"street {street_id} on {date}: {error}")]
    problem, keys = street.problem, street.keys
    plan = [
        Assignment(
            order=keys.orders.key(a.order_id),
            helpers=keys.helpers.keys(teams[a.order_id]),
            start=a.start_minute,
        )
        for a in assignments
    ]
    found = []
    for violation in check_plan(problem, plan):
        if violation.rule in COMPLETE_TEAM_RULES and violation.order is not None:
            order = problem.order(violation.order)
            size, team = problem.team_size(order), teams[keys.orders.row(violation.order)]
            if len(team) < size:  # a place still to fill
                continue
        found.append(Violation(f"rule_{violation.rule}", f"{date}: {_named(violation, keys)}"))
    return found


def _named(violation: MatcherViolation, keys: Keys) -> str:
    """The order and helper a matcher violation is about, by their row ids, then the
    matcher's own diagnostic (which speaks of the matcher's ids)."""
    where = []
    if violation.order is not None:
        where.append(f"order {keys.orders.row(violation.order)}")
    if violation.helper is not None:
        where.append(f"helper {keys.helpers.row(violation.helper)}")
    return f"{', '.join(where) or 'plan'}: {violation.message} (matcher ids)"


# ----------------------------------------------------------------------------- points


def base_points_once(session: Session, loop: _Loop) -> list[Violation]:
    """Base points are paid exactly once per confirmed member: for a confirmed order whose item
    earns points, each accepted member has exactly one base entry for it (staff may reverse it
    later: a reversed entry still counts as the one payment, and no second one may follow);
    nobody else has an unreversed base entry for it; an order not confirmed has none."""
    entries = _entries(session, loop)
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id is not None}
    base: dict[tuple[int | None, int], list[PointsEntry]] = defaultdict(list)
    for entry in entries:
        if entry.kind == PointsKind.BASE:
            base[(entry.order_id, entry.helper_id)].append(entry)
    paid: set[tuple[int | None, int]] = set()
    found = []
    for order_id, assignments in sorted(loop.live.items()):
        assignment, order = assignments[0], loop.orders[order_id]
        if assignment.status != AssignmentStatus.CONFIRMED or loop.item(order).points <= 0:
            continue
        for offer in live_offers(assignment):
            key = (order_id, offer.helper_id)
            paid.add(key)
            if len(base[key]) != 1:
                found.append(
                    Violation(
                        "base_points_count",
                        f"confirmed order {order_id}: helper {offer.helper_id} has "
                        f"{len(base[key])} base entries {[e.id for e in base[key]]}, expected 1",
                    )
                )
    for (entry_order, helper_id), rows in sorted(base.items(), key=lambda kv: str(kv[0])):
        unreversed = [e.id for e in rows if e.id not in reversed_ids]
        if (entry_order, helper_id) not in paid and unreversed:
            known = loop.orders.get(entry_order) if entry_order is not None else None
            status = known.status if known is not None else "unknown"
            found.append(
                Violation(
                    "base_points_unearned",
                    f"helper {helper_id} has unreversed base entries {unreversed} for order "
                    f"{entry_order} ({status}), of which they are no confirmed member",
                )
            )
    return found


def balances_match_ledger(session: Session, loop: _Loop) -> list[Violation]:
    """Each reversal exactly undoes one entry that is not a reversal (same helper and order,
    opposite amount); credits are positive and shop redemptions negative; so each helper's
    balance, as ``points.balance`` reports it, equals the sum of their unreversed entries and
    is never negative."""
    entries = _entries(session, loop)
    by_id = {e.id: e for e in entries}
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id is not None}
    found = []
    for entry in entries:
        if entry.kind != PointsKind.REVERSAL:
            # a shop redemption is the one debit; every other kind credits
            if (entry.amount >= 0) if entry.kind == PointsKind.REDEMPTION else (entry.amount <= 0):
                text = (
                    f"{entry.kind} entry {entry.id} of helper {entry.helper_id} is {entry.amount}"
                )
                found.append(Violation("points_sign", text))
            continue
        original = by_id.get(entry.reverses_id) if entry.reverses_id is not None else None
        if (
            original is None
            or original.kind == PointsKind.REVERSAL
            or (original.helper_id, original.order_id, -original.amount)
            != (entry.helper_id, entry.order_id, entry.amount)
        ):
            found.append(
                Violation(
                    "reversal_mismatch",
                    f"reversal {entry.id} ({entry.amount} for helper {entry.helper_id}) does "
                    f"not undo entry {entry.reverses_id}",
                )
            )
    credits: Counter[int] = Counter()
    for entry in entries:
        if entry.kind != PointsKind.REVERSAL and entry.id not in reversed_ids:
            credits[entry.helper_id] += entry.amount
    for helper_id in sorted({e.helper_id for e in entries}):
        reported = balance(session, helper_id)
        if reported != credits[helper_id] or reported < 0:
            found.append(
                Violation(
                    "balance",
                    f"helper {helper_id}: balance {reported}, unreversed credits "
                    f"{credits[helper_id]}",
                )
            )
    return found


def hours_ledger_consistent(session: Session, loop: _Loop) -> list[Violation]:
    """The hours ledger agrees with the confirmed visits and their clocks
    (``hours.checks.hours_ledger_problems`` says what must hold)."""
    problems = hours_ledger_problems(session, loop.orders, loop.live, loop.street_id)
    return [Violation(code, message) for code, message in problems]


def honour_totals_agree(session: Session, loop: _Loop) -> list[Violation]:
    """The honour roll's running totals are the ledgers' sums per helper and day
    (``hours.totals``: what counts, by which day)."""
    return [Violation(code, message) for code, message in totals.problems(session, loop.street_id)]


# ----------------------------------------------------------------------------- follow-up visits


def rule_follow_ups_once(session: Session, loop: _Loop) -> list[Violation]:
    """An order has at most one follow-up by the street's rules (category or sample): the two
    count as one visit (``closing.follow_ups.SAME_VISIT``)."""
    rules = (FollowUpReason.CATEGORY, FollowUpReason.SAMPLE)
    query = (
        select(FollowUpRow.order_id, func.count(FollowUpRow.id))
        .where(FollowUpRow.reason.in_(rules))
        .group_by(FollowUpRow.order_id)
        .having(func.count(FollowUpRow.id) > 1)
        .order_by(FollowUpRow.order_id)
    )
    return [
        Violation("rule_follow_up_twice", f"order {order_id} has {count} rule follow-ups")
        for order_id, count in session.execute(query)
        if order_id in loop.orders
    ]


def follow_up_owners_in_scope(session: Session, loop: _Loop) -> list[Violation]:
    """An owned follow-up's owner is a staff account of its order's street, and of the
    resident's community if the account is scoped to one; or the grid worker of the resident's
    grid."""
    query = (
        select(FollowUpRow.id, FollowUpRow.order_id, UserRow)
        .join(UserRow, FollowUpRow.owner_id == UserRow.id)
        .order_by(FollowUpRow.id)
    )
    found = []
    for follow_up_id, order_id, owner in session.execute(query):
        order = loop.orders.get(order_id)
        if order is None:
            continue
        community = order.resident.community_id
        staff = owner.role == Role.STAFF and owner.community_id in (None, community)
        grid_worker = owner.role == Role.GRID_WORKER and owner.grid_id == order.resident.grid_id
        if owner.street_id != order.street_id or not (staff or grid_worker):
            found.append(
                Violation(
                    "follow_up_owner_scope",
                    f"follow-up {follow_up_id} of order {order_id} is owned by user {owner.id} "
                    f"({owner.role}) outside the order's street or community",
                )
            )
    return found


def shop_and_wishes_agree(session: Session, loop: _Loop) -> list[Violation]:
    """The points shop's and the wish board's invariants (``api.services.shop.checks``): stock
    never negative, receipts match their debits and refunds, wishes pay once."""
    return [Violation(code, message) for code, message in shop_findings(session, loop.street_id)]


def _entries(session: Session, loop: _Loop) -> list[PointsEntry]:
    query = select(PointsEntry).order_by(PointsEntry.id)
    if loop.street_id is not None:
        query = query.join(HelperRow, PointsEntry.helper_id == HelperRow.id).where(
            HelperRow.street_id == loop.street_id
        )
    return list(session.scalars(query))


def circle_totals_agree(session: Session, loop: _Loop) -> list[Violation]:
    """Each resident-helper pair's running totals equal the history's aggregate
    (``circles.totals``: a writer of visits or scores that did not refresh them is caught)."""
    return [Violation(code, message) for code, message in total_problems(session, loop.street_id)]


def programme_pairs_hold(session: Session, loop: _Loop) -> list[Violation]:
    """Pairing programmes' pairs (``api.services.programmes.invariants``)."""
    return [Violation(code, message) for code, message in pair_problems(session, loop.street_id)]


CHECKS: tuple[Callable[[Session, _Loop], list[Violation]], ...] = (
    live_offers_on_live_assignments,
    one_live_assignment,
    order_status_agrees,
    reviews_are_recorded,
    teams_are_whole,
    matching_rules_hold,
    base_points_once,
    balances_match_ledger,
    hours_ledger_consistent,
    honour_totals_agree,
    rule_follow_ups_once,
    follow_up_owners_in_scope,
    programme_pairs_hold,
    circle_totals_agree,
    shop_and_wishes_agree,
)
