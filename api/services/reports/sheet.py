"""The report as a table: the headers and rows the staff page shows and the XLSX file carries,
made once here so that the two always agree; words in the reader's language (the current
locale), rates in per cent and hours with one decimal."""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.i18n import N_
from api.i18n import gettext as _
from api.services.ledger.sheets import XLSX_MEDIA, Value, write_xlsx
from api.services.reports.figures import Figures
from api.services.reports.monthly import Report, ReportRow

HEADERS = (
    N_("Level"),
    N_("Code"),
    N_("Area"),
    N_("Orders"),
    N_("Matched"),
    N_("Done on time"),
    N_("Overdue"),
    N_("Completion rate (%)"),
    N_("Rated"),
    N_("Satisfaction (%)"),
    N_("Follow-ups due"),
    N_("Follow-ups done"),
    N_("Volunteer hours"),
    N_("Points granted"),
)
LEVELS = {"street": N_("Street"), "community": N_("Community"), "grid": N_("Grid")}
NO_GRID = N_("No grid")
FIRST_FIGURE = 3  # the columns before it name the row


@dataclass(frozen=True)
class ReportFile:
    filename: str
    media_type: str
    content: bytes


def headers() -> list[str]:
    return [_(header) for header in HEADERS]


def figure_cells(figures: Figures) -> list[Value]:
    """A row's figures as the table shows them."""
    return [
        figures.orders,
        figures.matched,
        figures.on_time,
        figures.overdue,
        _percent(figures.completion_rate),
        figures.rated,
        _percent(figures.satisfaction_rate),
        figures.follow_ups_due,
        figures.follow_ups_done,
        round(figures.volunteer_hours, 1),
        figures.points,
    ]


def row_cells(row: ReportRow) -> list[Value]:
    name = row.name if row.level != "grid" or row.id is not None else _(NO_GRID)
    return [_(LEVELS[row.level]), row.code, name, *figure_cells(row.figures)]


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


def report_xlsx(report: Report) -> ReportFile:
    """The report's table as one XLSX sheet titled by the street and the period."""
    title = re.sub(r"[\\/*?:\[\]]", "", f"{report.period.code} {report.street_name}")
    rows = [row_cells(row) for row in report.rows]
    content = write_xlsx(headers(), rows, title)
    code = re.sub(r"[^A-Za-z0-9_-]", "", report.street_code) or "street"  # a header is ASCII
    filename = f"report-{code}-{report.period.code}.xlsx"
    return ReportFile(filename, XLSX_MEDIA, content)
