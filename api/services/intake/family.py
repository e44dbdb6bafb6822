"""Family accounts (亲情代理): a family member orders for an elderly resident through an account
linked to that resident. A link counts only once the resident's community staff approve it.

Two ways to a link: staff create a family account from the resident's page (name, phone as the
login, relation; the password is shown once), approved at creation; or a family account asks
for another link from its phone page with the resident's code and the last 4 digits of the
resident's phone, and the request waits for staff to approve or reject it. A family account then
acts for one linked resident at a time (``acting_for``): the resident pages and the order
services see it as that resident's own account."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.accounts.auth import add_user
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.types import UtcDateTime
from api.store.db import begin_write
from api.store.statuses import FamilyLinkStatus, Role
from api.store.tables import FamilyLinkRow, ResidentRow, utcnow

log = logging.getLogger("qunbang.family")
PASSWORD_BYTES = 9  # 12 characters, as ``street init`` prints them
RELATION_MAX = 32
PHONE_TAIL = 4


@dataclass(frozen=True)
class FamilyLinkView:
    id: int
    username: str
    display_name: str
    resident_id: int
    resident_name: str
    resident_code: str
    relation: str
    status: str
    requested_at: UtcDateTime
    decided_at: UtcDateTime | None


@dataclass(frozen=True)
class NewFamilyAccount:
    """A family account staff created: its login and its password, shown once."""

    username: str
    password: str
    link: FamilyLinkView


def link_view(link: FamilyLinkRow) -> FamilyLinkView:
    return FamilyLinkView(
        id=link.id,
        username=link.user.username,
        display_name=link.user.display_name,
        resident_id=link.resident_id,
        resident_name=link.resident.name,
        resident_code=link.resident.code,
        relation=link.relation,
        status=link.status,
        requested_at=link.requested_at,
        decided_at=link.decided_at,
    )


def _staff_resident(session: Session, actor: Actor, resident_id: int) -> ResidentRow:
    if actor.role != Role.STAFF:
        raise Forbidden(_("only community staff link family accounts"))
    resident = session.get(ResidentRow, resident_id)
    if resident is None or not actor.may_see_community(resident.street_id, resident.community_id):
        raise NotFound(_("resident %(resident_id)s not found", resident_id=resident_id))
    return resident


def _relation(relation: str) -> str:
    relation = relation.strip()
    if not relation:
        raise BadInput(_("say how they are related (e.g. daughter)"), "relation")
    if len(relation) > RELATION_MAX:
        raise BadInput(_("at most %(count)s characters", count=RELATION_MAX), "relation")
    return relation


def create_family_account(
    session: Session,
    actor: Actor,
    resident_id: int,
    name: str,
    phone: str,
    relation: str,
    now: dt.datetime | None = None,
) -> NewFamilyAccount:
    """A family account for a resident of the staff member's scope, its phone number as the
    login and a new password (returned once), linked to the resident and approved at once."""
    now = now or utcnow()
    begin_write(session)
    resident = _staff_resident(session, actor, resident_id)
    name, phone = name.strip(), "".join(phone.split())
    if not name or len(name) > 100:
        raise BadInput(_("give the family member's name"), "name")
    if not phone.isdigit() or not 5 <= len(phone) <= 20:
        raise BadInput(_("give a phone number of digits only"), "phone")
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    user = add_user(
        session, phone, password, Role.FAMILY, street_id=resident.street_id, display_name=name
    )
    link = FamilyLinkRow(
        user_id=user.id,
        resident_id=resident.id,
        relation=_relation(relation),
        status=FamilyLinkStatus.APPROVED,
        requested_at=now,
        decided_at=now,
        decided_by=actor.user_id,
    )
    session.add(link)
    session.flush()
    audit(session, actor.user_id, "family.create", "family_link", link.id,
          {"user": user.id, "resident": resident.id})  # fmt: skip
    session.commit()
    return NewFamilyAccount(user.username, password, link_view(link))


def request_link(
    session: Session,
    actor: Actor,
    resident_code: str,
    phone_tail: str,
    relation: str,
    now: dt.datetime | None = None,
) -> FamilyLinkView:
    """A family account asks to order for another resident of its street, named by the
    resident's code and the last 4 digits of their phone; the request waits for staff. A code
    and digits that do not match are "not found", whichever was wrong."""
    if actor.role != Role.FAMILY:
        raise Forbidden(_("only family accounts ask for a link"))
    now = now or utcnow()
    begin_write(session)
    relation = _relation(relation)
    tail = phone_tail.strip()
    resident = session.scalar(
        select(ResidentRow).where(
            ResidentRow.code == resident_code.strip(), ResidentRow.street_id == actor.street_id
        )
    )
    if (
        resident is None
        or not resident.active
        or len(tail) != PHONE_TAIL
        or "".join(resident.phone.split())[-PHONE_TAIL:] != tail
    ):
        audit(session, actor.user_id, "family.request_refused", "resident", resident_code[:64])
        session.commit()
        raise NotFound(_("no resident matches that code and phone number"), "resident_code")
    link = FamilyLinkRow(
        user_id=actor.user_id, resident_id=resident.id, relation=relation, requested_at=now
    )
    try:
        with session.begin_nested():
            session.add(link)
            session.flush()
    except IntegrityError as error:
        raise Conflict(_("you asked for this resident already"), "resident_code") from error
    audit(session, actor.user_id, "family.request", "family_link", link.id,
          {"resident": resident.id})  # fmt: skip
    session.commit()
    return link_view(link)


def my_links(session: Session, actor: Actor) -> list[FamilyLinkView]:
    """A family account's links, approved ones first (the order the resident pages offer)."""
    if actor.role != Role.FAMILY:
        return []
    rows = session.scalars(
        select(FamilyLinkRow)
        .where(FamilyLinkRow.user_id == actor.user_id)
        .order_by(FamilyLinkRow.status != FamilyLinkStatus.APPROVED, FamilyLinkRow.id)
    )
    return [link_view(row) for row in rows]


