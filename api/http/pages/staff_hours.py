"""Staff pages for volunteer hours: a helper's hours (their visits, the hours ledger with a
button to reverse an entry, and the certificate of service printed for a chosen period), the
correction of a member's check-in and check-out on the order page (audited; a confirmed
visit's hours follow), and the honour roll (先锋榜) by hours or points for any period, per
street and community, with its spreadsheet.

The services decide the scope (community staff see their community) and every refusal."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.http.deps import SessionDep, SettingsDep
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
)
from api.http.pages.volunteer_hours import certificate_response, hours_text
from api.http.params import IdPath
from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import NotFound, ServiceError
from api.services.hours import certificate as certificates
from api.services.hours import clock, history, honour
from api.services.hours import ledger as hours_ledger
from api.services.ledger import people as ledger
from api.services.ledger import sheets
from api.services.offers.assign import to_local
from api.settings import Settings

router = APIRouter(prefix="/s", include_in_schema=False)
ENTRIES_PER_PAGE = 20
ROLL_SHOWN = 200  # rows of the roll on the page (the spreadsheet has them all)


# ----------------------------------------------------------------------------- a helper's hours


@router.get("/helpers/{helper_id}/hours")
def helper_hours(
    request: Request,
    helper_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    settings: SettingsDep,
    page: str = "1",
) -> Response:
    """The helper's visits and hours ledger, and the certificate to print."""
    try:
        person = ledger.get_helper(session, actor, helper_id)
        entries = hours_ledger.history(
            session, actor, helper_id, page_from_query(page), ENTRIES_PER_PAGE
        )
        visits = history.helper_history(session, actor, helper_id, 1, ENTRIES_PER_PAGE)
    except NotFound as missing:
        session.rollback()
        return show(request, "s/missing.html", actor, 404, section="helpers",
                    error=missing.message)  # fmt: skip
    first, last = certificates.default_period(settings)
    return show(request, "s/helper_hours.html", actor, section="helpers", person=person,
                entries=entries, visits=visits, first=first, last=last,
                hours=hours_text)  # fmt: skip


@router.get("/helpers/{helper_id}/certificate.pdf")
def helper_certificate(
    request: Request,
    helper_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    settings: SettingsDep,
    first: str = "",
    last: str = "",
) -> Response:
    """The helper's certificate of service for the period, to print."""
    return certificate_response(request, session, settings, actor, helper_id, first, last,
                                f"/s/helpers/{helper_id}/hours")  # fmt: skip


@router.post("/hours/{entry_id}/reverse")
def reverse_hours(
    request: Request,
    entry_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    reason: FormText = "",
    next_url: Annotated[str, Form(alias="next")] = "/s/helpers",
) -> RedirectResponse:
    """Undo an hours entry (a visit that did not take place), with a reason."""
    try:
        reversal = hours_ledger.reverse_entry(session, actor, entry_id, reason)
    except ServiceError as failure:
        session.rollback()
        return back(request, next_url, err=failure.message)
    done = _("hours entry %(id)s reversed (%(hours)s hours)", id=entry_id,
             hours=hours_text(reversal.minutes))  # fmt: skip
    return back(request, f"/s/helpers/{reversal.helper_id}/hours", msg=done)


# ----------------------------------------------------------------------------- clock correction


def order_clocks(request: Request, session: Session, actor: Actor, order_id: int) -> dict[str, Any]:
    """What the order page's check-in part (``s/_order_clock.html``) needs."""
    settings = request.app.state.settings

    def local_clock(value: dt.datetime | None) -> str:
        return "" if value is None else f"{to_local(settings, value):%H:%M}"

    clocks = clock.order_clocks(session, actor, order_id)
    return {"clocks": clocks, "hours": hours_text, "local_clock": local_clock}


