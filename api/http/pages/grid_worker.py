"""The grid worker's phone pages (``/g``, 网格员): the residents of their grid (search, and order
for one of them), the grid's orders with their status (a rejected one with its reason), the
follow-up visits to the grid's residents, recorded once they took place, the grid's
management-type people (管理型, looked after through grid visits: who they are, where they live,
why the office looks after them), and the grid worker's messages (what became of the orders
they entered; the follow-up visits they own that are overdue).

The services decide, as for staff and residents: ``intake.grid`` (the grid's residents),
``orders.place_order`` (the grid worker is the requester; where the street reviews orders, the
order waits for community staff), ``orders.list_orders`` and ``closing.visits`` (scoped to the
grid by ``Actor.may_see_person``), ``ledger.managed.list_managed`` (scoped to the grid by
``managed_scope``), ``messages.outbox.inbox`` (their own). Anyone else is sent to their own
pages."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.http.deps import SessionDep, SettingsDep
from api.http.pages.phone import back_to, day_namer, elsewhere
from api.http.pages.render import PageActor, in_language, language, render
from api.http.pages.resident import NOTE_MAX, WINDOWS, ResidentOrderForm, catalogue_groups
from api.http.params import IdPath, page_from_query
from api.i18n import gettext as _
from api.services import orders
from api.services.actor import Actor
from api.services.closing import visits as closing
from api.services.errors import NotFound, ServiceError
from api.services.intake import grid
from api.services.intake.grid import GridResident
from api.services.ledger import managed
from api.services.messages import outbox
from api.services.offers.assign import local_today
from api.services.orders import OrderFilters
from api.settings import Settings
from api.store.tables import utcnow

router = APIRouter(prefix="/g", include_in_schema=False)
PER_PAGE = 30
DAYS_BACK = 7  # the grid's orders from a week ago on
NOTES_MAX = 4000
FormText = Annotated[str, Form()]


def _away(request: Request, actor: Actor) -> Response | None:
    return elsewhere(request, actor, "grid_worker", actor.grid_id, "g")


def _missing(request: Request, session: Session, actor: Actor, error: ServiceError) -> Response:
    session.rollback()
    message = in_language(language(request), error.message)
    return render(request, "g/missing.html", actor, 404, error=message)


@router.get("/")
def home(
    request: Request, actor: PageActor, session: SessionDep, q: str = "", page: str = "1"
) -> Response:
    """The residents of my grid, by name (searchable), each with "order for them"."""
    if (away := _away(request, actor)) is not None:
        return away
    found = grid.grid_residents(session, actor, q[:100], page_from_query(page), PER_PAGE)
    return render(request, "g/home.html", actor, here="home", found=found, q=q[:100],
                  grid_name=grid.grid_name(session, actor))  # fmt: skip


def _order_page(
    request: Request,
    session: Session,
    settings: Settings,
    actor: Actor,
    resident: GridResident,
    form: ResidentOrderForm,
    status_code: int = 200,
    fields: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    """The resident pages' order form, for one resident of the grid."""
    dates = orders.horizon(session, settings, actor.street_id or 0, utcnow())
    return render(request, "r/order.html", actor, status_code, here="order", form=form,
                  fields=fields or {}, error=error, groups=catalogue_groups(session, actor),
                  windows=[(w.code, _(w.label)) for w in WINDOWS], dates=dates,
                  note_max=NOTE_MAX, base_template="g/base_g.html", action="/g/order",
                  for_resident=resident,
                  day=day_namer(local_today(settings), near_with_date=True))  # fmt: skip


@router.get("/order")
def order_form(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    resident_id: str = "",
) -> Response:
    """Order for a resident of my grid: the same form residents use."""
    if (away := _away(request, actor)) is not None:
        return away
    try:
        if not resident_id.isdigit():
            raise NotFound(_("Please choose a resident of your grid"))
        resident = grid.grid_resident(session, actor, int(resident_id))
    except ServiceError as error:
        return _missing(request, session, actor, error)
    tomorrow = local_today(settings) + dt.timedelta(days=1)
    form = ResidentOrderForm(date=tomorrow.isoformat())
    return _order_page(request, session, settings, actor, resident, form)


