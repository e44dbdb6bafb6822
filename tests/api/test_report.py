"""Tests of the HTML report: charts embedded, figures shown, self-contained, well formed."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from api import i18n
from api.planner.report import ReportRun, charts, render_report, write_report
from api.planner.report.figures import run_figures
from matcher.generator import generate_street_with_layout, preset
from matcher.metrics import summarize
from matcher.params import SolveParams
from matcher.solve import solve, solve_greedy

PNG = "data:image/png;base64,"
CHARTS_PER_RUN = 6  # category, grid, reasons, load, travel, map
GENERATED = dt.datetime(2026, 11, 22, 20, 0)
VOID = {"meta", "br", "img", "link", "hr", "input"}


@pytest.fixture(scope="module")
def runs() -> list[ReportRun]:
    problem, layout = generate_street_with_layout(preset("tiny"))
    params = SolveParams(time_limit_s=3, workers=1)
    return [
        ReportRun("cpsat 优化", problem, layout, solve(problem, params)),
        ReportRun("greedy 手工", problem, layout, solve_greedy(problem, params)),
    ]


class _Balance(HTMLParser):
    """Records tags left open or closed out of order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def _check_well_formed(html: str) -> None:
    parser = _Balance()
    parser.feed(html)
    parser.close()
    assert parser.errors == [] and parser.stack == []


def _check_self_contained(html: str) -> None:
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(src|href)=["'](?!data:)""", html)


def test_one_run_has_every_chart_and_figure(runs: list[ReportRun]) -> None:
    """One run: six embedded PNG charts, the summary figures and the label, nothing external."""
    html = render_report("tiny street", runs[:1], generated=GENERATED)
    summary = summarize(runs[0].problem, runs[0].result)
    assert html.count(PNG) == CHARTS_PER_RUN
    assert f"<td>{summary.orders_total}</td>" in html
    assert f"<td>{summary.orders_covered}</td>" in html
    assert f"<td>{i18n.format_number(summary.weighted_coverage_pct, 1)}</td>" in html
    assert f"<td>{i18n.format_number(summary.travel_km_total, 1)}</td>" in html
    assert "cpsat 优化" in html and i18n.format_moment(GENERATED, "medium") in html
    assert "方案对比" not in html
    _check_self_contained(html)
    _check_well_formed(html)


def test_two_runs_add_the_comparison(runs: list[ReportRun]) -> None:
    """Two runs: every run's charts plus the comparison chart, both labels and the differences."""
    html = render_report("tiny street", runs, generated=GENERATED)
    first, second = (summarize(r.problem, r.result) for r in runs)
    assert html.count(PNG) == 2 * CHARTS_PER_RUN + 1
    assert "cpsat 优化" in html and "greedy 手工" in html
    assert "<h2>方案对比</h2>" in html
    covered = second.orders_covered - first.orders_covered
    assert f"<td>{second.orders_covered} " in html and (
        f"({covered:+d})".replace("-", "\u2212") in html or covered == 0
    )
    _check_self_contained(html)
    _check_well_formed(html)


def test_run_without_layout_notes_missing_grids(runs: list[ReportRun]) -> None:
    """Without a layout the grid chart is replaced by a note and the rest still renders."""
    run = runs[0]
    with i18n.use_locale("en"):
        html = render_report("explicit", [ReportRun("plain", run.problem, None, run.result)])
    assert html.count(PNG) == CHARTS_PER_RUN - 1
    assert "coverage by grid or resident community is unavailable" in html
    _check_well_formed(html)


def test_text_is_escaped(runs: list[ReportRun]) -> None:
    """Titles and labels are HTML-escaped."""
    run = runs[0]
    html = render_report("<b>街道</b>", [ReportRun("a<script>", run.problem, None, run.result)])
    assert "<script>" not in html and "a&lt;script&gt;" in html
    assert "&lt;b&gt;街道&lt;/b&gt;" in html


def test_figures_add_up(runs: list[ReportRun]) -> None:
    """Category and grid splits count every order once; loads and trips match the assignments."""
    run = runs[0]
    figures = run_figures(run)
    orders, covered = len(run.problem.orders), len(run.result.assignments)
    for splits in (figures.by_category, figures.by_grid or []):
        assert sum(s.covered_orders + s.uncovered_orders for s in splits) == orders
        assert sum(s.covered_orders for s in splits) == covered
    visits = sum(len(a.helpers) for a in run.result.assignments)
    assert len(figures.helper_loads) == len(run.problem.helpers)
    assert sum(figures.helper_loads) == visits == len(figures.trip_km)
    assert sum(figures.reasons.values()) == len(run.result.unmatched)
    assert sum(len(p) for p in figures.map_points.groups.values()) == len(
        run.problem.helpers
    ) + len(run.problem.residents)


