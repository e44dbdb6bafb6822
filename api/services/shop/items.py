"""The shop's items: goods or a service, a points price and a stock, at the street's counter
or a community's; offered by the street or a partner unit. Street staff keep every item; staff
of one community keep their community's counter."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Forbidden, NotFound
from api.services.wishes.partners import clean_name, partner_of_street, staff_street
from api.store.db import begin_write
from api.store.statuses import Role, ShopItemKind
from api.store.tables import Community, HelperRow, PartnerUnitRow, ShopItemRow

MAX_PRICE = 100_000
MAX_STOCK = 100_000
ITEM_KINDS = {kind.value for kind in ShopItemKind}


@dataclass(frozen=True)
class ShopItemView:
    id: int
    name: str
    kind: str
    price: int
    stock: int
    active: bool
    community_id: int | None
    community: str  # "" for the street's own counter
    partner_id: int | None
    partner: str  # "" when the street offers it


def add_item(
    session: Session,
    actor: Actor,
    name: str,
    kind: str,
    price: int,
    stock: int,
    *,
    partner_id: int | None = None,
    community_id: int | None = None,
) -> ShopItemView:
    """A new item of the staff member's street; community staff add to their own counter."""
    street_id = staff_street(actor)
    name = clean_name(name)
    if kind not in ITEM_KINDS:
        raise BadInput(_("an item is goods or a service"), "kind")
    price, stock = _number(price, "price", 1, MAX_PRICE), _number(stock, "stock", 0, MAX_STOCK)
    if actor.community_id is not None:
        community_id = actor.community_id
    begin_write(session, street_id)
    if community_id is not None:
        community = session.get(Community, community_id)
        if community is None or community.street_id != street_id:
            raise NotFound(_("community %(id)s not found", id=community_id), "community_id")
    if partner_id is not None:
        partner_of_street(session, street_id, partner_id)
    item = ShopItemRow(
        street_id=street_id,
        community_id=community_id,
        partner_id=partner_id,
        name=name,
        kind=kind,
        price=price,
        stock=stock,
    )
    session.add(item)
    session.flush()
    audit(
        session, actor.user_id, "shop.item", "shop_item", item.id, {"price": price, "stock": stock}
    )
    session.commit()
    return item_view(session, item)


def edit_item(
    session: Session,
    actor: Actor,
    item_id: int,
    *,
    price: int | None = None,
    add_stock: int = 0,
    active: bool | None = None,
) -> ShopItemView:
    """Change an item's price, add stock (a negative number takes stock away, never below 0)
    or retire it (``active``). Under the street's lock, as redemptions."""
    street_id = staff_street(actor)
    begin_write(session, street_id)
    item = item_for_staff(session, actor, item_id)
    if price is not None:
        item.price = _number(price, "price", 1, MAX_PRICE)
    if isinstance(add_stock, bool) or not isinstance(add_stock, int):
        raise BadInput(_("stock is a whole number"), "add_stock")
    if not 0 <= item.stock + add_stock <= MAX_STOCK:
        raise BadInput(
            _(
                "stock would be %(stock)s: it stays 0 to %(most)s",
                stock=item.stock + add_stock,
                most=MAX_STOCK,
            ),
            "add_stock",
        )
    item.stock += add_stock
    if active is not None:
        item.active = active
    detail = {"price": item.price, "add_stock": add_stock, "active": item.active}
    audit(session, actor.user_id, "shop.edit", "shop_item", item.id, detail)
    session.commit()
    return item_view(session, item)


def list_items(session: Session, actor: Actor, *, active_only: bool = False) -> list[ShopItemView]:
    """The items the caller may see: a helper the active items of their street; staff those
    of their scope (community staff: their counter and the street's)."""
    query = _visible(session, actor)
    if active_only or actor.role != Role.STAFF:
        query = query.where(ShopItemRow.active)
    return [item_view(session, row) for row in session.scalars(query.order_by(ShopItemRow.id))]


def _visible(session: Session, actor: Actor) -> Select[ShopItemRow]:
    query = select(ShopItemRow)
    if actor.role == Role.STAFF and actor.street_id is not None:
        query = query.where(ShopItemRow.street_id == actor.street_id)
        if actor.community_id is not None:
            query = query.where(
                (ShopItemRow.community_id == actor.community_id)
                | ShopItemRow.community_id.is_(None)
            )
        return query
    if actor.role == Role.HELPER:
        helper = session.get(HelperRow, actor.own_helper_id())
        if helper is None:
            raise NotFound(_("helper not found or no longer active"))
        return query.where(ShopItemRow.street_id == helper.street_id)
    raise Forbidden(_("this account has no points shop"))


def item_for_staff(session: Session, actor: Actor, item_id: int) -> ShopItemRow:
    """An item the staff member keeps: of their street, and of their community's counter when
    they are community staff (``NotFound`` otherwise)."""
    item = session.get(ShopItemRow, item_id, populate_existing=True)
    if item is None or not staff_keeps(actor, item):
        raise NotFound(_("item %(id)s not found", id=item_id), "item_id")
    return item


def staff_keeps(actor: Actor, item: ShopItemRow) -> bool:
    if actor.role != Role.STAFF or actor.street_id != item.street_id:
        return False
    return actor.community_id is None or actor.community_id == item.community_id


def item_view(session: Session, item: ShopItemRow) -> ShopItemView:
    community = session.get(Community, item.community_id) if item.community_id else None
    partner = session.get(PartnerUnitRow, item.partner_id) if item.partner_id else None
    return ShopItemView(
        id=item.id,
        name=item.name,
        kind=item.kind,
        price=item.price,
        stock=item.stock,
        active=item.active,
        community_id=item.community_id,
        community=community.name if community else "",
        partner_id=item.partner_id,
        partner=partner.name if partner else "",
    )


def _number(value: int, field: str, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise BadInput(
            _(
                "%(field)s is a whole number from %(least)s to %(most)s",
                field=field,
                least=least,
                most=most,
            ),
            field,
        )
    return value
