"""The ledger's management-type people (管理型: looked after through grid visits rather than
orders) and the link between a resident and a helper who are the same person.

Management-type people live in their own table (``managed_people``), which matching never
reads: they cannot be matched by mistake. Who sees them is decided here, once
(``managed_scope``): street staff, staff of the person's community and — once that role
exists — the grid worker of their grid. Helpers, residents and planners never see them;
planners see how many there are per community (``managed_counts``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.ledger.models import ManagedIn
from api.services.ledger.people import check_place
from api.store.db import begin_write
from api.store.statuses import Role
from api.store.tables import Community, Grid, HelperRow, ManagedPersonRow, ResidentRow


def grid_of_worker(actor: Actor) -> int | None:
    """The grid a grid worker (网格员) answers for; None for every other role."""
    return actor.grid_id if actor.role == Role.GRID_WORKER else None


def managed_scope(actor: Actor) -> ColumnElement[bool]:
    """Which management-type people ``actor`` may see, as a condition on ``managed_people``:
    street staff their street, community staff their community, a grid worker their grid;
    nobody else anyone (helpers, residents, planners)."""
    return actor.person_scope(
        ManagedPersonRow.street_id, ManagedPersonRow.community_id, ManagedPersonRow.grid_id
    )


@dataclass(frozen=True)
class ManagedView:
    id: int
    code: str
    name: str
    community: str
    grid: str | None
    phone: str
    address: str
    note: str
    active: bool


def list_managed(
    session: Session, actor: Actor, community_id: int | None = None, limit: int = 500
) -> list[ManagedView]:
    """The management-type people the caller may see, by community, grid and code."""
    query = (
        select(ManagedPersonRow, Community.name, Grid.name)
        .join(Community, Community.id == ManagedPersonRow.community_id)
        .outerjoin(Grid, Grid.id == ManagedPersonRow.grid_id)
        .where(managed_scope(actor), ManagedPersonRow.active.is_(True))
        .order_by(Community.code, Grid.code, ManagedPersonRow.code)
        .limit(limit)
    )
    if community_id is not None:
        query = query.where(ManagedPersonRow.community_id == community_id)
    rows = session.execute(query).all()
    if rows:
        audit(session, actor.user_id, "managed.list", "managed", "", {"rows": len(rows)})
        session.commit()
    return [
        ManagedView(
            row.id,
            row.code,
            row.name,
            community,
            grid,
            row.phone,
            row.address,
            row.note,
            row.active,
        )
        for row, community, grid in rows
    ]


def add_managed(session: Session, actor: Actor, spec: ManagedIn) -> int:
    """Add a management-type person to a community in the caller's scope (street or
    community staff); ``Conflict`` if the code is taken."""
    if actor.role != Role.STAFF:
        raise Forbidden(_("only staff keep the ledger"))
    begin_write(session)
    values = spec.model_dump()
    street_id = check_place(session, actor, spec.community_id, spec.grid_id, spec.building_id)
    row = ManagedPersonRow(**values, street_id=street_id)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(_("ledger code %(code)s is taken", code=spec.code), "code") from error
    audit(session, actor.user_id, "managed.create", "managed", row.id, {"code": row.code})
    session.commit()
    return row.id


def managed_counts(session: Session, actor: Actor) -> dict[str, int]:
    """How many management-type people each community of the caller's street holds (no
    names: what planners and helpers' organisers may know); community staff their own."""
    if actor.street_id is None or actor.role not in (Role.STAFF, Role.PLANNER):
        raise Forbidden(_("only staff and planners see the ledger's figures"))
    query = (
        select(Community.name, func.count(ManagedPersonRow.id))
        .join(ManagedPersonRow, ManagedPersonRow.community_id == Community.id)
        .where(
            Community.street_id == actor.street_id,
            ManagedPersonRow.active.is_(True),
            Community.id == actor.community_id if actor.community_id is not None else true(),
        )
        .group_by(Community.name)
        .order_by(Community.name)
    )
    return {name: count for name, count in session.execute(query)}


# ----------------------------------------------------------------------------- the same person


@dataclass(frozen=True)
class SamePerson:
    """The other record of a person who is both a resident and a helper."""

    id: int
    code: str
    name: str


def link_same_person(
    session: Session, actor: Actor, resident_id: int, helper_code: str | None
) -> SamePerson | None:
    """Record that the resident and the helper (by ledger code) are one person (None or an
    empty code: not any more). Both in the caller's scope and of one street; a helper is the
    same person as one resident at most."""
    if actor.role != Role.STAFF:
        raise Forbidden(_("only staff keep the ledger"))
    begin_write(session)
    resident = session.get(ResidentRow, resident_id)
    if resident is None or not actor.may_see_community(resident.street_id, resident.community_id):
        raise NotFound(_("resident %(resident_id)s not found", resident_id=resident_id))
    helper = None
    if helper_code:
        helper = session.scalar(
            select(HelperRow).where(
                func.lower(HelperRow.code) == helper_code.strip().lower(),
                HelperRow.street_id == resident.street_id,
            )
        )
        if helper is None or not actor.may_see_community(helper.street_id, helper.community_id):
            raise BadInput(_("unknown helper codes (%(value)s)", value=helper_code), "helper")
        other = session.scalar(
            select(ResidentRow.code).where(
                ResidentRow.helper_id == helper.id, ResidentRow.id != resident.id
            )
        )
        if other is not None:
            raise Conflict(
                _(
                    "helper %(value)s is already the same person as resident %(code)s",
                    value=helper.code,
                    code=other,
                ),
                "helper",
            )
    resident.helper_id = helper.id if helper else None
    detail = {"helper": helper.code if helper else None}
    audit(session, actor.user_id, "resident.same_person", "resident", resident.id, detail)
    session.commit()
    return SamePerson(helper.id, helper.code, helper.name) if helper else None


def same_person_of_resident(session: Session, resident_id: int) -> SamePerson | None:
    """The helper record of the same person, if one is linked (the caller has checked the
    resident is in scope)."""
    resident = session.get(ResidentRow, resident_id)
    if resident is None or resident.helper_id is None:
        return None
    helper = session.get(HelperRow, resident.helper_id)
    return SamePerson(helper.id, helper.code, helper.name) if helper else None


def same_person_of_helper(session: Session, helper_id: int) -> SamePerson | None:
    """The resident record of the same person, if one is linked."""
    row = session.scalar(select(ResidentRow).where(ResidentRow.helper_id == helper_id))
    return SamePerson(row.id, row.code, row.name) if row else None
