"""Staff pages for the points shop (``/s/shop``): the items of the counters the staff member
keeps (add one, change its price, add stock, retire it), the counter (redeem for a helper),
checking a receipt's code and marking it used (the shop hands the item over), cancelling one,
and the recent receipts. Every form calls ``api.services.shop`` and redirects back."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.http.deps import SessionDep
from api.http.pages.staff import FormText, StaffPage, back, show
from api.http.pages.staff_wishes import whole_number
from api.http.params import IdPath, page_from_query
from api.i18n import gettext as _
from api.services.errors import BadInput, ServiceError
from api.services.shop import items, redeem
from api.services.wishes import partners

router = APIRouter(prefix="/s", include_in_schema=False)
RECEIPTS_PER_PAGE = 30


@router.get("/shop")
def shop(
    request: Request, actor: StaffPage, session: SessionDep, code: str = "", page: str = "1"
) -> Response:
    """The shop's items, the counter, a receipt looked up by ``code``, the recent receipts."""
    receipt, error = None, None
    if code.strip():
        try:
            receipt = redeem.find_receipt(session, actor, code)
        except ServiceError as failure:
            error = failure.message
    return show(
        request,
        "s/shop.html",
        actor,
        section="wishes",
        items=items.list_items(session, actor),
        units=partners.partners(session, actor, active_only=True),
        receipts=redeem.redemptions(session, actor, page_from_query(page), RECEIPTS_PER_PAGE),
        receipt=receipt,
        code=code.strip()[:20],
        error=error,
        most=redeem.MAX_QUANTITY,
    )


@router.post("/shop/items")
def add_item(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    name: FormText = "",
    kind: FormText = "goods",
    price: FormText = "",
    stock: FormText = "",
    partner_id: FormText = "",
) -> RedirectResponse:
    try:
        partner = whole_number(partner_id, "partner_id") if partner_id.strip() else None
        item = items.add_item(
            session,
            actor,
            name,
            kind,
            whole_number(price, "price"),
            whole_number(stock, "stock"),
            partner_id=partner,
        )
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/shop", err=failure.message)
    return back(request, f"/s/shop#item-{item.id}", msg=_("item %(name)s added", name=item.name))


@router.post("/shop/items/{item_id}")
def edit_item(
    request: Request,
    item_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    price: FormText = "",
    add_stock: FormText = "0",
    active: FormText = "",
) -> RedirectResponse:
    """Price, stock added (or taken away with a minus sign), on sale or retired."""
    try:
        raw = add_stock.strip() or "0"
        sign = -1 if raw.startswith("-") else 1
        added = sign * whole_number(raw.lstrip("+-"), "add_stock")
        new_price = whole_number(price, "price") if price.strip() else None
        on_sale = {"1": True, "0": False}.get(active)
        item = items.edit_item(
            session, actor, item_id, price=new_price, add_stock=added, active=on_sale
        )
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/shop", err=failure.message)
    return back(request, f"/s/shop#item-{item.id}", msg=_("item %(name)s saved", name=item.name))


@router.post("/shop/redeem")
def counter(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    helper_id: FormText = "",
    item_id: FormText = "",
    quantity: FormText = "1",
) -> RedirectResponse:
    """At the counter: redeem for a helper of my area."""
    try:
        receipt = redeem.redeem(
            session,
            actor,
            whole_number(item_id, "item_id"),
            whole_number(quantity, "quantity"),
            helper_id=whole_number(helper_id, "helper_id"),
        )
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/shop", err=failure.message)
    return back(
        request, _receipt_url(receipt.code), msg=_("receipt %(code)s issued", code=receipt.code)
    )


@router.post("/shop/receipts/use")
def use(
    request: Request, actor: StaffPage, session: SessionDep, code: FormText = ""
) -> RedirectResponse:
    """The shop handed the item over: the receipt is used."""
    try:
        if not code.strip():
            raise BadInput(_("type the receipt's code"), "code")
        receipt = redeem.use_receipt(session, actor, code)
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/shop", err=failure.message)
    return back(
        request, _receipt_url(receipt.code), msg=_("receipt %(code)s used", code=receipt.code)
    )


@router.post("/shop/receipts/{redemption_id}/cancel")
def cancel(
    request: Request, redemption_id: IdPath, actor: StaffPage, session: SessionDep
) -> RedirectResponse:
    """Cancel an unused receipt: the points go back to the helper, the stock to the shelf."""
    try:
        receipt = redeem.cancel(session, actor, redemption_id)
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/shop", err=failure.message)
    return back(
        request, _receipt_url(receipt.code), msg=_("receipt %(code)s cancelled", code=receipt.code)
    )


def _receipt_url(code: str) -> str:
    return "/s/shop?" + urlencode({"code": code}) + "#receipt"
