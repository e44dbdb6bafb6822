"""Staff pages for intake (社区下单, 亲情代理): the orders waiting for review (approve as asked,
change the day, time, item or note and approve, or reject with a reason the requester reads),
family links waiting for a decision, and a family account made from a resident's page (its
password shown once).

The services decide (``intake.review``, ``intake.family``): the scope (community staff act on
their community only; any other order or link is "not found") and every refusal."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.http.deps import SessionDep
from api.http.pages.staff import (
    FormText,
    StaffPage,
    back,
    page_from_query,
    parse_date,
    parse_minute,
    show,
)
from api.http.params import IdPath
from api.i18n import gettext as _
from api.services.errors import NotFound, ServiceError
from api.services.intake import family, review
from api.services.intake.review import ReviewEdit
from api.services.ledger import catalogue

router = APIRouter(prefix="/s", include_in_schema=False)
PER_PAGE = 50
LINK_CHOICES = ("pending", "approved", "rejected")


# ----------------------------------------------------------------------------- review


@router.get("/review")
def review_list(
    request: Request, actor: StaffPage, session: SessionDep, page: str = "1"
) -> Response:
    """The orders residents, families and grid workers entered, waiting for review, by date."""
    waiting = review.orders_in_review(session, actor, page_from_query(page), PER_PAGE)
    cat = catalogue.catalogue(session, actor)
    items = [i for i in cat.items if i.active]
    return show(request, "s/review.html", actor, section="review", waiting=waiting, items=items)


@router.post("/review/{order_id}/approve")
def approve(
    request: Request,
    order_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    date: FormText = "",
    item: FormText = "",
    window_start: FormText = "",
    window_end: FormText = "",
    any_time: FormText = "",
    note: FormText | None = None,
) -> RedirectResponse:
    """Approve the order, with the changes made on the form (none: as asked)."""
    try:
        edit = ReviewEdit(
            date=parse_date(date),
            item=item.strip() or None,
            window_start=parse_minute(window_start, "window_start"),
            window_end=parse_minute(window_end, "window_end"),
            any_time=bool(any_time),
            note=note,
        )
        review.approve_order(session, request.app.state.settings, actor, order_id, edit)
    except ServiceError as failure:
        session.rollback()
        return back(request, f"/s/review#order-{order_id}", err=failure.message)
    return back(request, "/s/review", msg=_("order %(id)s approved: it goes to matching",
                                          id=order_id))  # fmt: skip


@router.post("/review/{order_id}/reject")
def reject(
    request: Request,
    order_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    reason: FormText = "",
) -> RedirectResponse:
    """Reject the order with the reason its requester reads."""
    try:
        review.reject_order(session, actor, order_id, reason)
    except ServiceError as failure:
        session.rollback()
        return back(request, f"/s/review#order-{order_id}", err=failure.message)
    return back(request, "/s/review", msg=_("order %(id)s rejected", id=order_id))


# ----------------------------------------------------------------------------- family links


@router.get("/family")
def family_links(
    request: Request, actor: StaffPage, session: SessionDep, show_: str = "pending"
) -> Response:
    """Family links of the staff member's area: waiting for a decision (default), approved or
    rejected."""
    chosen = show_ if show_ in LINK_CHOICES else "pending"
    links = family.links_to_decide(session, actor, chosen)
    return show(request, "s/family.html", actor, section="family", links=links, chosen=chosen,
                choices=LINK_CHOICES)  # fmt: skip


@router.post("/family/{link_id}/{decision}")
def decide(
    request: Request, link_id: IdPath, decision: str, actor: StaffPage, session: SessionDep
) -> RedirectResponse:
    """Approve or reject a family member's request to order for a resident."""
    if decision not in ("approve", "reject"):
        return back(request, "/s/family", err=_("Not found"))
    try:
        link = family.decide_link(session, actor, link_id, decision == "approve")
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/family", err=failure.message)
    done = _("link approved") if link.status == "approved" else _("link rejected")
    return back(request, "/s/family", msg=done)


@router.post("/residents/{resident_id}/family")
def new_family_account(
    request: Request,
    resident_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    name: FormText = "",
    phone: FormText = "",
    relation: FormText = "",
) -> Response:
    """Make a family account for the resident: the login is the phone number, the password is
    shown once on the page that answers."""
    try:
        made = family.create_family_account(session, actor, resident_id, name, phone, relation)
    except NotFound as missing:
        session.rollback()
        return show(request, "s/missing.html", actor, 404, section="residents",
                    error=missing.message)  # fmt: skip
    except ServiceError as failure:
        session.rollback()
        return back(request, f"/s/residents/{resident_id}#family", err=failure.message)
    response = show(request, "s/family_created.html", actor, section="residents", made=made)
    response.headers["Cache-Control"] = "no-store"  # the password is shown this once
    return response
