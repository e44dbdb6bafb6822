"""Reads every logged-in user may make: the service catalogue (with the labels of helper kinds
and resident categories) and the places of their street (communities and their grids)."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import NotFound
from api.services.ledger.import_columns import CATEGORY_LABELS, KIND_LABELS
from api.services.ledger.street_catalogue import street_catalogue
from api.store.tables import CategoryRow, Community, Grid, HelperRow, ItemRow, ResidentRow, SkillRow


class Label(BaseModel):
    code: str
    name_zh: str
    name_en: str


class CategoryOut(Label):
    paid: bool


class ItemOut(Label):
    category: str
    paid: bool
    required_skills: list[str]
    lead_skill: str | None
    duration_min: int
    team_size: int
    max_distance_km: float | None
    points: int
    active: bool  # may be ordered in the caller's street
    price_yuan: float | None = None  # a paid item's price as the caller's street sets it


class CatalogueOut(BaseModel):
    skills: list[Label]
    categories: list[CategoryOut]
    items: list[ItemOut]
    helper_kinds: list[Label]
    resident_categories: list[Label]


class GridOut(BaseModel):
    id: int
    code: str
    name: str


class CommunityOut(BaseModel):
    id: int
    code: str
    name: str
    grids: list[GridOut]


def catalogue(session: Session, actor: Actor) -> CatalogueOut:
    """Skills, categories and items of the service catalogue, in code order; the items as the
    caller's street has them (``street_catalogue``: enabled or not, duration, team, price)."""
    skills = session.scalars(select(SkillRow).order_by(SkillRow.code))
    categories = session.scalars(select(CategoryRow).order_by(CategoryRow.code))
    street_id = _street_or_none(session, actor)
    if street_id is None:
        items = [
            ItemOut.model_validate(row, from_attributes=True)
            for row in session.scalars(select(ItemRow).order_by(ItemRow.code))
        ]
    else:
        items = [
            ItemOut.model_validate(
                {
                    **vars(item),
                    "required_skills": list(item.required_skills),
                    "price_yuan": item.price_yuan,
                }
            )
            for item in street_catalogue(session, street_id).items.values()
        ]
    return CatalogueOut(
        skills=[Label.model_validate(row, from_attributes=True) for row in skills],
        categories=[CategoryOut.model_validate(row, from_attributes=True) for row in categories],
        items=items,
        helper_kinds=[Label(code=c, name_zh=zh, name_en=en) for c, (zh, en) in KIND_LABELS.items()],
        resident_categories=[
            Label(code=c, name_zh=zh, name_en=en) for c, (zh, en) in CATEGORY_LABELS.items()
        ],
    )


def communities(session: Session, actor: Actor) -> list[CommunityOut]:
    """The communities of the caller's street with their grids (names are not personal data,
    so community staff, helpers and residents see the whole street)."""
    street_id = _street(session, actor)
    rows = session.scalars(
        select(Community).where(Community.street_id == street_id).order_by(Community.code)
    ).all()
    grids: dict[int, list[GridOut]] = {}
    query = select(Grid).where(Grid.community_id.in_([c.id for c in rows])).order_by(Grid.code)
    for grid in session.scalars(query):
        grids.setdefault(grid.community_id, []).append(
            GridOut(id=grid.id, code=grid.code, name=grid.name)
        )
    return [
        CommunityOut(id=c.id, code=c.code, name=c.name, grids=grids.get(c.id, [])) for c in rows
    ]


def _street(session: Session, actor: Actor) -> int:
    street_id = _street_or_none(session, actor)
    if street_id is None:
        raise NotFound(_("your account has no street"))
    return street_id


def _street_or_none(session: Session, actor: Actor) -> int | None:
    if actor.street_id is not None:
        return actor.street_id
    row: HelperRow | ResidentRow | None = None
    if actor.helper_id is not None:
        row = session.get(HelperRow, actor.helper_id)
    elif actor.resident_id is not None:
        row = session.get(ResidentRow, actor.resident_id)
    return None if row is None else row.street_id
