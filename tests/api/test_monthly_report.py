"""The report for superiors (``api.services.reports``): every figure of a hand-built history
(``report_history``) for a month and a quarter, who sees which rows, the period's syntax, and the
XLSX file carrying the page's figures."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.cli.main import app
from api.http.locale import LANG_COOKIE
from api.services.errors import BadInput, NotFound
from api.services.reports.figures import Figures
from api.services.reports.monthly import Report, report_by_code, report_for
from api.services.reports.periods import Period, parse_period
from api.settings import Settings, get_settings
from tests.api.conftest import (
    SharedEngines,
    StateContext,
    actor_named,
    database_state,
    kept_engine_app,
)
from tests.api.report_history import NOW, PASSWORD, History, build_history, expected

Sessions = sessionmaker[Session]


def _build(state: StateContext) -> History:
    with state.sessions() as session:
        history = build_history(session)
        session.commit()
    return history


history = database_state("history", _build, needs=())


def _rows(report: Report) -> dict[tuple[str, str], Figures]:
    return {(row.level, row.code): row.figures for row in report.rows}


@pytest.mark.parametrize("period", ["2026-10", "2026-09", "2026-Q4", "2026-Q3"])
def test_every_figure_of_the_history(
    sessions: Sessions, settings: Settings, history: History, period: str
) -> None:
    """Each row of the street's report (street, communities, grids, A's people of no grid)
    holds exactly the figures counted by hand, for months and quarters: rolled-over orders stay
    in their first month, cancelled ones count nowhere, a reversal lowers the month it is made
    in, and points are placed in the street's time zone."""
    with sessions() as session:
        report = report_for(session, settings, actor_named(session, "rpt_staff"),
                            parse_period(period), NOW)  # fmt: skip
    assert _rows(report) == expected(history)[period]
    assert [row.level for row in report.rows][:3] == ["street", "community", "grid"]


def test_rates_and_hours(sessions: Sessions, settings: Settings, history: History) -> None:
    """The completion rate is on time over (on time + overdue), satisfaction the share rated 4
    or 5, hours the minutes over 60; a row with nothing due has no rate (not 0 %)."""
    with sessions() as session:
        report = report_by_code(session, settings, "RPT", parse_period("2026-10"), NOW)
    street = report.top.figures
    assert street.completion_rate == pytest.approx(2 / 4)
    assert street.satisfaction_rate == pytest.approx(2 / 3)
    assert street.volunteer_hours == pytest.approx(street.volunteer_minutes / 60)
    b1 = _rows(report)[("grid", "B1")]
    assert b1.completion_rate is None and b1.satisfaction_rate is None


def test_overdue_is_counted_at_the_time_of_the_report(
    sessions: Sessions, settings: Settings, history: History
) -> None:
    """An order still owed counts as overdue only once its deadline has passed: read before
    the open A2 order's deadline, it is neither on time nor overdue."""
    with sessions() as session:
        early = report_by_code(session, settings, "RPT", parse_period("2026-10"),
                               NOW.replace(month=10, day=20))  # fmt: skip
    assert _rows(early)[("grid", "A2")] == Figures(orders=1)


def test_community_staff_see_their_community_and_its_grids(
    sessions: Sessions, settings: Settings, history: History
) -> None:
    """Community staff get their community's row first and its grids, nothing of the street or
    of another community; planners get the street's figures like street staff."""
    with sessions() as session:
        own = report_for(session, settings, actor_named(session, "rpt_staff_a"),
                         parse_period("2026-10"), NOW)  # fmt: skip
        planner = report_for(session, settings, actor_named(session, "rpt_planner"),
                             parse_period("2026-10"), NOW)  # fmt: skip
    october = expected(history)["2026-10"]
    assert [(r.level, r.code) for r in own.rows] == [
        ("community", "A"), ("grid", "A1"), ("grid", "A2"), ("grid", "")
    ]  # fmt: skip
    assert own.top.figures == october[("community", "A")]
    assert _rows(planner) == october


def test_helpers_and_residents_get_no_report(
    sessions: Sessions, settings: Settings, history: History
) -> None:
    """A helper's account is refused as if there were no report; an unknown street code is
    named in the refusal."""
    with sessions() as session:
        with pytest.raises(NotFound):
            report_for(session, settings, actor_named(session, "rpt_helper"),
                       parse_period("2026-10"), NOW)  # fmt: skip
        with pytest.raises(NotFound, match="NOPE"):
            report_by_code(session, settings, "NOPE", parse_period("2026-10"), NOW)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26-10", "", "2026-10-01", "9999-01"])
