"""The micro-wish board (微心愿): post, claim, release, confirm (points paid once), cancel.

Who may do what:
- post: a resident for themselves (or a family account acting for one), or staff for a
  resident in their scope; staff set the points a wish is worth (a resident's wish starts at 0
  until staff set them).
- claim: a helper of the wish's street, alone or for a standing team they belong to; staff
  record a partner unit's claim.
- release (back to open): the claiming helper, or staff.
- confirm (fulfilled): staff of the resident's community; pays the wish's points to the helper
  who claimed it alone, or to each active member of the claiming team; a partner unit's claim
  pays no points (a unit holds no points account).
- cancel: the resident, or staff, while open or claimed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from api.i18n import N_
from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.hours import totals
from api.services.ledger.views import scoped_row
from api.services.paging import Page, fetch_page
from api.services.types import UtcDateTime
from api.services.wishes.partners import (
    partner_of_street,
    stored_in_both,
    team_member_ids,
    team_of_street,
)
from api.store.db import begin_write
from api.store.statuses import PointsKind, Role, WishKind, WishStatus
from api.store.tables import (
    HelperRow,
    PartnerUnitRow,
    PointsEntry,
    ResidentRow,
    TeamMemberRow,
    VolunteerTeamRow,
    WishPaymentRow,
    WishRow,
    utcnow,
)

log = logging.getLogger("qunbang.wishes")
MAX_TITLE = 200
MAX_DETAIL = 2000
MAX_POINTS = 1000  # far above a small wish's worth; a typo of 10000 is refused
WISH_KINDS = {kind.value for kind in WishKind}
LIVE = (WishStatus.OPEN, WishStatus.CLAIMED)


@dataclass(frozen=True)
class WishView:
    id: int
    title: str
    kind: str
    detail: str
    points: int
    status: str
    community: str
    created_at: UtcDateTime
    claimed_by: str  # the claiming helper's, team's or partner unit's name ("" when open)
    claim_helper_id: int | None
    claim_team_id: int | None
    claim_partner_id: int | None
    resident_id: int
    # The resident's name and address: shown to staff, the resident and the claiming helper only.
    resident_name: str | None
    resident_address: str | None
    paid: list[tuple[int, int]]  # (helper id, points) paid on confirmation


# ----------------------------------------------------------------------------- posting


def post_wish(
    session: Session,
    actor: Actor,
    title: str,
    kind: str,
    detail: str = "",
    points: int | None = None,
    resident_id: int | None = None,
    now: dt.datetime | None = None,
) -> WishView:
    """A new open wish of a resident: the caller's own, or (staff) one in their scope."""
    title, detail = _text(title, "title", MAX_TITLE, True), _text(detail, "detail", MAX_DETAIL)
    if kind not in WISH_KINDS:
        raise BadInput(_("a wish is a thing or a service"), "kind")
    if actor.role == Role.STAFF:
        if resident_id is None:
            raise BadInput(_("choose the resident the wish is for"), "resident_id")
        resident: ResidentRow = scoped_row(session, actor, ResidentRow, resident_id)
        worth = _points(points if points is not None else 0)
    elif actor.speaks_for_resident and actor.resident_id is not None:
        resident_ = session.get(ResidentRow, actor.resident_id)
        if resident_ is None:
            raise NotFound(_("resident %(id)s not found", id=actor.resident_id))
        resident, worth = resident_, 0  # staff set the points
    else:
        raise Forbidden(_("only a resident or staff may post a wish"))
    if not resident.active:
        raise BadInput(_("the resident is no longer active"), "resident_id")
    begin_write(session, resident.street_id)
    wish = WishRow(
        street_id=resident.street_id,
        resident_id=resident.id,
        title=title,
        kind=kind,
        detail=detail,
        points=worth,
        posted_by=actor.user_id,
        created_at=now or utcnow(),
    )
    session.add(wish)
    session.flush()
    audit(session, actor.user_id, "wish.post", "wish", wish.id, {"points": worth})
    session.commit()
    return wish_view(session, actor, wish)


def set_points(session: Session, actor: Actor, wish_id: int, points: int) -> WishView:
    """Staff set what an open or claimed wish is worth."""
    worth = _points(points)
    wish = _for_staff(session, actor, wish_id, write=True)
    _move(session, wish, LIVE, points=worth)
    audit(session, actor.user_id, "wish.points", "wish", wish.id, {"points": worth})
    session.commit()
    return wish_view(session, actor, wish)