@router.post("/orders/{order_id}/clock/{helper_id}")
def correct_clock(
    request: Request,
    order_id: IdPath,
    helper_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    settings: SettingsDep,
    in_time: FormText = "",
    out_time: FormText = "",
    reason: FormText = "",
) -> RedirectResponse:
    """Set a member's check-in and check-out (HH:MM on the visit's day), with a reason."""
    target = f"/s/orders/{order_id}#clock"
    try:
        start = parse_minute(in_time, "in")
        end = parse_minute(out_time, "out")
        clock.correct_clock(session, settings, actor, order_id, helper_id, start, end, reason)
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    return back(request, target, msg=_("check-in and check-out corrected"))


# ----------------------------------------------------------------------------- honour roll


def _roll(
    settings: Settings,
    first: str,
    last: str,
    by: str,
    community_id: str,
) -> tuple[dt.date, dt.date, str, int | None]:
    start, end = certificates.default_period(settings)
    community = parse_int(community_id, "community_id") if community_id.strip() else None
    return (
        parse_date(first, "first") or start,
        parse_date(last, "last") or end,
        by or "hours",
        community,
    )


@router.get("/honour")
def honour_page(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    settings: SettingsDep,
    first: str = "",
    last: str = "",
    by: str = "hours",
    community_id: str = "",
) -> Response:
    """先锋榜: the street's (or community's) helpers ranked by hours or points in a period."""
    names = community_names(session, actor)
    query = {"first": first, "last": last, "by": by, "community_id": community_id}
    try:
        start, end, order, community = _roll(settings, first, last, by, community_id)
        roll = honour.honour_roll(session, actor, start, end, order, community, limit=ROLL_SHOWN)
    except ServiceError as failure:
        session.rollback()
        start, end = certificates.default_period(settings)
        return show(request, "s/honour.html", actor, 400, section="honour", roll=None,
                    names=names, first=start, last=end, by="hours", community_id=None,
                    query=query, error=failure.message, hours=hours_text,
                    shown=ROLL_SHOWN)  # fmt: skip
    return show(request, "s/honour.html", actor, section="honour", roll=roll, names=names,
                first=start, last=end, by=order, community_id=community, query=query,
                hours=hours_text, shown=ROLL_SHOWN)  # fmt: skip


@router.get("/honour.xlsx")
def honour_sheet(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    settings: SettingsDep,
    first: str = "",
    last: str = "",
    by: str = "hours",
    community_id: str = "",
) -> Response:
    """The honour roll as a spreadsheet (every row; written row by row, as the ledger's
    exports are: a street's roll has thousands)."""
    return _honour_file(request, actor, session, settings, (first, last, by, community_id), "xlsx")


@router.get("/honour.csv")
def honour_csv(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    settings: SettingsDep,
    first: str = "",
    last: str = "",
    by: str = "hours",
    community_id: str = "",
) -> Response:
    """The honour roll as CSV (UTF-8 with a BOM, as Excel and WPS open it): the same rows as
    the spreadsheet, written in a small fraction of its time (a city street's roll has 14,000
    rows: bench/README.md)."""
    return _honour_file(request, actor, session, settings, (first, last, by, community_id), "csv")


def _honour_file(
    request: Request,
    actor: Actor,
    session: Session,
    settings: Settings,
    query: tuple[str, str, str, str],
    kind: str,
) -> Response:
    first, last, by, community_id = query
    try:
        start, end, order, community = _roll(settings, first, last, by, community_id)
        roll = honour.honour_roll(session, actor, start, end, order, community)
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/honour", err=failure.message)
    headers = honour.sheet_headers()
    rows = (honour.sheet_cells(row) for row in roll.rows)
    if kind == "csv":
        content, media = sheets.write_csv(headers, rows), sheets.CSV_MEDIA
    else:
        title = _(honour.SHEET_TITLE)
        content, media = sheets.write_xlsx(headers, rows, title), sheets.XLSX_MEDIA
    name = f"honour-{start.isoformat()}-{end.isoformat()}.{kind}"
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
