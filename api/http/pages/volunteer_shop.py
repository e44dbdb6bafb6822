"""The volunteer's micro-wishes and points shop (``/v/wishes``, ``/v/shop``), mobile first:
open wishes of the street to claim (alone or for a standing team) and the ones I claimed; the
shop's items with my balance, redeem one, my receipts with their codes (cancel an unused one).
The services decide; each form posts and redirects back with ``?msg=`` or ``?err=``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.http.deps import SessionDep, SettingsDep
from api.http.pages.phone import back_to, elsewhere
from api.http.pages.render import PageActor, in_language, language, render
from api.http.params import IdPath, page_from_query
from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.closing import points
from api.services.errors import ServiceError
from api.services.offers.assign import to_local
from api.services.shop import items, redeem
from api.services.wishes import board, partners

router = APIRouter(prefix="/v", include_in_schema=False)
WISHES_PER_PAGE = 30
RECEIPTS_PER_PAGE = 20


def _away(request: Request, actor: Actor) -> Response | None:
    return elsewhere(request, actor, "helper", actor.helper_id, "v")


def _refused(request: Request, session: Session, path: str, error: ServiceError) -> Response:
    session.rollback()
    return back_to(path, err=in_language(language(request), error.message))


@router.get("/wishes")
def wishes(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep, page: str = "1"
) -> Response:
    """Open micro-wishes of my street, and those I or my teams claimed."""
    if (away := _away(request, actor)) is not None:
        return away
    found = board.board(session, actor, page=page_from_query(page), page_size=WISHES_PER_PAGE)
    return render(
        request,
        "v/wishes.html",
        actor,
        here="wishes",
        found=found,
        teams=partners.teams(session, actor),
        moment=lambda value: f"{to_local(settings, value):%Y-%m-%d %H:%M}",
    )


@router.post("/wishes/{wish_id}/claim")
def claim(
    wish_id: IdPath,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    team_id: Annotated[str, Form()] = "",
) -> Response:
    """Take a wish, alone or for one of my standing teams."""
    if (away := _away(request, actor)) is not None:
        return away
    team = int(team_id) if team_id.isdecimal() and len(team_id) < 10 else None
    try:
        board.claim_wish(session, actor, wish_id, team_id=team)
    except ServiceError as error:
        return _refused(request, session, "/v/wishes", error)
    return back_to("/v/wishes", msg=_("Wish claimed: thank you!"), anchor=f"wish-{wish_id}")


@router.post("/wishes/{wish_id}/release")
def release(wish_id: IdPath, request: Request, actor: PageActor, session: SessionDep) -> Response:
    """Give a wish I claimed back to the board."""
    if (away := _away(request, actor)) is not None:
        return away
    try:
        board.release_wish(session, actor, wish_id)
    except ServiceError as error:
        return _refused(request, session, "/v/wishes", error)
    return back_to("/v/wishes", msg=_("The wish is open again for others"))


@router.get("/shop")
def shop(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep, page: str = "1"
) -> Response:
    """The points shop: my balance, what I can redeem, my receipts."""
    if (away := _away(request, actor)) is not None:
        return away
    receipts = redeem.redemptions(session, actor, page_from_query(page), RECEIPTS_PER_PAGE)
    return render(
        request,
        "v/shop.html",
        actor,
        here="shop",
        balance=points.balance(session, actor.own_helper_id()),
        items=items.list_items(session, actor),
        receipts=receipts,
        most=redeem.MAX_QUANTITY,
        moment=lambda value: f"{to_local(settings, value):%Y-%m-%d %H:%M}",
    )


@router.post("/shop/{item_id}/redeem")
def redeem_item(
    item_id: IdPath,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    quantity: Annotated[str, Form()] = "1",
) -> Response:
    """Redeem points for an item; the receipt's code shows at the top of my receipts."""
    if (away := _away(request, actor)) is not None:
        return away
    if not (quantity.isdecimal() and len(quantity) < 4):
        return back_to("/v/shop", err=_("Quantity is a whole number"))
    try:
        receipt = redeem.redeem(session, actor, item_id, int(quantity))
    except ServiceError as error:
        return _refused(request, session, "/v/shop", error)
    msg = _("Redeemed. Show the code %(code)s at the counter", code=receipt.code)
    return back_to("/v/shop", msg=msg, anchor=f"receipt-{receipt.id}")


@router.post("/shop/receipts/{redemption_id}/cancel")
def cancel_receipt(
    redemption_id: IdPath, request: Request, actor: PageActor, session: SessionDep
) -> Response:
    """Cancel an unused receipt: the points come back."""
    if (away := _away(request, actor)) is not None:
        return away
    try:
        receipt = redeem.cancel(session, actor, redemption_id)
    except ServiceError as error:
        return _refused(request, session, "/v/shop", error)
    msg = _("Cancelled: %(points)s points are back", points=receipt.points)
    return back_to("/v/shop", msg=msg)
