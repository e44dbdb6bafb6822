"""A street's pairing programmes and who is enrolled in them.

Street staff create and edit programmes; staff (community staff: for people of their community)
enrol residents and helpers of the street by ledger code and withdraw them. Helpers and residents
(or family accounts acting for one) see the programmes they are enrolled in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.orders import _active_item, _check_window
from api.store.db import begin_write
from api.store.statuses import PairStatus, ProgrammeFavour, Role
from api.store.tables import (
    HelperRow,
    ProgrammeMemberRow,
    ProgrammePairRow,
    ProgrammeRow,
    ResidentRow,
)

MAX_CAPACITY = 20
MAX_SHORTLIST = 20
SIDES = ("resident", "helper")


@dataclass(frozen=True)
class ProgrammeSpec:
    """What staff set for a programme: its visits (item, season, weekdays 0 = Monday … 6,
    an optional time window in minutes), capacities, shortlist length and rules."""

    name: str
    item: str
    start_date: dt.date
    end_date: dt.date
    weekdays: tuple[int, ...]
    window_start: int | None = None
    window_end: int | None = None
    helper_capacity: int = 1
    resident_capacity: int = 1
    shortlist_size: int = 5
    max_km: float | None = None
    gender_preference: bool = False
    favour: str = ProgrammeFavour.RESIDENTS
    note: str = ""


@dataclass(frozen=True)
class ProgrammeView:
    id: int
    street_id: int
    spec: ProgrammeSpec
    active: bool
    residents: int
    helpers: int
    proposed: int
    confirmed: int


@dataclass(frozen=True)
class ProgrammeMemberView:
    id: int
    side: str  # "resident" | "helper"
    person_id: int
    code: str
    name: str
    community_id: int
    ranked: bool


# ----------------------------------------------------------------------------- scope


def require_street_staff(actor: Actor) -> int:
    """Street staff (not one community's) run programmes: their street's id, else Forbidden."""
    if actor.role != Role.STAFF or actor.street_id is None or actor.community_id is not None:
        raise Forbidden(_("only street staff may do this"))
    return actor.street_id


def scoped_programme(session: Session, actor: Actor, programme_id: int) -> ProgrammeRow:
    """The programme if the caller may see it: staff of its street, or a member (a helper, a
    resident, a family account acting for one); else NotFound."""
    row = session.get(ProgrammeRow, programme_id)
    if row is not None and _may_see(session, actor, row):
        return row
    raise NotFound(_("programme %(programme_id)s not found", programme_id=programme_id))


def _may_see(session: Session, actor: Actor, row: ProgrammeRow) -> bool:
    if actor.role == Role.STAFF:
        return actor.street_id == row.street_id
    return own_member(session, actor, row.id) is not None


def own_member(session: Session, actor: Actor, programme_id: int) -> ProgrammeMemberRow | None:
    """The caller's own membership: a helper account's, or the resident's a resident or family
    account speaks for."""
    stmt = select(ProgrammeMemberRow).where(
        ProgrammeMemberRow.programme_id == programme_id, ProgrammeMemberRow.active.is_(True)
    )
    if actor.role == Role.HELPER and actor.helper_id is not None:
        return session.scalar(stmt.where(ProgrammeMemberRow.helper_id == actor.helper_id))
    if actor.speaks_for_resident:
        return session.scalar(stmt.where(ProgrammeMemberRow.resident_id == actor.resident_id))
    return None


def may_act_for(session: Session, actor: Actor, member: ProgrammeMemberRow) -> bool:
    """The member themselves, or staff of the street (community staff: of the person's
    community)."""
    if actor.role == Role.STAFF:
        person = person_of(session, member)
        return actor.may_see_community(person.street_id, person.community_id)
    mine = own_member(session, actor, member.programme_id)
    return mine is not None and mine.id == member.id


def programme_of_member(session: Session, member_id: int) -> int:
    """The programme a member belongs to (the caller's right to it is checked where it is
    used); NotFound for no such member."""
    row = session.get(ProgrammeMemberRow, member_id)
    if row is None:
        raise NotFound(_("member %(member_id)s not found", member_id=member_id))
    return row.programme_id


def person_of(session: Session, member: ProgrammeMemberRow) -> HelperRow | ResidentRow:
    if member.helper_id is not None:
        return session.get_one(HelperRow, member.helper_id)
    return session.get_one(ResidentRow, member.resident_id)


# ----------------------------------------------------------------------------- programmes


def create_programme(session: Session, actor: Actor, spec: ProgrammeSpec) -> ProgrammeView:
    """A new programme of the caller's street."""
    street_id = require_street_staff(actor)
    begin_write(session)
    _check(session, street_id, spec)
    row = ProgrammeRow(street_id=street_id, created_by=actor.user_id, **_columns(spec))
    session.add(row)
    session.flush()
    audit(session, actor.user_id, "programme.create", "programme", row.id, {"name": spec.name})
    session.commit()
    return programme_view(session, row)


def update_programme(
    session: Session, actor: Actor, programme_id: int, spec: ProgrammeSpec, active: bool = True
) -> ProgrammeView:
    """Change a programme (confirmed pairs keep the recurring orders they became)."""
    require_street_staff(actor)
    begin_write(session)
    row = scoped_programme(session, actor, programme_id)
    _check(session, row.street_id, spec)
    for name, value in _columns(spec).items():
        setattr(row, name, value)
    row.active = active
    audit(session, actor.user_id, "programme.update", "programme", row.id, {"name": spec.name})
    session.commit()
    return programme_view(session, row)


def _check(session: Session, street_id: int, spec: ProgrammeSpec) -> None:
    if not spec.name.strip() or len(spec.name) > 200:
        raise BadInput(_("a name of 1 to 200 characters is required"), "name")
    item = _active_item(session, street_id, spec.item)
    if item.team_size != 1:
        raise BadInput(_("a pair's visits need an item served by one helper"), "item")
    _check_window(item, spec.window_start, spec.window_end, 1)
    if spec.end_date < spec.start_date:
        raise BadInput(_("end_date is before start_date"), "end_date")
    if not spec.weekdays or any(not 0 <= day <= 6 for day in spec.weekdays):
        raise BadInput(_("weekdays must be 0 (Mon) .. 6 (Sun)"), "weekdays")
    for field, value, most in (
        ("helper_capacity", spec.helper_capacity, MAX_CAPACITY),
        ("resident_capacity", spec.resident_capacity, MAX_CAPACITY),
        ("shortlist_size", spec.shortlist_size, MAX_SHORTLIST),
    ):
        if not 1 <= value <= most:
            raise BadInput(_("%(field)s must be 1..%(most)s", field=field, most=most), field)
    if spec.max_km is not None and not 0 < spec.max_km <= 500:
        raise BadInput(_("the distance limit must be more than 0 and at most 500 km"), "max_km")
    if spec.favour not in tuple(ProgrammeFavour):
        raise BadInput(_("unknown choice %(value)s", value=repr(spec.favour)), "favour")


def _columns(spec: ProgrammeSpec) -> dict[str, object]:
    return {
        "name": spec.name.strip(),
        "item": spec.item,
        "start_date": spec.start_date,
        "end_date": spec.end_date,
        "weekdays": sorted(set(spec.weekdays)),
        "window_start": spec.window_start,
        "window_end": spec.window_end,
        "helper_capacity": spec.helper_capacity,
        "resident_capacity": spec.resident_capacity,
        "shortlist_size": spec.shortlist_size,
        "max_km": spec.max_km,
        "gender_preference": spec.gender_preference,
        "favour": spec.favour,
        "note": spec.note.strip(),
    }


def spec_of(row: ProgrammeRow) -> ProgrammeSpec:
    return ProgrammeSpec(
        name=row.name,
        item=row.item,
        start_date=row.start_date,
        end_date=row.end_date,
        weekdays=tuple(row.weekdays),
        window_start=row.window_start,
        window_end=row.window_end,
        helper_capacity=row.helper_capacity,
        resident_capacity=row.resident_capacity,
        shortlist_size=row.shortlist_size,
        max_km=row.max_km,
        gender_preference=row.gender_preference,
        favour=row.favour,
        note=row.note,
    )


def programme_view(session: Session, row: ProgrammeRow) -> ProgrammeView:
    members = session.execute(
        select(
            func.count(ProgrammeMemberRow.resident_id), func.count(ProgrammeMemberRow.helper_id)
        ).where(ProgrammeMemberRow.programme_id == row.id, ProgrammeMemberRow.active.is_(True))
    ).one()
    pairs = dict(
        session.execute(
            select(ProgrammePairRow.status, func.count())
            .where(ProgrammePairRow.programme_id == row.id)
            .group_by(ProgrammePairRow.status)
        ).all()
    )
    return ProgrammeView(
        id=row.id,
        street_id=row.street_id,
        spec=spec_of(row),
        active=row.active,
        residents=members[0],
        helpers=members[1],
        proposed=pairs.get(PairStatus.PROPOSED, 0),
        confirmed=pairs.get(PairStatus.CONFIRMED, 0),
    )


def list_programmes(session: Session, actor: Actor) -> list[ProgrammeView]:
    """Staff: their street's programmes; anyone else: the programmes they are enrolled in."""
    stmt = select(ProgrammeRow).order_by(ProgrammeRow.start_date.desc(), ProgrammeRow.id)
    if actor.role == Role.STAFF:
        stmt = stmt.where(ProgrammeRow.street_id == (actor.street_id or -1))
    else:
        mine = select(ProgrammeMemberRow.programme_id).where(ProgrammeMemberRow.active.is_(True))
        if actor.role == Role.HELPER and actor.helper_id is not None:
            mine = mine.where(ProgrammeMemberRow.helper_id == actor.helper_id)
        elif actor.speaks_for_resident:
            mine = mine.where(ProgrammeMemberRow.resident_id == actor.resident_id)
        else:
            return []
        stmt = stmt.where(ProgrammeRow.id.in_(mine), ProgrammeRow.active.is_(True))
    return [programme_view(session, row) for row in session.scalars(stmt)]


# ----------------------------------------------------------------------------- members


def members(session: Session, actor: Actor, programme_id: int) -> list[ProgrammeMemberView]:
    """Who is enrolled (staff; community staff see the people of their community)."""
    if actor.role != Role.STAFF:
        raise Forbidden(_("only staff may do this"))
    programme = scoped_programme(session, actor, programme_id)
    rows = session.scalars(
        select(ProgrammeMemberRow)
        .where(ProgrammeMemberRow.programme_id == programme.id, ProgrammeMemberRow.active)
        .order_by(ProgrammeMemberRow.id)
    ).all()
    views = [member_view(session, row) for row in rows]
    return [v for v in views if actor.may_see_community(programme.street_id, v.community_id)]


def member_view(session: Session, row: ProgrammeMemberRow) -> ProgrammeMemberView:
    person = person_of(session, row)
    return ProgrammeMemberView(
        id=row.id,
        side="helper" if row.helper_id is not None else "resident",
        person_id=person.id,
        code=person.code,
        name=person.name,
        community_id=person.community_id,
        ranked=row.ranked_at is not None,
    )


def enrol(
    session: Session, actor: Actor, programme_id: int, side: str, codes: Iterable[str]
) -> list[ProgrammeMemberView]:
    """Enrol the street's active residents or helpers with these ledger codes (community staff:
    of their community); someone enrolled already stays as they are."""
    if actor.role != Role.STAFF:
        raise Forbidden(_("only staff may do this"))
    if side not in SIDES:
        raise BadInput(_("unknown choice %(value)s", value=repr(side)), "side")
    begin_write(session)
    programme = scoped_programme(session, actor, programme_id)
    column = ProgrammeMemberRow.resident_id if side == "resident" else ProgrammeMemberRow.helper_id
    added = []
    for code in dict.fromkeys(c.strip() for c in codes if c.strip()):
        person = _person_by_code(session, side, code)
        if (
            person is None
            or not person.active
            or not actor.may_see_community(programme.street_id, person.community_id)
        ):
            raise NotFound(_("no active person with the code %(code)s", code=repr(code)), "codes")
        row = session.scalar(
            select(ProgrammeMemberRow).where(
                ProgrammeMemberRow.programme_id == programme.id, column == person.id
            )
        )
        if row is None:
            row = ProgrammeMemberRow(programme_id=programme.id, **{f"{side}_id": person.id})
            session.add(row)
        row.active = True
        session.flush()
        added.append(member_view(session, row))
    if not added:
        raise BadInput(_("give at least one ledger code"), "codes")
    detail = {"side": side, "members": [m.id for m in added]}
    audit(session, actor.user_id, "programme.enrol", "programme", programme.id, detail)
    session.commit()
    return added


def _person_by_code(session: Session, side: str, code: str) -> ResidentRow | HelperRow | None:
    if side == "resident":
        return session.scalar(select(ResidentRow).where(ResidentRow.code == code))
    return session.scalar(select(HelperRow).where(HelperRow.code == code))


def withdraw(session: Session, actor: Actor, member_id: int) -> None:
    """Take a member out of the programme; refused while they are in a confirmed pair."""
    if actor.role != Role.STAFF:
        raise Forbidden(_("only staff may do this"))
    begin_write(session)
    row = session.get(ProgrammeMemberRow, member_id)
    if row is None or not may_act_for(session, actor, row):
        raise NotFound(_("member %(member_id)s not found", member_id=member_id))
    scoped_programme(session, actor, row.programme_id)
    confirmed = session.scalar(
        select(func.count()).where(
            ProgrammePairRow.status == PairStatus.CONFIRMED,
            (ProgrammePairRow.resident_member_id == row.id)
            | (ProgrammePairRow.helper_member_id == row.id),
        )
    )
    if confirmed:
        raise Conflict(_("end this member's confirmed pair first"))
    row.active = False
    session.execute(
        delete(ProgrammePairRow).where(
            ProgrammePairRow.status == PairStatus.PROPOSED,
            (ProgrammePairRow.resident_member_id == row.id)
            | (ProgrammePairRow.helper_member_id == row.id),
        )
    )
    audit(session, actor.user_id, "programme.withdraw", "programme_member", row.id)
    session.commit()