def acting_for(session: Session, actor: Actor, resident_id: int | None) -> Actor:
    """The actor a family account acts as: tied to ``resident_id`` when an approved link names
    it, else to its first approved link; an account without one stays tied to nobody (and sees
    nothing of any resident). Any other account is returned as it is."""
    if actor.role != Role.FAMILY:
        return actor
    approved = [
        link.resident_id
        for link in my_links(session, actor)
        if link.status == FamilyLinkStatus.APPROVED
    ]
    chosen = resident_id if resident_id in approved else (approved[0] if approved else None)
    return dataclasses.replace(actor, resident_id=chosen)


def links_to_decide(
    session: Session, actor: Actor, status: str | None = FamilyLinkStatus.PENDING
) -> list[FamilyLinkView]:
    """Family links of the staff member's street (or community), oldest first; by default
    those waiting for a decision."""
    if actor.role != Role.STAFF:
        raise Forbidden(_("only community staff link family accounts"))
    query = (
        select(FamilyLinkRow)
        .join(ResidentRow, ResidentRow.id == FamilyLinkRow.resident_id)
        .where(ResidentRow.street_id == actor.street_id)
        .order_by(FamilyLinkRow.id)
    )
    if actor.community_id is not None:
        query = query.where(ResidentRow.community_id == actor.community_id)
    if status is not None:
        query = query.where(FamilyLinkRow.status == status)
    return [link_view(row) for row in session.scalars(query).unique()]


def resident_links(session: Session, actor: Actor, resident_id: int) -> list[FamilyLinkView]:
    """The family links of one resident of the staff member's scope."""
    _staff_resident(session, actor, resident_id)
    rows = session.scalars(
        select(FamilyLinkRow)
        .where(FamilyLinkRow.resident_id == resident_id)
        .order_by(FamilyLinkRow.id)
    )
    return [link_view(row) for row in rows]


def decide_link(
    session: Session, actor: Actor, link_id: int, approve: bool, now: dt.datetime | None = None
) -> FamilyLinkView:
    """Approve or reject a link waiting for a decision (the resident's community staff)."""
    now = now or utcnow()
    begin_write(session)
    if actor.role != Role.STAFF:
        raise Forbidden(_("only community staff link family accounts"))
    link = session.scalars(  # locked (PostgreSQL): of two staff deciding at once, one does
        select(FamilyLinkRow).where(FamilyLinkRow.id == link_id).with_for_update(of=FamilyLinkRow)
    ).first()
    if link is None or not actor.may_see_community(
        link.resident.street_id, link.resident.community_id
    ):
        raise NotFound(_("family link %(link_id)s not found", link_id=link_id))
    if link.status != FamilyLinkStatus.PENDING:
        raise Conflict(_("this request was decided already"))
    link.status = FamilyLinkStatus.APPROVED if approve else FamilyLinkStatus.REJECTED
    link.decided_at, link.decided_by = now, actor.user_id
    audit(session, actor.user_id, f"family.{'approve' if approve else 'reject'}",
          "family_link", link.id)  # fmt: skip
    session.commit()
    return link_view(link)
