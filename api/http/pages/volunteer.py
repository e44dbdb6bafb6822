"""The volunteer pages (``/v``), mobile first: today and upcoming offers (accept, decline with a
reason, done), open orders nearby to claim (alone, with teammates, as a bundle), points, and the
inbox of messages sent to the volunteer (new offer, reminder, change, cancellation).

Every page calls the same services as the JSON API (offers, claims, points); the services
decide what a helper may see (the resident's contact only on an accepted offer) and refuse
what they may not do. Each action posts a form and redirects back with ``?msg=`` or ``?err=``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.http.deps import SessionDep, SettingsDep
from api.http.pages import labels
from api.http.pages.phone import back_to, day_namer, elsewhere, stated_reason
from api.http.pages.render import PageActor, in_language, language, render
from api.http.params import IdPath, page_from_query
from api.i18n import gettext as _
from api.services import claims
from api.services.actor import Actor
from api.services.closing import points
from api.services.closing import visits as closing
from api.services.errors import ServiceError
from api.services.hours import clock
from api.services.messages import outbox
from api.services.messages.outbox import NotificationFilters
from api.services.offers import answers as offers
from api.services.offers.assign import local_today, to_local
from api.settings import Settings
from api.store.tables import utcnow

router = APIRouter(prefix="/v", include_in_schema=False)
OFFERS_PER_PAGE = 50
CLAIMABLE_PER_PAGE = 20
POINTS_PER_PAGE = 20
INBOX_PER_PAGE = 20
# Common reasons to decline, offered as a list (labels.LABELS["decline_reason"]): quicker than
# typing on a phone.
DECLINE_REASONS = tuple(labels.LABELS["decline_reason"])


# ----------------------------------------------------------------------------- shared


def _away(request: Request, actor: Actor) -> Response | None:
    """Volunteer pages are for helper accounts: staff and planners go to their own pages, any
    other account sees "not found" (nothing about helpers is shown to them)."""
    return elsewhere(request, actor, "helper", actor.helper_id, "v")


def _in_language(request: Request, message: str) -> str:
    """A service message "中文 / English" in the page's language."""
    return in_language(language(request), message)


def _refused(request: Request, session: Session, path: str, error: ServiceError) -> Response:
    session.rollback()
    return back_to(path, err=_in_language(request, error.message))


def _calendar(request: Request, settings: Settings) -> dict[str, Any]:
    """Template helpers: ``day(date)`` as today / tomorrow / a weekday and date, and
    ``moment(utc)`` for a stored time in the street's local time."""
    day = day_namer(local_today(settings))

    def moment(value: dt.datetime) -> str:
        local = to_local(settings, value)
        return f"{day(local.date())} {local:%H:%M}"

    def reached(date: dt.date) -> bool:  # the visit's day has come: it may be marked done
        return closing.visit_day_reached(settings, date, utcnow())

    return {"day": day, "moment": moment, "visit_day_reached": reached}


# ----------------------------------------------------------------------------- today


@router.get("/")
def home(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep, page: str = "1"
) -> Response:
    """My offers and assignments, upcoming first, each as a card with its actions."""
    if (away := _away(request, actor)) is not None:
        return away
    found = offers.my_offers(
        session,
        settings,
        actor.own_helper_id(),
        page=page_from_query(page),
        page_size=OFFERS_PER_PAGE,
    )
    return render(
        request,
        "v/home.html",
        actor,
        here="home",
        found=found,
        reasons=labels.options("decline_reason"),
        clocks=clock.my_clocks(session, actor, [o.assignment_id for o in found.items]),
        **_calendar(request, settings),
    )


@router.post("/offers/{offer_id}/accept")
def accept(
    offer_id: IdPath, request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep
) -> Response:
    if (away := _away(request, actor)) is not None:
        return away
    try:
        offers.accept(session, settings, actor.own_helper_id(), offer_id)
    except ServiceError as error:
        return _refused(request, session, "/v/", error)
    msg = _("Accepted: the resident's details are shown")
    return back_to("/v/", msg=msg, anchor=f"offer-{offer_id}")