@router.post("/order")
def place(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    resident_id: FormText = "",
    item: FormText = "",
    date: FormText = "",
    window: FormText = "any",
    note: FormText = "",
) -> Response:
    """Place the order for the resident (``orders.place_order``, the grid worker as requester);
    a refusal shows the form again with the service's message by its field."""
    if (away := _away(request, actor)) is not None:
        return away
    try:
        if not resident_id.isdigit():
            raise NotFound(_("Please choose a resident of your grid"))
        resident = grid.grid_resident(session, actor, int(resident_id))
    except ServiceError as error:
        return _missing(request, session, actor, error)
    form = ResidentOrderForm(item, date, window, note)
    try:
        spec = form.spec()
        placed = orders.place_order(
            session, settings, actor, orders.OrderSpec(**{**vars(spec), "resident_id": resident.id})
        )
    except ServiceError as failure:
        session.rollback()
        message = in_language(language(request), failure.message)
        field = {"window_start": "window", "window_end": "window"}.get(
            failure.field or "", failure.field or ""
        )
        return _order_page(request, session, settings, actor, resident, form, 422,
                           {field: message}, message)  # fmt: skip
    msg = _("Order %(id)s entered for %(name)s", id=placed.id, name=resident.name)
    return back_to("/g/orders", msg=msg, anchor=f"order-{placed.id}")


@router.get("/orders")
def grid_orders(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep, page: str = "1"
) -> Response:
    """My grid's orders from a week ago on, by date, with their status."""
    if (away := _away(request, actor)) is not None:
        return away
    since = local_today(settings) - dt.timedelta(days=DAYS_BACK)
    found = orders.list_orders(session, actor, OrderFilters(date_from=since),
                               page_from_query(page), PER_PAGE)  # fmt: skip
    return render(request, "g/orders.html", actor, here="orders", found=found,
                  day=day_namer(local_today(settings), near_with_date=True))  # fmt: skip


@router.get("/follow-ups")
def follow_ups(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    show_: str = "scheduled",
    page: str = "1",
) -> Response:
    """The follow-up visits to my grid's residents: to do (default) or all."""
    if (away := _away(request, actor)) is not None:
        return away
    status = None if show_ == "all" else "scheduled"
    found = closing.list_follow_ups(session, actor, status, page_from_query(page), PER_PAGE,
                                    settings)  # fmt: skip
    return render(request, "g/follow_ups.html", actor, here="follow_ups", found=found,
                  showing_all=status is None)  # fmt: skip


@router.post("/follow-ups/{follow_up_id}/done")
def record(
    request: Request,
    follow_up_id: IdPath,
    actor: PageActor,
    session: SessionDep,
    notes: FormText = "",
) -> Response:
    """Record that the visit took place, with what it found."""
    if (away := _away(request, actor)) is not None:
        return away
    if len(notes) > NOTES_MAX:
        err = _("notes are at most %(most)s characters", most=NOTES_MAX)
        return back_to("/g/follow-ups", err=err)
    try:
        closing.complete_follow_up(session, actor, follow_up_id, notes.strip())
    except ServiceError as failure:
        session.rollback()
        return back_to("/g/follow-ups", err=in_language(language(request), failure.message))
    return back_to("/g/follow-ups", msg=_("follow-up %(id)s recorded", id=follow_up_id))


@router.get("/managed")
def managed_people(request: Request, actor: PageActor, session: SessionDep) -> Response:
    """The management-type people of my grid (管理型): name, ledger code, building, phone,
    address and why the office looks after them. Read-only: the ledger is staff's."""
    if (away := _away(request, actor)) is not None:
        return away
    people = managed.list_managed(session, actor)
    return render(request, "g/managed.html", actor, here="managed", people=people,
                  grid_name=grid.grid_name(session, actor))  # fmt: skip


@router.get("/inbox")
def inbox(request: Request, actor: PageActor, session: SessionDep, page: str = "1") -> Response:
    """My messages, newest first: the result of each order I entered (taken, done, cannot be
    done, not taken on) and the follow-up visits I own that are overdue."""
    if (away := _away(request, actor)) is not None:
        return away
    found = outbox.inbox(session, actor, page_from_query(page), PER_PAGE)
    return render(request, "g/inbox.html", actor, here="inbox", found=found)
