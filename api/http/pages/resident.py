"""The resident pages (``/r``, 点单), phone first and in large type: my orders with their status in
plain words, ordering from the catalogue by category, cancelling an upcoming order with a reason,
and rating a done visit; my messages (``/r/inbox``: each order's result fed back).

A family account (亲情代理) uses the same pages for the resident it acts for: one of its approved
links, chosen on its family page (``/r/family``, a cookie keeps the choice; the service checks the
link on every request: ``intake.family.acting_for``); without an approved link it is sent there.

The pages call the same services as the JSON API: ``orders.place_order`` (which checks the item,
the window and the street's horizon), ``dispatch.cancel_order`` and ``visits.give_feedback`` (a
resident account may call both for its own orders; anything else is "not found"). Each action
posts a form and redirects back with ``?msg=`` or ``?err=``; a refused order shows the form again
with the service's message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api import i18n
from api.http.deps import SessionDep, SettingsDep
from api.http.pages.phone import back_to, day_namer, elsewhere, stated_reason
from api.http.pages.render import PageActor, in_language, language, render
from api.http.params import IdPath, page_from_query
from api.i18n import N_
from api.i18n import gettext as _
from api.services import orders
from api.services.actor import Actor
from api.services.closing import visits as closing
from api.services.errors import BadInput, NotFound, ServiceError
from api.services.intake import family
from api.services.ledger import catalogue
from api.services.messages import outbox
from api.services.offers import dispatch
from api.services.offers.assign import local_today
from api.services.orders import OrderSpec
from api.settings import Settings

router = APIRouter(prefix="/r", include_in_schema=False)
ORDERS_PER_PAGE = 20
FOR_COOKIE = "qb_for"  # the resident a family account acts for (checked on every request)
INBOX_PER_PAGE = 20
NOTE_MAX = 500
COMMENT_MAX = 1000


@dataclass(frozen=True)
class TimeOfDay:
    """A time of day a resident may pick: a name and its window (None: any time)."""

    code: str
    label: str
    start: int | None
    end: int | None


WINDOWS = (
    TimeOfDay("any", N_("Any time"), None, None),
    TimeOfDay("morning", N_("Morning (8:00–12:00)"), 8 * 60, 12 * 60),
    TimeOfDay("afternoon", N_("Afternoon (13:00–17:00)"), 13 * 60, 17 * 60),
    TimeOfDay("evening", N_("Evening (17:00–20:00)"), 17 * 60, 20 * 60),
)
CANCEL_REASONS = {
    "not_needed": N_("I no longer need it"),
    "plans_changed": N_("My plans changed"),
    "family_helps": N_("Family or friends will help"),
    "wrong_order": N_("I ordered by mistake"),
}
SCORES = {
    5: N_("Very good"),
    4: N_("Good"),
    3: N_("OK"),
    2: N_("Poor"),
    1: N_("Very poor"),
}


# ----------------------------------------------------------------------------- shared


def acting(request: Request, session: Session, actor: Actor) -> Actor:
    """The actor the resident pages serve: a family account as the resident it acts for (the
    one its cookie names if an approved link allows, else its first); anyone else as is."""
    chosen = request.cookies.get(FOR_COOKIE, "")
    return family.acting_for(session, actor, int(chosen) if chosen.isdigit() else None)


def _away(request: Request, actor: Actor) -> Response | None:
    """Resident pages are for accounts tied to a resident (a family account: acting for one):
    a family account without an approved link goes to its family page; helpers, staff and
    planners go to their own pages, any other account sees "not found"."""
    if actor.role == "family":
        return None if actor.resident_id is not None else RedirectResponse("/r/family", 303)
    return elsewhere(request, actor, "resident", actor.resident_id, "r")


def _refused(request: Request, session: Session, actor: Actor, error: ServiceError) -> Response:
    """Back to my orders with the service's reason; an order that is not mine (or none) is a
    404 page, as if it did not exist."""
    session.rollback()
    message = in_language(language(request), error.message)
    if isinstance(error, NotFound):
        return render(request, "r/missing.html", actor, 404, error=message)
    return back_to("/r/", err=message)


def _day_names(settings: Settings) -> dict[str, Any]:
    """``day(date)`` for the templates: today / tomorrow with the date, else weekday and date."""
    return {"day": day_namer(local_today(settings), near_with_date=True)}


# ----------------------------------------------------------------------------- my orders


@router.get("/")
def home(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    page: str = "1",
) -> Response:
    """My orders: the upcoming ones first (soonest first), then the earlier ones (latest first)."""
    actor = acting(request, session, actor)
    if (away := _away(request, actor)) is not None:
        return away
    upcoming = orders.resident_orders(session, settings, actor, upcoming=True, page_size=50)
    earlier = orders.resident_orders(
        session, settings, actor, upcoming=False, page=page_from_query(page),
        page_size=ORDERS_PER_PAGE,
    )  # fmt: skip
    return render(
        request,
        "r/home.html",
        actor,
        here="home",
        upcoming=upcoming,
        earlier=earlier,
        reasons=[(code, _(label)) for code, label in CANCEL_REASONS.items()],
        scores=[(score, _(label)) for score, label in SCORES.items()],
        comment_max=COMMENT_MAX,
        links=family.my_links(session, actor),
        **_day_names(settings),
    )


# ----------------------------------------------------------------------------- ordering


@dataclass
class ResidentOrderForm:
    """The order form as typed (shown again with an error)."""

    item: str = ""
    date: str = ""
    window: str = "any"
    note: str = ""

    def spec(self) -> OrderSpec:
        """The order the form asks for (``BadInput`` naming the field if unreadable)."""
        if not self.item.strip():
            raise BadInput(_("Please choose a service"), "item")
        try:
            date = dt.date.fromisoformat(self.date.strip())
        except ValueError as error:
            raise BadInput(_("Please choose a date"), "date") from error
        window = next((w for w in WINDOWS if w.code == self.window), None)
        if window is None:
            raise BadInput(_("Please choose a time of day"), "window")
        note = self.note.strip()
        if len(note) > NOTE_MAX:
            raise BadInput(_("The note is too long (at most %(count)s characters)",
                             count=NOTE_MAX), "note")  # fmt: skip
        return OrderSpec(
            item=self.item.strip(),
            date=date,
            window_start=window.start,
            window_end=window.end,
            flexible=window.start is not None,  # any time inside the window
            note=note,
        )


def _order_page(
    request: Request,
    session: Session,
    settings: Settings,
    actor: Actor,
    form: ResidentOrderForm,
    status_code: int = 200,
    fields: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    """The order form: the catalogue's active items by category, the dates the street takes."""
    dates = None
    try:
        dates = orders.resident_horizon(session, settings, actor)
    except ServiceError as failure:  # a deactivated resident: says so, the form stays
        session.rollback()
        error = error or in_language(language(request), failure.message)
    return render(
        request,
        "r/order.html",
        actor,
        status_code,
        here="order",
        form=form,
        fields=fields or {},
        error=error,
        groups=catalogue_groups(session, actor),
        windows=[(w.code, _(w.label)) for w in WINDOWS],
        dates=dates,
        note_max=NOTE_MAX,
        **_day_names(settings),
    )