def test_bad_periods_are_refused(text: str) -> None:
    """A period is a month YYYY-MM or a quarter YYYY-Qn of a plausible year; anything else is
    bad input naming the field."""
    with pytest.raises(BadInput) as refused:
        parse_period(text)
    assert refused.value.field == "period"


def test_periods_step_across_years() -> None:
    """A period's neighbours and bounds: December → January, Q1 → Q4 of the year before; a
    quarter ends on the first day after its third month."""
    assert parse_period("2026-12").shifted(1) == Period("month", 2027, 1)
    assert parse_period("2026-q1").shifted(-1).code == "2025-Q4"
    q4 = parse_period("2026-Q4")
    assert (q4.start.isoformat(), q4.end.isoformat()) == ("2026-10-01", "2027-01-01")
    assert [m.code for m in q4.months()] == ["2026-10", "2026-11", "2026-12"]


# ----------------------------------------------------------------------------- page and file


class _Table(HTMLParser):
    """The cells of the page's report table, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_table = self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("id", "report") in attrs:
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag in ("td", "th"):
            self._in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_table and self._in_cell:
            self.rows[-1][-1] += data.strip()


def _number(text: str) -> float | None:
    cleaned = re.sub(r"[,\s%]", "", text)
    return None if cleaned in ("", "—") else float(cleaned)


@pytest.fixture
def staff_client(settings: Settings, history: History, shared_engines: SharedEngines) -> TestClient:
    client = TestClient(kept_engine_app(settings, shared_engines))
    response = client.post("/login", data={"username": "rpt_staff", "password": PASSWORD},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text
    return client


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_xlsx_carries_the_page_figures(staff_client: TestClient, lang: str) -> None:
    """The XLSX download opens with openpyxl and holds the page's table: the same headers (in
    the page's language) and the same figures, row by row."""
    staff_client.get(f"/lang/{lang}")
    page = staff_client.get("/s/report?period=2026-Q3")
    assert page.status_code == 200
    parser = _Table()
    parser.feed(page.text)
    header, *body = parser.rows
    download = staff_client.get("/s/report?period=2026-Q3&format=xlsx")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(download.content)).worksheets[0]
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == header
    assert ("订单" in header[3]) == (lang == "zh_CN")
    assert len(cells) - 1 == len(body) >= 6
    for sheet_row, page_row in zip(cells[1:], body, strict=True):
        assert [v or "" for v in sheet_row[:3]] == page_row[:3]
        assert [None if v is None else float(v) for v in sheet_row[3:]] == [
            _number(text) for text in page_row[3:]
        ]


# ----------------------------------------------------------------------------- command line

runner = CliRunner()


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("QUNBANG_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def test_the_command_prints_the_figures_and_writes_the_file(
    cli_env: str, history: History, tmp_path: Path
) -> None:
    """``qunbang report`` prints a row per street, community and grid and writes the XLSX the
    page offers; an unknown street or a bad period exits 2 naming it. (Overdue is counted at
    the time the command runs: the history's deadlines have all passed by then.)"""
    out = tmp_path / "q3.xlsx"
    args = ["--lang", "en", "report", "--street", "RPT", "--period", "2026-Q3", "--xlsx", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Community" in result.output and "甲社区" in result.output
    sheet = load_workbook(out).worksheets[0]
    street_row = [list(r) for r in sheet.iter_rows(values_only=True)][1]
    assert street_row[:5] == ["Street", "RPT", "报表街道", 1, 1]
    unknown = runner.invoke(app, ["report", "--street", "NOPE", "--period", "2026-10"])
    assert unknown.exit_code == 2 and "NOPE" in unknown.output
    bad = runner.invoke(app, ["report", "--street", "RPT", "--period", "2026-13"])
    assert bad.exit_code == 2 and "2026-13" in bad.output


def test_community_staff_page_shows_their_community_only(
    settings: Settings, history: History, shared_engines: SharedEngines
) -> None:
    """On the page, community staff's table starts with their community's row and holds none
    of the street or of the other community."""
    client = TestClient(kept_engine_app(settings, shared_engines))
    response = client.post("/login", data={"username": "rpt_staff_a", "password": PASSWORD},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    client.cookies.set(LANG_COOKIE, "en")
    parser = _Table()
    parser.feed(client.get("/s/report?period=2026-10").text)
    body = parser.rows[1:]
    assert [(row[0], row[1]) for row in body] == [
        ("Community", "A"), ("Grid", "A1"), ("Grid", "A2"), ("Grid", "")
    ]  # fmt: skip
    assert body[0][3] == "4" and body[3][2] == "No grid"
