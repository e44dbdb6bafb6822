"""The report for superiors (``/s/report?period=2026-10`` or ``2026-Q4``): a row for the street,
each community and each grid in the caller's area, a picker of months and quarters, and the same
table as an XLSX file (``&format=xlsx``). Street staff and planners see the street; community
staff their community. The service counts and decides the area."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import i18n
from api.http.deps import SessionDep
from api.http.pages.staff import DeskPage, show
from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.circles import targets
from api.services.errors import ServiceError
from api.services.offers.assign import local_today
from api.services.reports import sheet
from api.services.reports.monthly import Report, report_for
from api.services.reports.periods import Period, parse_period, period_of

router = APIRouter(prefix="/s", include_in_schema=False)
MONTHS_OFFERED = 24  # the picker's months back from this one
QUARTERS_OFFERED = 8


def picker(today: dt.date, chosen: Period) -> tuple[list[Period], list[Period]]:
    """The picker's months and quarters, newest first (the chosen period among them)."""
    month, quarter = period_of(today), period_of(today, "quarter")
    months = [month.shifted(-n) for n in range(MONTHS_OFFERED)]
    quarters = [quarter.shifted(-n) for n in range(QUARTERS_OFFERED)]
    listed = months if chosen.kind == "month" else quarters
    if chosen not in listed:
        listed.insert(0, chosen)
    return months, quarters


def period_label(period: Period) -> str:
    """A period as people read it: 2026年10月 / 2026年第4季度 (zh), 2026-10 / 2026 Q4 (en)."""
    if period.kind == "quarter":
        return _("%(year)s Q%(number)s", year=period.year, number=period.number)
    return _("%(year)s-%(month)s", year=period.year, month=f"{period.number:02d}")


def shown(value: sheet.Value) -> str:
    """A table cell as the page shows it: numbers in the reader's locale, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, int | float):
        return i18n.format_number(value, 1)
    return value


@router.get("/report")
def report_page(
    request: Request, actor: DeskPage, session: SessionDep, period: str = "", format: str = ""
) -> Response:
    """The period's figures (this month unless one is picked); ``format=xlsx``: the file."""
    settings = request.app.state.settings
    today = local_today(settings)
    try:
        chosen = parse_period(period) if period.strip() else period_of(today)
        report = report_for(session, settings, actor, chosen)
    except ServiceError as failure:
        return _page(request, actor, period_of(today), today, None, 400, error=failure.message)
    if format == "xlsx":
        file = sheet.report_xlsx(report)
        disposition = f'attachment; filename="{file.filename}"'
        headers = {"Content-Disposition": disposition}
        return Response(file.content, media_type=file.media_type, headers=headers)
    counted = targets.target_count(session, actor, today)
    return _page(request, actor, chosen, today, report, circle_targets=counted)


def _page(
    request: Request,
    actor: Actor,
    chosen: Period,
    today: dt.date,
    report: Report | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    months, quarters = picker(today, chosen)
    rows = (
        [(row, [shown(v) for v in sheet.row_cells(row)]) for row in report.rows] if report else []
    )
    return show(request, "s/report.html", actor, status_code, section="report", report=report,
                rows=rows, headers=sheet.headers(), chosen=chosen, period_label=period_label,
                months=months, quarters=quarters, earlier=chosen.shifted(-1),
                later=chosen.shifted(1), **context)  # fmt: skip