@router.post("/offers/{offer_id}/decline")
def decline(
    offer_id: IdPath,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Decline (or step back from an accepted visit) with one of the common reasons and an
    optional note; the order goes straight back to matching."""
    if (away := _away(request, actor)) is not None:
        return away
    known = reason in labels.LABELS["decline_reason"]
    note = note.strip()
    if not known and not note:
        return back_to("/v/", err=_("Please choose a reason"))
    text = stated_reason(
        (lambda locale: labels.display_in(locale, "decline_reason", reason)) if known else None,
        note,
    )
    try:
        offers.decline(session, settings, actor.own_helper_id(), offer_id, text)
    except ServiceError as error:
        return _refused(request, session, "/v/", error)
    msg = _("Declined: we will ask someone else")
    return back_to("/v/", msg=msg)


@router.post("/assignments/{assignment_id}/done")
def done(
    assignment_id: IdPath,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    if (away := _away(request, actor)) is not None:
        return away
    try:
        view = offers.mark_done(session, settings, actor.own_helper_id(), assignment_id)
    except ServiceError as error:
        return _refused(request, session, "/v/", error)
    msg = _("Marked done. Thank you!")
    return back_to("/v/", msg=msg, anchor=f"offer-{view.id}")


# ----------------------------------------------------------------------------- nearby


@router.get("/claim")
def claimable(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep, page: str = "1"
) -> Response:
    """Open orders nearby I may claim: alone, with teammates, or several together."""
    if (away := _away(request, actor)) is not None:
        return away
    found = claims.claimable_orders(
        session,
        settings,
        actor.own_helper_id(),
        page=page_from_query(page),
        page_size=CLAIMABLE_PER_PAGE,
    )
    return render(
        request, "v/claim.html", actor, here="claim", found=found, **_calendar(request, settings)
    )


@router.post("/claim/bundle")
def claim_bundle(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    order_ids: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies the default)
) -> Response:
    """打包认领: the ticked orders, all or nothing."""
    if (away := _away(request, actor)) is not None:
        return away
    ids = _numbers(order_ids)
    if ids is None:
        return back_to("/v/claim", err=_("Invalid order number"))
    try:
        outcome = claims.claim_bundle(session, settings, actor.own_helper_id(), ids)
    except ServiceError as error:
        return _refused(request, session, "/v/claim", error)
    count = len(outcome.orders)
    msg = _("Claimed %(count)s orders together", count=count)
    return back_to("/v/", msg=msg)


@router.post("/claim/{order_id:int}")
def claim_single(
    order_id: IdPath, request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep
) -> Response:
    """单独认领: a one-person order, accepted at once."""
    if (away := _away(request, actor)) is not None:
        return away
    try:
        claims.claim_single(session, settings, actor.own_helper_id(), order_id)
    except ServiceError as error:
        return _refused(request, session, "/v/claim", error)
    msg = _("Claimed: the resident's details are shown")
    return back_to("/v/", msg=msg)


@router.post("/claim/{order_id:int}/team")
def claim_team(
    order_id: IdPath,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    teammate: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies the default)
) -> Response:
    """集体认领: with teammates named by their helper numbers; each teammate confirms."""
    if (away := _away(request, actor)) is not None:
        return away
    ids = _numbers(teammate)
    if ids is None:
        err = _("A teammate's number is digits only")
        return back_to("/v/claim", err=err)
    try:
        claims.claim_team(session, settings, actor.own_helper_id(), order_id, ids)
    except ServiceError as error:
        return _refused(request, session, "/v/claim", error)
    msg = _("Claimed: waiting for your teammates to confirm")
    return back_to("/v/", msg=msg)


def _numbers(values: list[str]) -> list[int] | None:
    """Whole numbers typed or ticked (blank fields skipped); None if any is not a number."""
    typed = [value.strip() for value in values if value.strip()]
    if not all(value.isdecimal() and len(value) < 10 for value in typed):
        return None
    return [int(value) for value in typed]


# ----------------------------------------------------------------------------- points


@router.get("/points")
def my_points(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep, page: str = "1"
) -> Response:
    """My points balance and history, newest first."""
    if (away := _away(request, actor)) is not None:
        return away
    found = points.history(
        session, actor, actor.own_helper_id(), page_from_query(page), POINTS_PER_PAGE
    )
    return render(
        request,
        "v/points.html",
        actor,
        here="points",
        found=found,
        **_calendar(request, settings),
    )


# ----------------------------------------------------------------------------- inbox


@router.get("/inbox")
def inbox(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep, page: str = "1"
) -> Response:
    """My messages, newest first, each in my language."""
    if (away := _away(request, actor)) is not None:
        return away
    found = outbox.list_notifications(
        session, actor, NotificationFilters(), page_from_query(page), INBOX_PER_PAGE
    )
    return render(
        request, "v/inbox.html", actor, here="inbox", found=found, **_calendar(request, settings)
    )
