"""Ledger rows → API views (the one place this converts), the caller's scope over the ledger, and
the list filters shared by the ledger lists and exports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, cast, false, or_, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services import paging
from api.services.actor import Actor
from api.services.errors import NotFound
from api.services.ledger.models import HelperOut, HelperPublic, ResidentOut, ResidentPublic
from api.services.paging import AnySelect
from api.store.tables import Grid, HelperRow, ResidentRow
from matcher.model import Gender, HelperKind, ResidentCategory

Person = HelperRow | ResidentRow
PersonTable = type[HelperRow] | type[ResidentRow]
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class LedgerFilters:
    """List filters; every one optional. ``kind`` is a helper kind or a resident category;
    ``q`` matches a name (part of it), a ledger code, or a resident's ID-card tail."""

    community_id: int | None = None
    grid_id: int | None = None
    kind: str | None = None
    skill: str | None = None
    active: bool | None = None
    q: str | None = None


def sees_personal_data(actor: Actor) -> bool:
    """Staff see names, phones and addresses; planners see the ledger without them."""
    return actor.role == "staff"


def scope(stmt: AnySelect, table: PersonTable, actor: Actor) -> AnySelect:
    """Narrow a select over helpers or residents to the caller's street (or community)."""
    if actor.role not in ("staff", "planner") or actor.street_id is None:
        return stmt.where(false())
    stmt = stmt.where(table.street_id == actor.street_id)
    if actor.community_id is not None:
        stmt = stmt.where(table.community_id == actor.community_id)
    return stmt


def scoped_row(session: Session, actor: Actor, table: PersonTable, row_id: int) -> Any:
    """The staff member's helper or resident ``row_id``; ``NotFound`` outside their scope, so
    nothing beyond it is revealed."""
    row: Any = session.get(table, row_id)
    if (
        row is None
        or actor.role != "staff"
        or not actor.may_see_community(row.street_id, row.community_id)
    ):
        if table is HelperRow:
            raise NotFound(_("helper %(id)s not found", id=row_id))
        raise NotFound(_("resident %(id)s not found", id=row_id))
    return row


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered(table: PersonTable, actor: Actor, filters: LedgerFilters) -> Select[Any]:
    """The caller's helpers or residents matching ``filters``, in id order."""
    stmt = scope(select(table), table, actor)
    if filters.community_id is not None:
        stmt = stmt.where(table.community_id == filters.community_id)
    if filters.grid_id is not None:
        stmt = stmt.where(table.grid_id == filters.grid_id)
    if filters.active is not None:
        stmt = stmt.where(table.active == filters.active)
    if filters.kind is not None:
        kind = HelperRow.kind if table is HelperRow else ResidentRow.category
        stmt = stmt.where(kind == filters.kind)
    if filters.skill is not None and table is HelperRow:
        # A JSON list, searched as text: '"code"' matches the whole code only (both databases).
        stmt = stmt.where(cast(HelperRow.skills, String).like(_like(f'"{filters.skill}"'), "\\"))
    if filters.q:
        stmt = stmt.where(_search(table, filters.q.strip(), sees_personal_data(actor)))
    return stmt.order_by(table.id)


def _search(table: PersonTable, q: str, personal: bool) -> Any:
    """Planners search by ledger code only: a name search would tell them who is on the ledger."""
    found = [table.code == q]
    if personal:
        found.append(table.name.ilike(_like(q), "\\"))
        if table is ResidentRow:
            found.append(ResidentRow.id_card_tail == q.upper())
    return or_(*found)


def fetch_page(
    session: Session, stmt: Select[Any], page: int, page_size: int
) -> tuple[list[Any], int]:
    """One page of a ledger list (at most ``MAX_PAGE_SIZE`` rows a page)."""
    return paging.fetch_page(session, stmt, page, page_size, most=MAX_PAGE_SIZE)


def grid_names(session: Session, rows: Iterable[Person]) -> dict[int, str]:
    ids = {row.grid_id for row in rows if row.grid_id is not None}
    if not ids:
        return {}
    found = session.execute(select(Grid.id, Grid.name).where(Grid.id.in_(ids)))
    return {grid_id: name for grid_id, name in found}


def _place(row: Person, grids: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "community_id": row.community_id,
        "community_name": row.community.name,
        "grid_id": row.grid_id,
        "grid_name": grids.get(row.grid_id) if row.grid_id is not None else None,
        "active": row.active,
    }


def _personal(row: Person) -> dict[str, Any]:
    """What the full view of anyone on the ledger adds to the public one: who and where they
    are exactly, and when they were added or deactivated."""
    return {
        "street_id": row.street_id,
        "name": row.name,
        "phone": row.phone,
        "address": row.address,
        "lat": row.lat,
        "lon": row.lon,
        "created_at": row.created_at,
        "deactivated_at": row.deactivated_at,
    }


def helper_public(row: HelperRow, grids: dict[int, str]) -> HelperPublic:
    return HelperPublic(
        **_place(row, grids),
        kind=HelperKind(row.kind),
        skills=list(row.skills),
        radius_km=row.radius_km,
        max_orders=row.max_orders,
        max_minutes=row.max_minutes,
        availability=[(start, end) for start, end in row.availability],
        languages=list(row.languages),
    )


def helper_out(row: HelperRow, grids: dict[int, str]) -> HelperOut:
    public = helper_public(row, grids).model_dump(exclude={"view"})
    return HelperOut(
        **public,
        **_personal(row),
        gender=Gender(row.gender) if row.gender else None,
        speed_kmh=row.speed_kmh,
        blocked_residents=list(row.blocked_residents),
    )


def resident_public(row: ResidentRow, grids: dict[int, str]) -> ResidentPublic:
    return ResidentPublic(
        **_place(row, grids), priority_weight=row.priority_weight, language=row.language
    )


def resident_out(row: ResidentRow, grids: dict[int, str]) -> ResidentOut:
    public = resident_public(row, grids).model_dump(exclude={"view"})
    return ResidentOut(
        **public,
        **_personal(row),
        category=ResidentCategory(row.category),
        id_card_tail=row.id_card_tail,
        preferred_gender=Gender(row.preferred_gender) if row.preferred_gender else None,
        circle=list(row.circle),
    )


def helper_view(session: Session, row: HelperRow) -> HelperOut:
    return helper_out(row, grid_names(session, [row]))


def resident_view(session: Session, row: ResidentRow) -> ResidentOut:
    return resident_out(row, grid_names(session, [row]))


def views(
    session: Session, actor: Actor, rows: Sequence[Person]
) -> list[HelperOut | HelperPublic] | list[ResidentOut | ResidentPublic]:
    """The full view for staff, the public view for planners."""
    grids = grid_names(session, rows)
    personal = sees_personal_data(actor)
    out: list[Any] = []
    for row in rows:
        if isinstance(row, HelperRow):
            out.append(helper_out(row, grids) if personal else helper_public(row, grids))
        else:
            out.append(resident_out(row, grids) if personal else resident_public(row, grids))
    return out