# ----------------------------------------------------------------------------- claims


def claim_wish(
    session: Session,
    actor: Actor,
    wish_id: int,
    *,
    team_id: int | None = None,
    partner_id: int | None = None,
    now: dt.datetime | None = None,
) -> WishView:
    """Claim an open wish: a helper alone or for their team (``team_id``), or staff for a
    partner unit (``partner_id``). Of two claims at once exactly one wins (``Conflict``)."""
    now = now or utcnow()
    if actor.role == Role.STAFF:
        if partner_id is None:
            raise BadInput(_("choose the partner unit that takes the wish"), "partner_id")
        wish = _for_staff(session, actor, wish_id, write=True)
        partner = partner_of_street(session, wish.street_id, partner_id)
        if not partner.active:
            raise BadInput(_("the partner unit is retired"), "partner_id")
        values: dict[str, Any] = {"claim_partner_id": partner.id}
    else:
        helper = _own_helper(session, actor)
        wish = _wish_of_street(session, helper.street_id, wish_id, write=True)
        values = {"claim_helper_id": helper.id, "claim_team_id": None}
        if team_id is not None:
            values["claim_team_id"] = _team_of_member(session, wish.street_id, team_id, helper.id)
    if wish.status != WishStatus.OPEN:
        raise Conflict(_("wish %(id)s is already taken", id=wish.id))
    _move(session, wish, (WishStatus.OPEN,), status=WishStatus.CLAIMED, claimed_at=now, **values)
    audit(session, actor.user_id, "wish.claim", "wish", wish.id, _claimant(wish))
    session.commit()
    log.info("wish %s claimed: %s", wish.id, _claimant(wish))
    return wish_view(session, actor, wish)


def release_wish(session: Session, actor: Actor, wish_id: int) -> WishView:
    """Give a claimed wish back to the board: the claiming helper, or staff."""
    if actor.role == Role.STAFF:
        wish = _for_staff(session, actor, wish_id, write=True)
    else:
        helper = _own_helper(session, actor)
        wish = _wish_of_street(session, helper.street_id, wish_id, write=True)
        if wish.claim_helper_id != helper.id:
            raise Forbidden(_("only who claimed the wish may give it back"))
    if wish.status != WishStatus.CLAIMED:
        raise Conflict(_("wish %(id)s is not claimed", id=wish.id))
    _move(
        session,
        wish,
        (WishStatus.CLAIMED,),
        status=WishStatus.OPEN,
        claim_helper_id=None,
        claim_team_id=None,
        claim_partner_id=None,
        claimed_at=None,
    )
    audit(session, actor.user_id, "wish.release", "wish", wish.id)
    session.commit()
    return wish_view(session, actor, wish)


# ----------------------------------------------------------------------------- the end of a wish


def confirm_wish(
    session: Session, actor: Actor, wish_id: int, now: dt.datetime | None = None
) -> WishView:
    """Staff saw the wish fulfilled: confirmed, and its points paid once (one ``wish`` entry
    per paid helper, each recorded in ``wish_payments``, unique per wish and helper)."""
    now = now or utcnow()
    wish = _for_staff(session, actor, wish_id, write=True)
    if wish.status != WishStatus.CLAIMED:
        raise Conflict(_("only a claimed wish can be confirmed"))
    _move(
        session,
        wish,
        (WishStatus.CLAIMED,),
        status=WishStatus.CONFIRMED,
        confirmed_at=now,
        confirmed_by=actor.user_id,
    )
    paid = _pay(session, actor, wish, now)
    audit(session, actor.user_id, "wish.confirm", "wish", wish.id, {"paid": paid})
    session.commit()
    return wish_view(session, actor, wish)


def cancel_wish(
    session: Session, actor: Actor, wish_id: int, now: dt.datetime | None = None
) -> WishView:
    """Withdraw an open or claimed wish: the resident it is for, or staff."""
    if actor.role == Role.STAFF:
        wish = _for_staff(session, actor, wish_id, write=True)
    else:
        wish = _own_wish(session, actor, wish_id, write=True)
    if wish.status not in LIVE:
        raise Conflict(_("wish %(id)s is already closed", id=wish.id))
    _move(
        session,
        wish,
        LIVE,
        status=WishStatus.CANCELLED,
        ended_at=now or utcnow(),
        claim_helper_id=None,
        claim_team_id=None,
        claim_partner_id=None,
    )
    audit(session, actor.user_id, "wish.cancel", "wish", wish.id)
    session.commit()
    return wish_view(session, actor, wish)