SCENARIO = """\
name: 小街道 small street
street:
  generated: {preset: tiny, helpers: 20, residents: 20, orders: 15}
solver: {time_limit_s: 30, workers: 1}
variants:
  - name: wider-radius
    changes:
      - scale_radius: {factor: 1.5}
"""


def test_write_report_solves_base_and_variants(tmp_path: Path) -> None:
    """write_report solves the base and every variant and writes one report.html."""

    scenario = tmp_path / "small.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    target = write_report(scenario, None, tmp_path / "out", time_limit=2.0)
    html = target.read_text(encoding="utf-8")
    assert target == tmp_path / "out" / "report.html"
    assert "小街道 small street" in html and "wider-radius" in html and "base" in html
    assert html.count(PNG) == 2 * CHARTS_PER_RUN + 1
    _check_self_contained(html)


CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"


class _Headings(HTMLParser):
    """The texts of the title, headings, table heads and captions (what the page says in its
    own words; table cells hold figures and data)."""

    TAGS = frozenset({"title", "h1", "h2", "h3", "th", "figcaption"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.TAGS and self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and data.strip():
            self.texts.append(data.strip())


def _headings(html: str, data: list[str]) -> list[str]:
    parser = _Headings()
    parser.feed(html)
    texts = []
    for text in parser.texts:
        for value in data:
            text = text.replace(value, " ")
        texts.append(text)
    return texts


@pytest.fixture
def no_pictures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Charts drawn (their labels looked up) but not rasterised: the text tests read the page.
    A CJK font is assumed, so that a Chinese page's charts speak Chinese too."""
    monkeypatch.setattr(charts, "to_png", lambda figure: b"chart")
    monkeypatch.setattr(charts, "cjk_font", lambda: "DejaVu Sans")


@pytest.mark.parametrize(("locale", "lang"), [("en", "en"), ("zh_CN", "zh-CN")])
def test_the_report_renders_in_one_locale(
    runs: list[ReportRun], locale: str, lang: str, no_pictures: None
) -> None:
    """Rendered in en or zh_CN, the page says so in ``<html lang>`` and its title, headings,
    table heads and captions are in that language only (names given as data aside)."""
    two = [
        ReportRun(name, r.problem, r.layout, r.result) for name, r in zip("AB", runs, strict=True)
    ]
    layout = runs[0].layout
    assert layout is not None
    data = ["tiny", *(c.name for c in layout.communities)]
    with i18n.use_locale(locale):
        html = render_report("tiny", two, generated=GENERATED)
        heading = i18n.gettext("Variant comparison")
    assert f'<html lang="{lang}">' in html and f"<h2>{heading}</h2>" in html
    texts = _headings(html, data)
    assert len(texts) > 20
    if locale == "en":
        assert [t for t in texts if re.search(f"[{CJK}]", t)] == []
    else:
        assert [t for t in texts if re.search(r"[A-Za-z]{2,}", t)] == []


def test_the_pseudo_locale_marks_the_reports_own_words(
    runs: list[ReportRun], no_pictures: None
) -> None:
    """In qps every heading, table head and caption with words is a marked catalog text."""
    with i18n.use_locale(i18n.PSEUDO):
        html = render_report("tiny", runs[:1], generated=GENERATED)
    texts = _headings(html, ["tiny"])
    assert texts and all(i18n.PSEUDO_OPEN in t for t in texts if re.search("[A-Za-z]", t))


def test_charts_are_labelled_in_the_locale_or_in_english_without_a_cjk_font(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Chinese report's charts use a CJK font when matplotlib knows one, else English (never
    empty boxes); other locales draw as they are."""
    import matplotlib

    seen: list[tuple[str, str]] = []

    @charts.localized
    def draw() -> bytes:
        seen.append((i18n.current(), matplotlib.rcParams["font.sans-serif"][0]))
        return b""

    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    with i18n.use_locale("zh_CN"):
        draw()
    monkeypatch.setattr(charts, "cjk_font", lambda: "Noto Sans CJK SC")
    with i18n.use_locale("zh_CN"):
        draw()
    with i18n.use_locale("en"):
        draw()
    assert seen[0][0] == "en"
    assert seen[1] == ("zh_CN", "Noto Sans CJK SC")
    assert seen[2][0] == "en" and seen[2][1] != "Noto Sans CJK SC"


def test_without_a_cjk_font_the_chinese_page_gives_the_english_map_legend(
    runs: list[ReportRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Charts labelled in English for want of a font: the map's caption says what each of
    their legend's entries means, in the page's language."""
    monkeypatch.setattr(charts, "to_png", lambda figure: b"chart")
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    with i18n.use_locale("zh_CN"):
        html = render_report("tiny", runs[:1], generated=GENERATED)
        key = f"resident, no order today = {i18n.gettext('resident, no order today')}"
    assert key in html and "今日无订单的居民" in key
