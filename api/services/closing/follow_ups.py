"""Follow-up visits (跟踪回访) by the street's rules: when and for whom one is scheduled.

A street chooses (``qunbang street init``, the ``settings`` of its file; stored on ``streets``):

- every order of some resident categories (e.g. 独居 ``living_alone``, 失独 ``lost_only_child``),
- a share of the other orders (``follow_up_sample_percent``), drawn by a hash of the order's id:
  the same order is always in or always out, so applying the rules again never changes the
  sample, and no random state is kept,
- and, whatever it chooses, every feedback score at or below ``Settings.low_score_threshold``.

The category and sample rules are applied when staff confirm a visit (``visits.confirm_done``),
the low score when the feedback is given (``visits.give_feedback``); ``apply_rules`` applies the
category and sample rules again to the confirmed orders of some days (after a street changed
its rules). Each is idempotent: at most one follow-up per order and reason (a unique
constraint backs the check), and the two rules together schedule at most one per order (an
order the sample took is not visited again when its category is chosen later). A follow-up
is due ``follow_up_days`` after the visit (a low score: after the feedback), never before
today, and owned by ``follow_up_owner``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Forbidden
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.db import begin_write
from api.store.statuses import FollowUpReason, OrderStatus, Role
from api.store.tables import FollowUpRow, OrderRow, ResidentRow, Street, UserRow, utcnow

# Reasons that count as one: an order followed up for one of them is not scheduled for another.
SAME_VISIT = {
    FollowUpReason.CATEGORY: (FollowUpReason.CATEGORY, FollowUpReason.SAMPLE),
    FollowUpReason.SAMPLE: (FollowUpReason.CATEGORY, FollowUpReason.SAMPLE),
    FollowUpReason.LOW_SCORE: (FollowUpReason.LOW_SCORE,),
}
SAMPLE_SCALE = 10_000  # the hash's draw is one of this many slots (percent * 100 of them in)
APPLY_MAX_DAYS = 366  # ``apply_rules`` looks at most this many days of confirmed visits


@dataclass(frozen=True)
class Rules:
    """A street's follow-up rules (the low score applies everywhere)."""

    categories: frozenset[str]
    sample_percent: int
    days: int


@dataclass(frozen=True)
class RulesApplied:
    """What ``apply_rules`` did: orders looked at, follow-ups added, and those found already."""

    orders: int
    added: int
    existing: int


def street_rules(session: Session, settings: Settings, street_id: int) -> Rules:
    """The street's rules; a street that sets no due days uses ``settings.follow_up_days``."""
    street = session.get_one(Street, street_id)
    days = street.follow_up_days
    return Rules(
        categories=frozenset(street.follow_up_categories or ()),
        sample_percent=street.follow_up_sample_percent,
        days=settings.follow_up_days if days is None else days,
    )


def in_sample(order_id: int, percent: int) -> bool:
    """Whether the order is in a ``percent`` sample: a fixed function of its id (a hash, so
    consecutive orders are not in or out together), the same on every run and every machine."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"follow-up-sample:{order_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SAMPLE_SCALE < percent * SAMPLE_SCALE // 100


def rule_reason(rules: Rules, category: str, order_id: int) -> FollowUpReason | None:
    """Which rule follows the order up once its visit is confirmed (pure): its resident's
    category, else the sample of the other orders, else none."""
    if category in rules.categories:
        return FollowUpReason.CATEGORY
    if in_sample(order_id, rules.sample_percent):
        return FollowUpReason.SAMPLE
    return None


def follow_up_owner(session: Session, order: OrderRow) -> int | None:
    """Who answers for a follow-up of ``order``: the active grid worker (网格员) of the
    resident's grid, the first made if several; else the order's owner (首接负责). The one
    place that picks it."""
    grid = order.resident.grid_id
    if grid is not None:
        worker = session.scalar(
            select(UserRow.id)
            .where(UserRow.role == Role.GRID_WORKER, UserRow.grid_id == grid, UserRow.active)
            .order_by(UserRow.id)
            .limit(1)
        )
        if worker is not None:
            return worker
    return order.owner_id


def schedule(
    session: Session,
    order: OrderRow,
    reason: FollowUpReason,
    due: dt.date,
    feedback_id: int | None = None,
) -> tuple[FollowUpRow, bool]:
    """The order's follow-up for ``reason`` (or one that counts as the same visit,
    ``SAME_VISIT``): the one it has, or a new one due on ``due``; and whether it is new. The
    caller holds the write lock and commits."""
    found = _existing(session, order.id, SAME_VISIT[reason])
    if found is not None:
        return found, False
    row = FollowUpRow(
        order_id=order.id,
        reason=reason,
        due_date=due,
        owner_id=follow_up_owner(session, order),
        feedback_id=feedback_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # one per order and reason: another writer was first
        found = _existing(session, order.id, (reason,))
        if found is None:
            raise
        return found, False
    return row, True


def _existing(
    session: Session, order_id: int, reasons: tuple[FollowUpReason, ...]
) -> FollowUpRow | None:
    return session.scalars(
        select(FollowUpRow)
        .where(FollowUpRow.order_id == order_id, FollowUpRow.reason.in_(reasons))
        .order_by(FollowUpRow.id)
    ).first()


def rule_due(rules: Rules, visit: dt.date, today: dt.date) -> dt.date:
    """A rule's follow-up is due ``rules.days`` after the visit, and never before today."""
    return max(visit + dt.timedelta(days=rules.days), today)


