"""Staff pages for orders: entering one (录入订单: find the resident by name or ID-card tail,
then a one-off order or a weekly series; a mistake shows the form again with the service's
message next to its field), the order list (filters: dates, status, community; done visits
ticked and confirmed together) and one order's page, where staff close its loop (五定闭环):
cancel with a reason, confirm the visit done, enter the feedback of a resident who phoned.

The services decide: the scope (community staff see their community's orders only; any other
is "not found"), what an order's state allows (``closing.visits.next_steps``), and every
refusal, shown on the page in the reader's language."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.http.deps import SessionDep
from api.http.pages.render import in_language, language, tr
from api.http.pages.staff import (
    FormText,
    StaffPage,
    back,
    community_names,
    page_from_query,
    parse_date,
    parse_int,
    parse_minute,
    show,
    tomorrow,
)
from api.http.pages.staff_hours import order_clocks
from api.http.params import IdPath, id_in_range
from api.i18n import format_day, ngettext
from api.i18n import gettext as _
from api.services import orders
from api.services.actor import Actor
from api.services.closing import visits as closing
from api.services.closing.visits import ConfirmedMany
from api.services.errors import BadInput, NotFound, ServiceError
from api.services.ledger import catalogue
from api.services.ledger import people as ledger
from api.services.ledger.views import LedgerFilters
from api.services.offers import dispatch
from api.services.offers.assign import local_today
from api.services.orders import OrderFilters, OrderSpec, SeriesSpec
from api.settings import Settings
from api.store.statuses import OrderStatus
from api.store.tables import utcnow

router = APIRouter(prefix="/s", include_in_schema=False)
ORDERS_PER_PAGE = 50
DAYS_BACK = 7  # the list opens on the orders from a week ago on (done visits still to confirm)
MAX_TEXT = 1000  # characters of a cancel reason (as the API takes it)
MAX_COMMENT = 2000  # characters of a feedback comment (as the API takes it)


@dataclass
class OrderForm:
    """What the order form holds, as typed (shown again with an error)."""

    resident_id: str = ""
    item: str = ""
    date: str = ""
    window_start: str = ""
    window_end: str = ""
    flexible: str = ""
    priority: str = "1"
    note: str = ""
    repeat: str = ""
    weekdays: tuple[str, ...] = ()
    end_date: str = ""

    def spec(self) -> OrderSpec | SeriesSpec:
        """The order or series the form asks for (``BadInput`` naming the field if unreadable)."""
        day = parse_date(self.date)
        if day is None:
            raise BadInput(_("pick a date"), "date")
        common: dict[str, Any] = {
            "item": self.item,
            "resident_id": parse_int(self.resident_id, "resident_id"),
            "window_start": parse_minute(self.window_start, "window_start"),
            "window_end": parse_minute(self.window_end, "window_end"),
            "flexible": bool(self.flexible),
            "priority": parse_int(self.priority, "priority"),
            "note": self.note.strip(),
        }
        if not self.repeat:
            return OrderSpec(date=day, **common)
        weekdays = [parse_int(d, "weekdays") for d in self.weekdays]
        end = parse_date(self.end_date, "end_date")
        return SeriesSpec(weekdays=weekdays, start_date=day, end_date=end, **common)


def order_form_context(
    session: Session, settings: Settings, actor: Actor, q: str, resident_id: int | None
) -> dict[str, Any]:
    """The search results, the chosen resident, the catalogue by category and the resident's
    orders from today on."""
    found = None
    if q.strip():
        filters = LedgerFilters(q=q.strip(), active=True)
        found = ledger.list_residents(session, actor, filters, 1, 20)
    resident = placed = None
    if resident_id is not None:
        resident = ledger.get_resident(session, actor, resident_id)
        upcoming = OrderFilters(resident_id=resident_id, date_from=local_today(settings))
        placed = orders.list_orders(session, actor, upcoming, 1, 100)
    cat = catalogue.catalogue(session, actor)
    groups = [
        (category, [i for i in cat.items if i.category == category.code and i.active])
        for category in cat.categories
    ]
    street = actor.street_id
    dates = orders.horizon(session, settings, street, utcnow()) if resident and street else None
    return {"q": q, "found": found, "resident": resident, "placed": placed,
            "groups": [g for g in groups if g[1]], "dates": dates}  # fmt: skip


@router.get("/orders/new")
def new_order(
    request: Request, actor: StaffPage, session: SessionDep, q: str = "", resident_id: str = ""
) -> Response:
    """Find the resident (name or ID-card tail), then the order form."""
    settings = request.app.state.settings
    form = OrderForm(resident_id=resident_id, date=tomorrow(settings).isoformat())
    try:
        chosen = parse_int(resident_id, "resident_id") if resident_id.strip() else None
        context = order_form_context(session, settings, actor, q, chosen)
    except ServiceError as failure:
        session.rollback()
        context = order_form_context(session, settings, actor, q, None)
        return show(request, "s/order_new.html", actor, 404, section="order", form=form,
                    fields={}, error=failure.message, **context)  # fmt: skip
    return show(request, "s/order_new.html", actor, section="order", form=form, fields={},
                **context)  # fmt: skip


@router.post("/orders/new")
def place_order(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    resident_id: FormText = "",
    item: FormText = "",
    date: FormText = "",
    window_start: FormText = "",
    window_end: FormText = "",
    flexible: FormText = "",
    priority: FormText = "1",
    note: FormText = "",
    repeat: FormText = "",
    weekdays: Annotated[list[str] | None, Form()] = None,
    end_date: FormText = "",
) -> Response:
    """Place the order (or weekly series); on a mistake the form again, the error by its field."""
    settings = request.app.state.settings
    form = OrderForm(resident_id, item, date, window_start, window_end, flexible, priority,
                     note, repeat, tuple(weekdays or ()), end_date)  # fmt: skip
    try:
        spec = form.spec()
        if isinstance(spec, SeriesSpec):
            series = orders.place_series(session, settings, actor, spec)
            count = series.occurrences
            done = _("weekly order entered: %(count)s visits", count=count)
        else:
            order = orders.place_order(session, settings, actor, spec)
            done = _("order %(id)s entered", id=order.id)
    except ServiceError as failure:
        session.rollback()
        field = {"start_date": "date"}.get(failure.field or "", failure.field or "")
        lang = language(request)
        try:
            chosen = parse_int(resident_id, "resident_id")
            context = order_form_context(session, settings, actor, "", chosen)
        except ServiceError:
            session.rollback()
            context = order_form_context(session, settings, actor, "", None)
        return show(request, "s/order_new.html", actor, 422, section="order", form=form,
                    fields={field: in_language(lang, failure.message)}, error=failure.message,
                    **context)  # fmt: skip
    return back(request, f"/s/orders/new?resident_id={spec.resident_id}#placed", msg=done)


# ----------------------------------------------------------------------------- the order list


@dataclass(frozen=True)
class ListQuery:
    """The list's filters as typed in the query ("" = any); ``date_from`` left out of the
    query altogether (the list as first opened) means a week ago."""

    date_from: str
    date_to: str
    status: str
    community_id: str

    def filters(self) -> tuple[OrderFilters, list[str]]:
        """The service's filters, and the messages of the ones that could not be read (those
        filters are left out)."""
        problems: list[str] = []

        def day(raw: str, field: str) -> dt.date | None:
            try:
                return parse_date(raw, field)
            except BadInput as error:
                problems.append(error.message)
                return None

        status = self.status if self.status in {s.value for s in OrderStatus} else None
        number = self.community_id.strip()
        community = int(number) if number.isdigit() and id_in_range(int(number)) else None
        filters = OrderFilters(
            date_from=day(self.date_from, "date_from"),
            date_to=day(self.date_to, "date_to"),
            status=status,
            community_id=community,
        )
        return filters, problems

    def url(self, page: int | None = None) -> str:
        """The list at these filters (and ``page``)."""
        query = {
            "date_from": self.date_from,
            "date_to": self.date_to,
            "status": self.status,
            "community_id": self.community_id,
        }
        return "/s/orders?" + urlencode(query | ({"page": page} if page else {}))


@router.get("/orders")
def order_list(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    date_from: str | None = None,
    date_to: str = "",
    status: str = "",
    community_id: str = "",
    page: str = "1",
) -> Response:
    """Orders in the staff member's scope, by date and time, filtered; the done visits on the
    page can be ticked and confirmed together."""
    settings = request.app.state.settings
    if date_from is None:
        date_from = (local_today(settings) - dt.timedelta(days=DAYS_BACK)).isoformat()
    query = ListQuery(date_from, date_to, status, community_id)
    filters, problems = query.filters()
    number = page_from_query(page)
    found = orders.list_orders(session, actor, filters, number, ORDERS_PER_PAGE)
    names = community_names(session, actor)
    communities = {
        key: name
        for key, name in names.items()
        if actor.community_id is None or key == actor.community_id
    }
    confirmable = {o.id for o in found.items if closing.next_steps(o.status, False).confirm}
    return show(request, "s/orders.html", actor, section="orders", found=found, query=query,
                names=names, communities=communities, statuses=list(OrderStatus),
                confirmable=confirmable, here=query.url(number),
                pager_base=query.url() + "&", error=_("; ").join(problems) or None)  # fmt: skip


@router.post("/orders/confirm")
def confirm_ticked(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    order_ids: Annotated[list[str] | None, Form()] = None,
    next_url: Annotated[str, Form(alias="next")] = "/s/orders",
) -> RedirectResponse:
    """Confirm every ticked order, each as its own page would; those refused are named with
    the reason, the others are confirmed all the same."""
    try:
        ids = [parse_int(raw, "order_ids") for raw in order_ids or []]
        outcome = closing.confirm_many(session, request.app.state.settings, actor, ids)
    except ServiceError as failure:
        session.rollback()
        return back(request, next_url, err=failure.message)
    return back(request, next_url, **_confirmed_messages(request, outcome))


def _confirmed_messages(request: Request, outcome: ConfirmedMany) -> dict[str, str]:
    """``msg``: how many were confirmed; ``err``: each refused order by name, and why."""
    lang = language(request)
    messages = {}
    if outcome.confirmed:
        count = len(outcome.confirmed)
        messages["msg"] = ngettext(
            "%(count)s visit confirmed", "%(count)s visits confirmed", count, count=count
        )
    if outcome.refused:
        named = []
        for refusal in outcome.refused:
            reason = in_language(lang, refusal.message)
            view = refusal.order
            if view is None:  # not in scope: the reason names the order, and nothing more
                named.append(reason)
                continue
            item = tr(lang, view.item_name_zh, view.item_name_en)
            order = _("order %(id)s (%(resident)s, %(item)s)", id=view.id,
                      resident=view.resident_name, item=item)  # fmt: skip
            named.append(_("%(order)s: %(reason)s", order=order, reason=reason))
        messages["err"] = _("Not confirmed: %(orders)s", orders=_("; ").join(named))
    return messages


# ----------------------------------------------------------------------------- one order


@router.get("/orders/{order_id}")
def order_page(
    request: Request, order_id: IdPath, actor: StaffPage, session: SessionDep
) -> Response:
    """One order: the visit, the resident, the team and each member's answer, the result
    (done, confirmed, the resident's score), and the steps its state allows."""
    try:
        detail = orders.get_order(session, actor, order_id)
    except NotFound as missing:
        session.rollback()
        return show(request, "s/missing.html", actor, 404, section="orders",
                    error=missing.message)  # fmt: skip
    steps = closing.next_steps(detail.order.status, detail.feedback_score is not None)
    names = community_names(session, actor)
    return show(request, "s/order.html", actor, section="orders", detail=detail, steps=steps,
                community=names.get(detail.order.community_id, ""), **order_clocks(
                    request, session, actor, order_id))  # fmt: skip


def _order_url(order_id: int) -> str:
    return f"/s/orders/{order_id}"


@router.post("/orders/{order_id}/cancel")
def cancel(
    request: Request,
    order_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    reason: FormText = "",
) -> RedirectResponse:
    """Cancel the order with a reason; its team is withdrawn and told."""
    reason = reason.strip()
    if not reason:
        return back(request, _order_url(order_id), err=_("Please give a reason for cancelling"))
    if len(reason) > MAX_TEXT:
        message = _("a reason is at most %(most)s characters", most=MAX_TEXT)
        return back(request, _order_url(order_id), err=message)
    settings = request.app.state.settings
    try:
        dispatch.cancel_order(session, settings, actor, order_id, reason)
    except ServiceError as failure:
        session.rollback()
        return back(request, _order_url(order_id), err=failure.message)
    return back(request, _order_url(order_id), msg=_("order %(id)s cancelled", id=order_id))


@router.post("/orders/{order_id}/confirm")
def confirm(
    request: Request, order_id: IdPath, actor: StaffPage, session: SessionDep
) -> RedirectResponse:
    """Confirm the visit done: each member who took part gets the item's points."""
    try:
        closing.confirm_done(session, request.app.state.settings, actor, order_id)
    except ServiceError as failure:
        session.rollback()
        return back(request, _order_url(order_id), err=failure.message)
    done = _("visit of order %(id)s confirmed", id=order_id)
    return back(request, _order_url(order_id), msg=done)


@router.post("/orders/{order_id}/feedback")
def feedback(
    request: Request,
    order_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    score: FormText = "",
    comment: FormText = "",
) -> RedirectResponse:
    """The resident's satisfaction (1–5) and comment, as they told it on the phone; a low
    score schedules a follow-up visit."""
    target = _order_url(order_id)
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        return back(request, target, err=_("a comment is at most %(most)s characters",
                                           most=MAX_COMMENT))  # fmt: skip
    settings = request.app.state.settings
    try:
        if not score.strip():
            raise BadInput(_("choose a score from 1 to 5"), "score")
        given = closing.give_feedback(
            session, settings, actor, order_id, parse_int(score, "score"), comment
        )
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    saved = _("feedback saved: %(score)s of 5", score=given.score)
    if given.follow_up_due is not None:
        saved = _("feedback saved: %(score)s of 5; a follow-up visit is due by %(day)s",
                  score=given.score, day=format_day(given.follow_up_due))  # fmt: skip
    return back(request, target, msg=saved)
