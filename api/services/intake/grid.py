"""A grid worker's (网格员) own view of the ledger: the residents of their grid, whom they order
for (``orders.place_order``, scoped by ``Actor.may_see_person``) and visit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import Forbidden, NotFound
from api.services.paging import Page, fetch_page
from api.store.statuses import Role
from api.store.tables import Grid, ResidentRow


@dataclass(frozen=True)
class GridResident:
    id: int
    code: str
    name: str
    phone: str
    address: str
    category: str


def _grid_worker(actor: Actor) -> int:
    if actor.role != Role.GRID_WORKER or actor.grid_id is None:
        raise Forbidden(_("only grid workers see their grid's residents"))
    return actor.grid_id


def grid_name(session: Session, actor: Actor) -> str:
    """The name of the grid worker's grid."""
    grid = session.get(Grid, _grid_worker(actor))
    return grid.name if grid is not None else ""


def grid_residents(
    session: Session, actor: Actor, query: str = "", page: int = 1, page_size: int = 50
) -> Page[GridResident]:
    """The active residents of the grid worker's grid, by name; ``query`` narrows by name,
    code or address."""
    _grid_worker(actor)
    stmt = select(ResidentRow).where(
        actor.person_scope(ResidentRow.street_id, ResidentRow.community_id, ResidentRow.grid_id),
        ResidentRow.active.is_(True),
    )
    if query.strip():
        like = f"%{query.strip()}%"
        stmt = stmt.where(
            or_(ResidentRow.name.like(like), ResidentRow.code.like(like),
                ResidentRow.address.like(like))
        )  # fmt: skip
    rows, total = fetch_page(session, stmt.order_by(ResidentRow.name, ResidentRow.id), page,
                             page_size)  # fmt: skip
    views = [GridResident(r.id, r.code, r.name, r.phone, r.address, r.category) for r in rows]
    return Page(views, total, page, page_size)


def grid_resident(session: Session, actor: Actor, resident_id: int) -> GridResident:
    """One active resident of the grid worker's grid (else ``NotFound``)."""
    _grid_worker(actor)
    row = session.get(ResidentRow, resident_id)
    if (
        row is None
        or not row.active
        or not actor.may_see_person(row.street_id, row.community_id, row.grid_id)
    ):
        raise NotFound(_("resident %(resident_id)s not found", resident_id=resident_id))
    return GridResident(row.id, row.code, row.name, row.phone, row.address, row.category)