def catalogue_groups(session: Session, actor: Actor) -> list[tuple[Any, list[Any]]]:
    """The street's catalogue's categories, each with its active items (categories without one
    left out), as the order form offers them."""
    cat = catalogue.catalogue(session, actor)
    groups = [
        (category, [i for i in cat.items if i.category == category.code and i.active])
        for category in cat.categories
    ]
    return [group for group in groups if group[1]]


@router.get("/order")
def order_form(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep
) -> Response:
    """Order a service: the catalogue by category, a day (tomorrow unless changed), a time of
    day or any time, and a note."""
    actor = acting(request, session, actor)
    if (away := _away(request, actor)) is not None:
        return away
    tomorrow = local_today(settings) + dt.timedelta(days=1)
    form = ResidentOrderForm(date=tomorrow.isoformat())
    return _order_page(request, session, settings, actor, form)


@router.post("/order")
def place(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    item: Annotated[str, Form()] = "",
    date: Annotated[str, Form()] = "",
    window: Annotated[str, Form()] = "any",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Place the order through ``orders.place_order``; a refusal shows the form again with the
    service's message by its field."""
    actor = acting(request, session, actor)
    if (away := _away(request, actor)) is not None:
        return away
    form = ResidentOrderForm(item, date, window, note)
    try:
        placed = orders.place_order(session, settings, actor, form.spec())
    except ServiceError as failure:
        session.rollback()
        message = in_language(language(request), failure.message)
        field = {"window_start": "window", "window_end": "window"}.get(
            failure.field or "", failure.field or ""
        )
        return _order_page(request, session, settings, actor, form, 422, {field: message},
                           message)  # fmt: skip
    msg = _("Ordered. We will tell you when a helper is arranged.")
    if placed.status == "review":
        msg = _("Ordered. The community checks it first, then we look for a helper.")
    return back_to("/r/", msg=msg, anchor=f"order-{placed.id}")


# ----------------------------------------------------------------------------- cancel and rate


@router.post("/orders/{order_id}/cancel")
def cancel(
    order_id: IdPath,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Cancel my order with one of the common reasons or words of my own."""
    actor = acting(request, session, actor)
    if (away := _away(request, actor)) is not None:
        return away
    known = reason in CANCEL_REASONS
    note = note.strip()[:NOTE_MAX]
    if not known and not note:
        return back_to("/r/", err=_("Please choose why you cancel"), anchor=f"order-{order_id}")
    text = stated_reason(
        (lambda locale: i18n.in_locale(locale, CANCEL_REASONS[reason])) if known else None, note
    )
    try:
        dispatch.cancel_order(session, settings, actor, order_id, text)
    except ServiceError as error:
        return _refused(request, session, actor, error)
    return back_to("/r/", msg=_("Order cancelled"), anchor=f"order-{order_id}")


@router.post("/orders/{order_id}/rate")
def rate(
    order_id: IdPath,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    score: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    """Rate a done visit, 1 to 5, with an optional comment (once)."""
    actor = acting(request, session, actor)
    if (away := _away(request, actor)) is not None:
        return away
    if score.strip() not in {str(s) for s in SCORES}:
        return back_to("/r/", err=_("Please choose a score"), anchor=f"order-{order_id}")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        err = _("The comment is too long (at most %(count)s characters)", count=COMMENT_MAX)
        return back_to("/r/", err=err, anchor=f"order-{order_id}")
    try:
        closing.give_feedback(session, settings, actor, order_id, int(score), comment)
    except ServiceError as error:
        return _refused(request, session, actor, error)
    return back_to("/r/", msg=_("Thank you for your rating"), anchor=f"order-{order_id}")


# ----------------------------------------------------------------------------- inbox


@router.get("/inbox")
def inbox(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    page: str = "1",
) -> Response:
    """My messages, newest first: each order's result (a helper found, done, not possible)."""
    actor = acting(request, session, actor)
    if (away := _away(request, actor)) is not None:
        return away
    found = outbox.inbox(session, actor, page_from_query(page), INBOX_PER_PAGE)
    return render(request, "r/inbox.html", actor, here="inbox", found=found, **_day_names(settings))
