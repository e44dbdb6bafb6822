"""A run's certificate against the full problem (``matcher.certificate``): in the run's figures
(the API's JSON), as "within x % of the best possible" on the run page in each language, and in a
scenario run's JSON and report."""

from __future__ import annotations

import datetime as dt
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api import i18n
from api.http.locale import LANG_COOKIE
from api.planner import run as scenario_run
from api.planner.report import ReportRun, render_report
from api.planner.scenario import load_scenario
from api.services.matching.nightly import run_nightly
from api.services.matching.runs import get_run
from api.settings import Settings
from api.store.tables import RunRow
from tests.api.conftest import World, actor_named
from tests.api.test_run_advice import tighten
from tests.api.test_scenario import TINY, write
from tests.api.test_web_staff import web_login


@pytest.fixture
def certified(sessions: sessionmaker[Session], world: World, settings: Settings) -> dt.date:
    """Tomorrow on the tiny street, one order a day per helper, and that day's run."""
    day = tighten(sessions, settings, world)
    run_nightly(sessions, settings, world.street_id, day)
    return day


def test_the_runs_figures_carry_bounds_around_its_plan(
    sessions: sessionmaker[Session], settings: Settings, certified: dt.date
) -> None:
    """The run's figures (what the API returns) hold a certificate whose coverage bound is at
    least the plan's coverage and whose cost bound is at most its cost."""
    with sessions() as session:
        run_id = session.scalar(select(RunRow.id).order_by(RunRow.id.desc()))
        assert run_id is not None
        view = get_run(session, settings, actor_named(session, "staff"), run_id)
    certificate = view.figures["certificate"]
    assert certificate["coverage"] == view.figures["weighted_coverage"]
    assert certificate["coverage_bound"] >= certificate["coverage"]
    assert certificate["cost_bound"] <= certificate["cost"]
    assert 0 <= certificate["within"] == max(certificate["coverage_gap"], certificate["cost_gap"])


@pytest.mark.parametrize(
    ("lang", "words"), [("zh-CN", "距最优不超过"), ("en", "of the best possible")]
)
def test_the_run_page_says_how_far_from_the_best_possible(
    client: TestClient, certified: dt.date, lang: str, words: str
) -> None:
    """Street staff and a community's staff read the certificate's line in their language."""
    for user in ("staff", "staff_c1"):
        web_login(client, user)
        client.cookies.set(LANG_COOKIE, lang)
        page = unescape(client.get(f"/s/?date={certified.isoformat()}").text)
        line = page.split('id="certificate">', 1)[1].split("</p>", 1)[0]
        assert words in line and "%(" not in line, line


def test_a_scenario_runs_json_and_report_carry_the_certificate(tmp_path: Path) -> None:
    """A CP-SAT scenario run is certified: its JSON has the bounds, its report the line."""
    scenario = load_scenario(write(tmp_path, TINY))
    run = scenario_run.run_scenario(
        scenario.source, scenario, None, "cpsat", scenario_run.Overrides(time_limit_s=2)
    )
    data = scenario_run.result_json(run)
    assert data["certificate"]["coverage_bound"] >= data["weighted_coverage_units"]
    report_run = ReportRun("cpsat", run.problem, None, run.result)
    with i18n.use_locale("zh_CN"):
        assert "距最优不超过" in render_report("scenario", [report_run])
    greedy = scenario_run.run_scenario(
        scenario.source, scenario, None, "greedy", scenario_run.Overrides()
    )
    assert scenario_run.result_json(greedy)["certificate"] is None
