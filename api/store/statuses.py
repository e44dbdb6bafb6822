"""Every status and kind the database stores, named once.

Each is a ``StrEnum``: a member equals its text, so services compare with the members and the
tables build their CHECK constraints from the same members (``check_in``). Adding a status is
adding a member here and a migration that rewrites the constraint.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    OPEN = "open"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    DONE = "done"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    # 社区下单: an order a resident, a family member or a grid worker entered waits for community
    # staff to review it (when the street reviews orders); approved it is open, else rejected.
    REVIEW = "review"
    REJECTED = "rejected"


class AssignmentStatus(StrEnum):
    ACTIVE = "active"
    DONE = "done"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"


class AssignmentSource(StrEnum):
    NIGHTLY = "nightly"
    REMATCH = "rematch"
    CLAIM = "claim"
    MANUAL = "manual"


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RunKind(StrEnum):
    NIGHTLY = "nightly"
    REMATCH = "rematch"


class ClaimForm(StrEnum):
    SINGLE = "single"
    TEAM = "team"
    BUNDLE = "bundle"


class FollowUpStatus(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"


class FollowUpReason(StrEnum):
    """Why a follow-up visit was scheduled: a low score, the resident's category (every order of
    the street's chosen categories), or the street's sample of the other orders."""

    LOW_SCORE = "low_score"
    CATEGORY = "category"
    SAMPLE = "sample"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class NotificationKind(StrEnum):
    OFFER = "offer"
    REMINDER = "reminder"
    CHANGE = "change"
    CANCELLATION = "cancellation"
    # The result fed back to whoever ordered (结果反馈): matched, done, or not done.
    MATCHED = "matched"
    COMPLETED = "completed"
    NOT_DONE = "not_done"
    # To the staff member who owns an order or a follow-up visit.
    ORDER_AT_RISK = "order_at_risk"
    ORDER_OVERDUE = "order_overdue"
    FOLLOW_UP_OVERDUE = "follow_up_overdue"


class PointsKind(StrEnum):
    BASE = "base"
    BONUS = "bonus"
    REVERSAL = "reversal"
    WISH = "wish"  # points a confirmed micro-wish pays (微心愿)
    REDEMPTION = "redemption"  # a debit: points spent in the street's shop (积分兑换)


class HoursKind(StrEnum):
    """An entry of the hours ledger: a confirmed visit's minutes, or the reversal of one."""

    VISIT = "visit"
    REVERSAL = "reversal"


class HoursSource(StrEnum):
    """Where a visit's minutes came from: the member's check-in and check-out (签到/签退), or
    the item's planned duration (staff confirmed without them)."""

    CLOCK = "clock"
    PLANNED = "planned"


class Role(StrEnum):
    STAFF = "staff"
    PLANNER = "planner"
    HELPER = "helper"
    RESIDENT = "resident"
    GRID_WORKER = "grid_worker"  # 网格员: one grid of a community (``users.grid_id``)
    FAMILY = "family"  # 亲情代理: orders for the residents staff linked to the account


class PartnerKind(StrEnum):
    """A partner unit (共建单位) of a street: a company (a shop among them) or a party branch."""

    COMPANY = "company"
    PARTY_BRANCH = "party_branch"


class WishKind(StrEnum):
    THING = "thing"
    SERVICE = "service"


class WishStatus(StrEnum):
    """A micro-wish (微心愿): open → claimed → confirmed (staff saw it fulfilled; points paid);
    a claim may be released (back to open); open or claimed it may be cancelled."""

    OPEN = "open"
    CLAIMED = "claimed"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class ShopItemKind(StrEnum):
    GOODS = "goods"
    SERVICE = "service"


class RedemptionStatus(StrEnum):
    """A redemption's receipt: issued (points debited, stock taken) → used at the counter, or
    cancelled (points credited back, stock restored)."""

    ISSUED = "issued"
    USED = "used"
    CANCELLED = "cancelled"


class FamilyLinkStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


# The statuses that make an assignment or an offer "live": the partial unique indexes are
# written from them, and every service filters with them.
LIVE_ASSIGNMENT_STATUSES = (
    AssignmentStatus.ACTIVE,
    AssignmentStatus.DONE,
    AssignmentStatus.CONFIRMED,
)
LIVE_OFFER_STATUSES = (OfferStatus.PENDING, OfferStatus.ACCEPTED)
# Orders still in the matching part of the loop (not done, confirmed or cancelled).
OPEN_ORDER_STATUSES = (OrderStatus.OPEN, OrderStatus.OFFERED, OrderStatus.ASSIGNED)
# Orders that may still be cancelled: those being matched and those waiting for review.
CANCELLABLE_ORDER_STATUSES = (*OPEN_ORDER_STATUSES, OrderStatus.REVIEW)
# Orders that never reach matching or a team: cancelled, waiting for review, rejected.
UNMATCHED_ORDER_STATUSES = (OrderStatus.CANCELLED, OrderStatus.REVIEW, OrderStatus.REJECTED)


def sql_in(column: str, values: tuple[StrEnum, ...] | type[StrEnum]) -> str:
    """``column IN ('a', 'b')``: the SQL text of a CHECK constraint or a partial index."""
    quoted = ", ".join(f"'{v.value}'" for v in values)
    return f"{column} IN ({quoted})"


class ProgrammeFavour(StrEnum):
    """Which stable matching a pairing programme takes (``matcher.pairing.Favour``): the
    residents' best, the helpers' best, or the least travel."""

    RESIDENTS = "residents"
    HELPERS = "helpers"
    TRAVEL = "travel"


class PairStatus(StrEnum):
    """A programme's pair: proposed by the stable matching, confirmed by staff (then a
    recurring order kept with that helper), or ended."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    ENDED = "ended"