def payees(session: Session, wish: WishRow) -> list[int]:
    """Who a confirmed wish pays: the lone claimer, or the claiming team's active members (the
    claimer when none is left); nobody for a partner unit's claim or a wish worth nothing."""
    if wish.points <= 0 or wish.claim_helper_id is None:
        return []
    if wish.claim_team_id is not None:
        return team_member_ids(session, wish.claim_team_id) or [wish.claim_helper_id]
    return [wish.claim_helper_id]


def _pay(session: Session, actor: Actor, wish: WishRow, now: dt.datetime) -> dict[int, int]:
    paid, entries = {}, []
    for helper_id in payees(session, wish):
        entry = PointsEntry(
            helper_id=helper_id,
            amount=wish.points,
            kind=PointsKind.WISH,
            reason=stored_in_both(N_("micro-wish %(id)s: %(title)s"), id=wish.id, title=wish.title),
            created_by=actor.user_id,
            created_at=now,
        )
        session.add(entry)
        session.flush()
        session.add(WishPaymentRow(wish_id=wish.id, helper_id=helper_id, entry_id=entry.id))
        paid[helper_id] = wish.points
        entries.append(entry.id)
    session.flush()
    totals.add_points(session, entries)
    return paid


# ----------------------------------------------------------------------------- reading


