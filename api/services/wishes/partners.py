"""Partner units (共建单位) and standing volunteer teams of a street, kept by its staff."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.i18n import in_locale
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.store.db import begin_write
from api.store.statuses import PartnerKind, Role
from api.store.tables import HelperRow, PartnerUnitRow, TeamMemberRow, VolunteerTeamRow

MAX_NAME = 200
MAX_TEAM = 50  # members of one standing team


@dataclass(frozen=True)
class PartnerView:
    id: int
    name: str
    kind: str
    contact: str
    active: bool


@dataclass(frozen=True)
class VolunteerTeamView:
    id: int
    name: str
    active: bool
    members: list[tuple[int, str]]  # helper id, name


def staff_street(actor: Actor) -> int:
    """The street of a staff account (``Forbidden`` for any other account)."""
    if actor.role != Role.STAFF or actor.street_id is None:
        raise Forbidden(_("only staff of a street may do this"))
    return actor.street_id


def clean_name(name: str, field: str = "name") -> str:
    name = (name or "").strip()
    if not name:
        raise BadInput(_("a name is required"), field)
    if len(name) > MAX_NAME:
        raise BadInput(_("a name is at most %(most)s characters", most=MAX_NAME), field)
    return name


# ----------------------------------------------------------------------------- partner units


def add_partner(
    session: Session, actor: Actor, name: str, kind: str, contact: str = ""
) -> PartnerView:
    """Register a partner unit of the staff member's street (names are unique per street)."""
    street_id = staff_street(actor)
    name = clean_name(name)
    if kind not in {k.value for k in PartnerKind}:
        raise BadInput(_("a partner unit is a company or a party branch"), "kind")
    contact = (contact or "").strip()[:MAX_NAME]
    begin_write(session, street_id)
    taken = select(PartnerUnitRow.id).where(
        PartnerUnitRow.street_id == street_id, PartnerUnitRow.name == name
    )
    if session.scalar(taken) is not None:
        raise Conflict(_("a partner unit of that name exists"), "name")
    row = PartnerUnitRow(street_id=street_id, name=name, kind=kind, contact=contact)
    session.add(row)
    session.flush()
    audit(session, actor.user_id, "partner.add", "partner_unit", row.id, {"name": name})
    session.commit()
    return _partner_view(row)


def set_partner_active(session: Session, actor: Actor, partner_id: int, active: bool) -> None:
    """Retire a partner unit (it claims nothing more) or take it back."""
    street_id = staff_street(actor)
    begin_write(session, street_id)
    row = partner_of_street(session, street_id, partner_id)
    row.active = active
    audit(session, actor.user_id, "partner.active", "partner_unit", row.id, {"active": active})
    session.commit()


def partners(session: Session, actor: Actor, *, active_only: bool = False) -> list[PartnerView]:
    """The partner units of the caller's street (staff and helpers of it), by name."""
    street_id = actor.street_id if actor.role == Role.STAFF else _helper_street(session, actor)
    query = select(PartnerUnitRow).where(PartnerUnitRow.street_id == street_id)
    if active_only:
        query = query.where(PartnerUnitRow.active)
    return [_partner_view(r) for r in session.scalars(query.order_by(PartnerUnitRow.name))]


def partner_of_street(session: Session, street_id: int, partner_id: int) -> PartnerUnitRow:
    row = session.get(PartnerUnitRow, partner_id)
    if row is None or row.street_id != street_id:
        raise NotFound(_("partner unit %(id)s not found", id=partner_id), "partner_id")
    return row


def _partner_view(row: PartnerUnitRow) -> PartnerView:
    return PartnerView(row.id, row.name, row.kind, row.contact, row.active)


def _helper_street(session: Session, actor: Actor) -> int | None:
    helper = session.get(HelperRow, actor.helper_id) if actor.helper_id else None
    return helper.street_id if helper is not None else None


# ----------------------------------------------------------------------------- teams


