"""A street's effective catalogue: the shipped catalogue (``service_items``) overlaid by the
street's own settings (``street_items``: enabled or not, duration, team size, price).

``street_catalogue`` is the one place the overlay is made; everything that reads an item for a
street (matching, claims, re-match, dispatch candidates, offers, orders, visits, the day's sheet,
the resident's order page) asks it. Kept per process while the catalogue's cache stamp holds
(``api.store.stamps``: a write to ``street_items`` restamps the catalogue, so a street's change
is seen by the next problem built).

A disabled item cannot be ordered; orders placed before it was disabled are still matched
(the matcher's catalogue keeps every item, with the street's durations and team sizes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.errors import NotFound
from api.store.stamps import CATALOGUE, IN_TRANSACTION, StampedCache, current
from api.store.tables import CategoryRow, ItemRow, SkillRow, StreetItemRow
from matcher.catalogue import load_catalogue
from matcher.model import Catalogue, Category, ServiceItem, Skill

_KEPT = StampedCache()


@dataclass(frozen=True)
class StreetItem:
    """One item as a street has it (the shipped values where the street sets none)."""

    code: str
    name_zh: str
    name_en: str
    category: str
    paid: bool
    required_skills: tuple[str, ...]
    lead_skill: str | None
    duration_min: int
    team_size: int
    max_distance_km: float | None
    points: int
    active: bool  # may be ordered: enabled in the shipped catalogue and by the street
    price_fen: int | None  # paid items only; None: no price set
    own_duration: bool = False  # the street sets this field (not the shipped value)
    own_team_size: bool = False
    own_enabled: bool = False  # the street has a setting for this item at all

    @property
    def price_yuan(self) -> float | None:
        return None if self.price_fen is None else self.price_fen / 100


@dataclass(frozen=True)
class StreetCatalogue:
    """Every item of the catalogue as the street has it, and the matcher's catalogue of them."""

    street_id: int
    items: Mapping[str, StreetItem]
    matcher: Catalogue

    def item(self, code: str) -> StreetItem:
        """The item ``code``; ``NotFound`` if the catalogue has no such item."""
        found = self.items.get(code)
        if found is None:
            raise NotFound(_("unknown item %(code)s", code=code), "item")
        return found

    def orderable(self) -> list[StreetItem]:
        """The items residents may order (enabled), in code order."""
        return [i for i in self.items.values() if i.active]


def street_catalogue(session: Session, street_id: int, stamp: str | None = "") -> StreetCatalogue:
    """The street's effective catalogue (``stamp``: the catalogue's stamp as just read by the
    caller; default: read here). Within one transaction it is read once: a run asks for the
    item of each of hundreds of orders (a write to the catalogue's tables in the transaction
    forgets it: ``api.store.stamps``)."""
    transaction = session.get_transaction()
    kept = session.info.get(IN_TRANSACTION)
    if stamp == "" and kept is not None and kept[0] is transaction and street_id in kept[1]:
        return kept[1][street_id]  # type: ignore[no-any-return]
    if stamp == "":
        stamp = current(session, CATALOGUE)
    found = _KEPT.get(session, f"{CATALOGUE}:{street_id}", lambda: _read(session, street_id), stamp)
    if transaction is not None:
        if kept is None or kept[0] is not transaction:
            streets: dict[int, StreetCatalogue] = {}
            kept = (transaction, streets)
            session.info[IN_TRANSACTION] = kept
        kept[1][street_id] = found
    return found


def forget_catalogues() -> None:
    """Drop the catalogues this process keeps."""
    _KEPT.clear()


def _read(session: Session, street_id: int) -> StreetCatalogue:
    skills = session.scalars(select(SkillRow).order_by(SkillRow.code)).all()
    if not skills:  # a database without a catalogue: the shipped one, nothing overlaid
        shipped = load_catalogue()
        items = {i.code: _from_model(i) for i in shipped.items}
        return StreetCatalogue(street_id, MappingProxyType(items), shipped)
    categories = session.scalars(select(CategoryRow).order_by(CategoryRow.code)).all()
    own = {
        row.item: row
        for row in session.scalars(
            select(StreetItemRow).where(StreetItemRow.street_id == street_id)
        )
    }
    items = {
        row.code: _overlay(row, own.get(row.code))
        for row in session.scalars(select(ItemRow).order_by(ItemRow.code))
    }
    matcher = Catalogue(
        skills=tuple(Skill(code=s.code, name_zh=s.name_zh, name_en=s.name_en) for s in skills),
        categories=tuple(
            Category(code=c.code, name_zh=c.name_zh, name_en=c.name_en, paid=c.paid)
            for c in categories
        ),
        items=tuple(_to_model(i) for i in items.values()),
    )
    return StreetCatalogue(street_id, MappingProxyType(items), matcher)


def _overlay(row: ItemRow, own: StreetItemRow | None) -> StreetItem:
    """The one rule: the street's value where it sets one, else the shipped catalogue's."""
    return StreetItem(
        code=row.code,
        name_zh=row.name_zh,
        name_en=row.name_en,
        category=row.category,
        paid=row.paid,
        required_skills=tuple(sorted(row.required_skills)),
        lead_skill=row.lead_skill,
        duration_min=(own.duration_min if own and own.duration_min else row.duration_min),
        team_size=(own.team_size if own and own.team_size else row.team_size),
        max_distance_km=row.max_distance_km,
        points=row.points,
        active=bool(row.active) and (own is None or own.active),
        price_fen=own.price_fen if own is not None and row.paid else None,
        own_duration=own is not None and own.duration_min is not None,
        own_team_size=own is not None and own.team_size is not None,
        own_enabled=own is not None,
    )


def _from_model(item: ServiceItem) -> StreetItem:
    return StreetItem(
        code=item.code,
        name_zh=item.name_zh,
        name_en=item.name_en,
        category=item.category,
        paid=item.paid,
        required_skills=tuple(sorted(item.required_skills)),
        lead_skill=item.lead_skill,
        duration_min=item.duration_min,
        team_size=item.team_size,
        max_distance_km=item.max_distance_km,
        points=item.points,
        active=True,
        price_fen=None,
    )


def _to_model(item: StreetItem) -> ServiceItem:
    return ServiceItem(
        code=item.code,
        name_zh=item.name_zh,
        name_en=item.name_en,
        category=item.category,
        paid=item.paid,
        required_skills=frozenset(item.required_skills),
        lead_skill=item.lead_skill,
        duration_min=item.duration_min,
        team_size=item.team_size,
        max_distance_km=item.max_distance_km,
        points=item.points,
    )