def board(
    session: Session,
    actor: Actor,
    status: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[WishView]:
    """The wishes the caller may see, newest first: staff those of their scope; a helper the
    open wishes of their street and those they (or their teams) claimed; a resident their own.
    ``status`` narrows to one status."""
    query = _visible(session, actor)
    if status is not None:
        if status not in {s.value for s in WishStatus}:
            raise BadInput(_("unknown status %(status)s", status=status), "status")
        query = query.where(WishRow.status == status)
    rows, total = fetch_page(session, query.order_by(WishRow.id.desc()), page, page_size)
    return Page([wish_view(session, actor, w) for w in rows], total, page, page_size)


def get_wish(session: Session, actor: Actor, wish_id: int) -> WishView:
    wish = session.scalar(_visible(session, actor).where(WishRow.id == wish_id))
    if wish is None:
        raise NotFound(_("wish %(id)s not found", id=wish_id))
    return wish_view(session, actor, wish)


def _visible(session: Session, actor: Actor) -> Select[Any]:
    query = select(WishRow).join(ResidentRow, WishRow.resident_id == ResidentRow.id)
    if actor.role == Role.STAFF:
        query = query.where(WishRow.street_id == actor.street_id)
        if actor.community_id is not None:
            query = query.where(ResidentRow.community_id == actor.community_id)
        return query
    if actor.role == Role.HELPER:
        helper = _own_helper(session, actor)
        mine_teams = select(TeamMemberRow.team_id).where(TeamMemberRow.helper_id == helper.id)
        return query.where(
            WishRow.street_id == helper.street_id,
            or_(
                WishRow.status == WishStatus.OPEN,
                WishRow.claim_helper_id == helper.id,
                WishRow.claim_team_id.in_(mine_teams),
            ),
        )
    if actor.speaks_for_resident:
        return query.where(WishRow.resident_id == actor.resident_id)
    raise Forbidden(_("this account has no wish board"))


def wish_view(session: Session, actor: Actor, wish: WishRow) -> WishView:
    resident = wish.resident
    personal = (
        actor.role == Role.STAFF
        or actor.resident_id == wish.resident_id
        or (
            actor.helper_id is not None
            and actor.helper_id == wish.claim_helper_id
            and wish.status == WishStatus.CLAIMED
        )
    )
    paid = session.execute(
        select(WishPaymentRow.helper_id, PointsEntry.amount)
        .join(PointsEntry, PointsEntry.id == WishPaymentRow.entry_id)
        .where(WishPaymentRow.wish_id == wish.id)
        .order_by(WishPaymentRow.helper_id)
    ).all()
    return WishView(
        id=wish.id,
        title=wish.title,
        kind=wish.kind,
        detail=wish.detail,
        points=wish.points,
        status=wish.status,
        community=resident.community.name,
        created_at=wish.created_at,
        claimed_by=_claimed_by(session, wish),
        claim_helper_id=wish.claim_helper_id,
        claim_team_id=wish.claim_team_id,
        claim_partner_id=wish.claim_partner_id,
        resident_id=wish.resident_id,
        resident_name=resident.name if personal else None,
        resident_address=resident.address if personal else None,
        paid=[(h, a) for h, a in paid],
    )


def _claimed_by(session: Session, wish: WishRow) -> str:
    if wish.claim_partner_id is not None:
        partner = session.get(PartnerUnitRow, wish.claim_partner_id)
        return partner.name if partner else ""
    if wish.claim_team_id is not None:
        team = session.get(VolunteerTeamRow, wish.claim_team_id)
        return team.name if team else ""
    if wish.claim_helper_id is not None:
        helper = session.get(HelperRow, wish.claim_helper_id)
        return helper.name if helper else ""
    return ""


# ----------------------------------------------------------------------------- shared


def _move(session: Session, wish: WishRow, allowed: tuple[WishStatus, ...], **values: Any) -> None:
    """Compare-and-set: change the wish only if it is still in ``allowed`` at the version read
    (under the street's lock this always holds; the check keeps it so should a writer ever
    come without the lock)."""
    changed = session.scalar(
        update(WishRow)
        .where(WishRow.id == wish.id, WishRow.version == wish.version, WishRow.status.in_(allowed))
        .values(version=WishRow.version + 1, **values)
        .returning(WishRow.id)
        .execution_options(synchronize_session=False)
    )
    if changed is None:
        raise Conflict(_("wish %(id)s changed meanwhile; try again", id=wish.id))
    session.refresh(wish)


def _wish_of_street(
    session: Session, street_id: int, wish_id: int, *, write: bool = False
) -> WishRow:
    """The wish, read under the street's write lock when ``write`` (taken first)."""
    if write:
        begin_write(session, street_id)
    wish = session.get(WishRow, wish_id, populate_existing=True)
    if wish is None or wish.street_id != street_id:
        raise NotFound(_("wish %(id)s not found", id=wish_id))
    return wish


def _for_staff(session: Session, actor: Actor, wish_id: int, *, write: bool = False) -> WishRow:
    if actor.role != Role.STAFF or actor.street_id is None:
        raise Forbidden(_("only staff of a street may do this"))
    wish = _wish_of_street(session, actor.street_id, wish_id, write=write)
    if not actor.may_see_community(wish.street_id, wish.resident.community_id):
        raise NotFound(_("wish %(id)s not found", id=wish_id))
    return wish


def _own_wish(session: Session, actor: Actor, wish_id: int, *, write: bool = False) -> WishRow:
    if not actor.speaks_for_resident or actor.resident_id is None:
        raise Forbidden(_("only the resident or staff may do this"))
    resident = session.get(ResidentRow, actor.resident_id)
    if resident is None:
        raise NotFound(_("wish %(id)s not found", id=wish_id))
    wish = _wish_of_street(session, resident.street_id, wish_id, write=write)
    if wish.resident_id != actor.resident_id:
        raise NotFound(_("wish %(id)s not found", id=wish_id))
    return wish


def _own_helper(session: Session, actor: Actor) -> HelperRow:
    if actor.role != Role.HELPER:
        raise Forbidden(_("only a helper may do this"))
    helper = session.get(HelperRow, actor.own_helper_id())
    if helper is None or not helper.active:
        raise NotFound(_("helper not found or no longer active"))
    return helper


def _team_of_member(session: Session, street_id: int, team_id: int, helper_id: int) -> int:
    team = team_of_street(session, street_id, team_id)
    if not team.active or helper_id not in team_member_ids(session, team.id):
        raise BadInput(_("you are not a member of that team"), "team_id")
    return team.id


def _claimant(wish: WishRow) -> dict[str, int | None]:
    return {
        "helper": wish.claim_helper_id,
        "team": wish.claim_team_id,
        "partner": wish.claim_partner_id,
    }


def _text(value: str, field: str, most: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise BadInput(_("please say what is wished for"), field)
    if len(value) > most:
        raise BadInput(_("at most %(most)s characters", most=most), field)
    return value


def _points(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= MAX_POINTS:
        raise BadInput(_("points are a whole number from 0 to %(most)s", most=MAX_POINTS), "points")
    return points