def add_team(
    session: Session, actor: Actor, name: str, helper_ids: Sequence[int]
) -> VolunteerTeamView:
    """A standing team of the street's active helpers (at least one)."""
    street_id = staff_street(actor)
    name = clean_name(name)
    begin_write(session, street_id)
    taken = select(VolunteerTeamRow.id).where(
        VolunteerTeamRow.street_id == street_id, VolunteerTeamRow.name == name
    )
    if session.scalar(taken) is not None:
        raise Conflict(_("a team of that name exists"), "name")
    members = _members_of_street(session, street_id, helper_ids)
    team = VolunteerTeamRow(street_id=street_id, name=name)
    session.add(team)
    session.flush()
    session.add_all(TeamMemberRow(team_id=team.id, helper_id=h) for h in members)
    audit(session, actor.user_id, "team.add", "volunteer_team", team.id, {"members": members})
    session.commit()
    return team_view(session, team)


def set_team_members(
    session: Session, actor: Actor, team_id: int, helper_ids: Sequence[int]
) -> VolunteerTeamView:
    """Replace a team's members."""
    street_id = staff_street(actor)
    begin_write(session, street_id)
    team = team_of_street(session, street_id, team_id)
    members = _members_of_street(session, street_id, helper_ids)
    session.execute(delete(TeamMemberRow).where(TeamMemberRow.team_id == team.id))
    session.add_all(TeamMemberRow(team_id=team.id, helper_id=h) for h in members)
    audit(session, actor.user_id, "team.members", "volunteer_team", team.id, {"members": members})
    session.commit()
    return team_view(session, team)


def teams(session: Session, actor: Actor) -> list[VolunteerTeamView]:
    """Staff: the street's teams; a helper: the active teams they belong to."""
    if actor.role == Role.STAFF:
        query = select(VolunteerTeamRow).where(VolunteerTeamRow.street_id == actor.street_id)
    else:
        query = (
            select(VolunteerTeamRow)
            .join(TeamMemberRow, TeamMemberRow.team_id == VolunteerTeamRow.id)
            .where(TeamMemberRow.helper_id == actor.own_helper_id(), VolunteerTeamRow.active)
        )
    return [team_view(session, t) for t in session.scalars(query.order_by(VolunteerTeamRow.name))]


def team_of_street(session: Session, street_id: int, team_id: int) -> VolunteerTeamRow:
    team = session.get(VolunteerTeamRow, team_id)
    if team is None or team.street_id != street_id:
        raise NotFound(_("team %(id)s not found", id=team_id), "team_id")
    return team


def team_member_ids(session: Session, team_id: int) -> list[int]:
    """The team's members who are active helpers, in id order."""
    return list(
        session.scalars(
            select(TeamMemberRow.helper_id)
            .join(HelperRow, HelperRow.id == TeamMemberRow.helper_id)
            .where(TeamMemberRow.team_id == team_id, HelperRow.active)
            .order_by(TeamMemberRow.helper_id)
        )
    )


def team_view(session: Session, team: VolunteerTeamRow) -> VolunteerTeamView:
    rows = session.execute(
        select(HelperRow.id, HelperRow.name)
        .join(TeamMemberRow, TeamMemberRow.helper_id == HelperRow.id)
        .where(TeamMemberRow.team_id == team.id)
        .order_by(HelperRow.id)
    ).all()
    return VolunteerTeamView(team.id, team.name, team.active, [(h, n) for h, n in rows])


def _members_of_street(session: Session, street_id: int, helper_ids: Sequence[int]) -> list[int]:
    members = sorted(set(helper_ids))
    if not members or len(members) > MAX_TEAM:
        raise BadInput(_("a team has 1 to %(most)s members", most=MAX_TEAM), "helper_ids")
    found = set(
        session.scalars(
            select(HelperRow.id).where(
                HelperRow.id.in_(members), HelperRow.street_id == street_id, HelperRow.active
            )
        )
    )
    missing = [h for h in members if h not in found]
    if missing:
        raise BadInput(
            _("not active helpers of your street: %(ids)s", ids=", ".join(map(str, missing))),
            "helper_ids",
        )
    return members


def stored_in_both(message: str, **params: object) -> str:
    """A text stored for readers of either language (a points entry's reason): "中文 / English"."""
    return " / ".join(in_locale(locale, message, **params) for locale in ("zh_CN", "en"))
