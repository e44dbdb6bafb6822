"""The volunteer's hours and own time (``/v``): check-in and check-out at a visit (签到/签退; the
position only if the phone offers one and the helper ticks the box: ``static/clock.js`` reads
it with the browser's Geolocation API), my service record (visits, hours and points) with the
certificate of service as a PDF for a chosen period, and my time: hours per weekday, leave
and "pause this week", which matching honours from the next day on.

The services decide (``api.services.hours``); each form posts and redirects back with
``?msg=`` or ``?err=``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api import i18n
from api.http.deps import SessionDep, SettingsDep
from api.http.pages.phone import back_to, day_namer, elsewhere
from api.http.pages.render import PageActor, in_language, language, render
from api.http.params import IdPath, page_from_query
from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput, ServiceError
from api.services.hours import certificate as certificates
from api.services.hours import clock, history, own_time
from api.services.hours.clock import Position
from api.services.offers.assign import local_today
from api.settings import Settings

router = APIRouter(prefix="/v", include_in_schema=False)
VISITS_PER_PAGE = 20
WEEKDAYS = range(7)
FormText = Annotated[str, Form()]


def _away(request: Request, actor: Actor) -> Response | None:
    return elsewhere(request, actor, "helper", actor.helper_id, "v")


def _refused(request: Request, session: Session, path: str, error: ServiceError) -> Response:
    session.rollback()
    return back_to(path, err=in_language(language(request), error.message))


def hours_text(minutes: int | None) -> str:
    """Minutes as hours with one decimal, in the page's locale."""
    return "" if minutes is None else i18n.format_number(minutes / 60, 1)


def _position(share: str, lat: str, lon: str, accuracy: str) -> Position | None:
    """The position the page sent, only when the helper ticked the box and the phone gave one."""
    if share != "on" or not lat.strip() or not lon.strip():
        return None
    try:
        return Position(float(lat), float(lon), float(accuracy) if accuracy.strip() else None)
    except ValueError as error:
        raise BadInput(_("the position is not a number"), "position") from error


# ----------------------------------------------------------------------------- 签到 / 签退


@router.post("/assignments/{assignment_id}/check-in")
def check_in(
    assignment_id: IdPath,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    share_position: FormText = "",
    lat: FormText = "",
    lon: FormText = "",
    accuracy: FormText = "",
) -> Response:
    """签到: the time is now; the position only if shared."""
    if (away := _away(request, actor)) is not None:
        return away
    try:
        where = _position(share_position, lat, lon, accuracy)
        clock.check_in(session, settings, actor, assignment_id, where)
    except ServiceError as error:
        return _refused(request, session, "/v/", error)
    return back_to("/v/", msg=_("Checked in. Thank you for going!"))


@router.post("/assignments/{assignment_id}/check-out")
def check_out(
    assignment_id: IdPath,
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    share_position: FormText = "",
    lat: FormText = "",
    lon: FormText = "",
    accuracy: FormText = "",
) -> Response:
    """签退: the time is now; the position only if shared."""
    if (away := _away(request, actor)) is not None:
        return away
    try:
        where = _position(share_position, lat, lon, accuracy)
        view = clock.check_out(session, settings, actor, assignment_id, where)
    except ServiceError as error:
        return _refused(request, session, "/v/", error)
    msg = _("Checked out after %(hours)s hours.", hours=hours_text(view.minutes))
    return back_to("/v/", msg=msg)


# ----------------------------------------------------------------------------- my record


@router.get("/hours")
def my_hours(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    page: str = "1",
) -> Response:
    """My visits with the hours and points each brought, my totals, and the certificate."""
    if (away := _away(request, actor)) is not None:
        return away
    found = history.helper_history(
        session, actor, actor.own_helper_id(), page_from_query(page), VISITS_PER_PAGE
    )
    first, last = certificates.default_period(settings)
    return render(request, "v/hours.html", actor, here="hours", found=found, first=first,
                  last=last, hours=hours_text, day=day_namer(local_today(settings)))  # fmt: skip


@router.get("/certificate.pdf")
def my_certificate(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    first: str = "",
    last: str = "",
) -> Response:
    """志愿服务记录证明 for the period chosen (default: this year), as a PDF download."""
    if (away := _away(request, actor)) is not None:
        return away
    return certificate_response(request, session, settings, actor, actor.own_helper_id(),
                                first, last, "/v/hours")  # fmt: skip


def certificate_response(
    request: Request,
    session: Session,
    settings: Settings,
    actor: Actor,
    helper_id: int,
    first: str,
    last: str,
    back: str,
) -> Response:
    """The PDF, or back to ``back`` with the reason (a bad period, no font installed)."""
    try:
        start, end = _period(settings, first, last)
        cert = certificates.certificate(session, settings, actor, helper_id, start, end)
        pdf = certificates.certificate_pdf(cert)
    except ServiceError as error:
        return _refused(request, session, back, error)
    name = f"certificate-{cert.number}.pdf"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


