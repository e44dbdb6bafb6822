"""Staff page for entering an order (录入订单): find the resident by name or ID-card tail, then
a one-off order or a weekly series; the resident's orders from today on are listed below the
form. A mistake shows the form again with the service's message next to its field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.http.deps import SessionDep
from api.http.pages.render import in_language, language
from api.http.pages.staff import (
    FormText,
    StaffPage,
    back,
    parse_date,
    parse_int,
    parse_minute,
    show,
    tomorrow,
)
from api.i18n import gettext as _
from api.services import orders
from api.services.actor import Actor
from api.services.errors import BadInput, ServiceError
from api.services.ledger import catalogue
from api.services.ledger import people as ledger
from api.services.ledger.views import LedgerFilters
from api.services.offers.assign import local_today
from api.services.orders import OrderFilters, OrderSpec, SeriesSpec
from api.settings import Settings
from api.store.tables import utcnow

router = APIRouter(prefix="/s", include_in_schema=False)


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
    cat = catalogue.catalogue(session)
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