def schedule_by_rules(
    session: Session, settings: Settings, order: OrderRow, now: dt.datetime
) -> FollowUpRow | None:
    """Apply the street's category and sample rules to an order whose visit staff just
    confirmed: its follow-up (new or found), or None if no rule takes it."""
    rules = street_rules(session, settings, order.street_id)
    reason = rule_reason(rules, order.resident.category, order.id)
    if reason is None:
        return None
    due = rule_due(rules, order.date, local_today(settings, now))
    return schedule(session, order, reason, due)[0]


def schedule_low_score(
    session: Session, settings: Settings, order: OrderRow, feedback_id: int, now: dt.datetime
) -> FollowUpRow:
    """The follow-up a low score schedules: due the street's days after the feedback."""
    rules = street_rules(session, settings, order.street_id)
    due = local_today(settings, now) + dt.timedelta(days=rules.days)
    return schedule(session, order, FollowUpReason.LOW_SCORE, due, feedback_id)[0]


def apply_rules(
    session: Session,
    settings: Settings,
    actor: Actor,
    date_from: dt.date,
    date_to: dt.date,
    now: dt.datetime | None = None,
) -> RulesApplied:
    """Staff: apply the street's category and sample rules to the confirmed orders dated
    ``date_from`` … ``date_to`` in their scope (community staff: their community), e.g. after
    the street changed its rules. Running it again adds nothing: the sample is a function of
    each order's id and each order has at most one follow-up per reason."""
    if actor.role != Role.STAFF or actor.street_id is None:
        raise Forbidden(_("only staff schedule follow-up visits"))
    if date_to < date_from or (date_to - date_from).days >= APPLY_MAX_DAYS:
        raise BadInput(
            _("pick at most %(days)s days, the first not after the last", days=APPLY_MAX_DAYS),
            "date_from",
        )
    now = now or utcnow()
    begin_write(session)
    stmt = (
        select(OrderRow)
        .join(ResidentRow, ResidentRow.id == OrderRow.resident_id)
        .where(
            OrderRow.street_id == actor.street_id,
            OrderRow.status == OrderStatus.CONFIRMED,
            OrderRow.date.between(date_from, date_to),
        )
        .order_by(OrderRow.id)
    )
    if actor.community_id is not None:
        stmt = stmt.where(ResidentRow.community_id == actor.community_id)
    orders = list(session.scalars(stmt))
    rules = street_rules(session, settings, actor.street_id)
    today = local_today(settings, now)
    added = existing = 0
    for order in orders:
        reason = rule_reason(rules, order.resident.category, order.id)
        if reason is None:
            continue
        _row, new = schedule(session, order, reason, rule_due(rules, order.date, today))
        added, existing = added + new, existing + (not new)
    detail = {"from": date_from.isoformat(), "to": date_to.isoformat(), "added": added}
    audit(session, actor.user_id, "follow_up.apply_rules", "street", actor.street_id, detail)
    session.commit()
    return RulesApplied(len(orders), added, existing)