def _period(settings: Settings, first: str, last: str) -> tuple[dt.date, dt.date]:
    default_first, default_last = certificates.default_period(settings)
    return _day(first, "first") or default_first, _day(last, "last") or default_last


def _day(raw: str, field: str) -> dt.date | None:
    if not raw.strip():
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError as error:
        raise BadInput(_("a date is YYYY-MM-DD: %(raw)s", raw=repr(raw)), field) from error


# ----------------------------------------------------------------------------- my time


@router.get("/time")
def my_time(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep
) -> Response:
    """My hours per weekday, leave and pause."""
    if (away := _away(request, actor)) is not None:
        return away
    mine = own_time.own_time(session, settings, actor)
    return render(request, "v/time.html", actor, here="time", mine=mine,
                  weekdays=_weekday_names(), windows=_windows_text,
                  day=day_namer(mine.today, near_with_date=True))  # fmt: skip


def _weekday_names() -> list[str]:
    monday = dt.date(2024, 1, 1)  # a Monday
    return [i18n.format_day(monday + dt.timedelta(days=i), "EEEE") for i in WEEKDAYS]


def _windows_text(windows: list[tuple[int, int]] | None) -> str:
    """Windows as "08:00-12:00, 14:00-18:00" (what the form shows and reads back)."""
    if windows is None:
        return ""
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in windows)


def parse_windows(raw: str, day: int) -> list[tuple[int, int]]:
    """ "08:00-12:00, 14:00-18:00" → minutes; "-" or "0" → not that day (empty)."""
    text = raw.replace("，", ",").replace("－", "-").replace("：", ":").strip()
    if text in ("-", "0"):
        return []
    windows = []
    for part in text.split(","):
        start, sep, end = part.strip().partition("-")
        if not sep:
            raise BadInput(_("write hours as 08:00-12:00: %(raw)s", raw=repr(part)), f"week.{day}")
        windows.append((_minute(start, day), _minute(end, day)))
    return windows


def _minute(raw: str, day: int) -> int:
    hours, sep, minutes = raw.strip().partition(":")
    if hours.isdigit() and (not sep or (minutes.isdigit() and int(minutes) < 60)):
        return int(hours) * 60 + (int(minutes) if sep else 0)
    raise BadInput(_("write hours as 08:00-12:00: %(raw)s", raw=repr(raw)), f"week.{day}")


@router.post("/time/week")
async def set_week(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep
) -> Response:
    """Hours per weekday: a blank day keeps the usual hours."""
    if (away := _away(request, actor)) is not None:
        return away
    form = await request.form()
    try:
        week: list[Any] = []
        for day in WEEKDAYS:
            raw = str(form.get(f"day{day}", "")).strip()
            week.append(None if not raw else parse_windows(raw, day))
        own_time.set_week_hours(session, settings, actor, week)
    except ServiceError as error:
        return _refused(request, session, "/v/time", error)
    return back_to("/v/time", msg=_("Saved: matching uses your hours from tomorrow on"))


@router.post("/time/leave")
def add_leave(
    request: Request,
    actor: PageActor,
    session: SessionDep,
    settings: SettingsDep,
    first: FormText = "",
    last: FormText = "",
) -> Response:
    """Leave from one day to another (one day: leave the end blank)."""
    if (away := _away(request, actor)) is not None:
        return away
    try:
        start = _day(first, "first")
        if start is None:
            raise BadInput(_("choose the first day of your leave"), "first")
        own_time.add_leave(session, settings, actor, start, _day(last, "last") or start)
    except ServiceError as error:
        return _refused(request, session, "/v/time", error)
    return back_to("/v/time", msg=_("Leave saved: you will not be matched on those days"))


@router.post("/time/leave/{day}/cancel")
def cancel_leave(
    day: str, request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep
) -> Response:
    if (away := _away(request, actor)) is not None:
        return away
    try:
        when = _day(day, "day")
        if when is None:
            raise BadInput(_("choose the first day of your leave"), "day")
        own_time.cancel_leave(session, settings, actor, when)
    except ServiceError as error:
        return _refused(request, session, "/v/time", error)
    return back_to("/v/time", msg=_("Leave day taken back"))


@router.post("/time/pause")
def pause(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep
) -> Response:
    """Pause this week: no new visits from tomorrow through Sunday."""
    if (away := _away(request, actor)) is not None:
        return away
    try:
        mine = own_time.pause_this_week(session, settings, actor)
    except ServiceError as error:
        return _refused(request, session, "/v/time", error)
    until = i18n.format_day(mine.paused_until, "long") if mine.paused_until else ""
    return back_to("/v/time", msg=_("Paused through %(day)s", day=until))


@router.post("/time/resume")
def resume(
    request: Request, actor: PageActor, session: SessionDep, settings: SettingsDep
) -> Response:
    if (away := _away(request, actor)) is not None:
        return away
    try:
        own_time.resume(session, settings, actor)
    except ServiceError as error:
        return _refused(request, session, "/v/time", error)
    return back_to("/v/time", msg=_("Welcome back: you may be matched again from tomorrow"))
