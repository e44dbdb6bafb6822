"""``render_report``: one self-contained HTML page (inline CSS, charts as base64 PNG, no links
out) in the current locale: every heading, caption and label from the catalogs, numbers and
dates formatted by Babel, ``<html lang>`` the locale's. Scenario, variant, community and grid
names are data and show as they are."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from html import escape

from api import i18n
from api.i18n import N_, format_moment, format_number
from api.i18n import gettext as _
from api.planner import labels
from api.planner.report import charts
from api.planner.report.figures import (
    MAP_GROUPS,
    ReportRun,
    RunFigures,
    Split,
    run_figures,
)
from api.services.matching.explain_text import reason_label
from matcher.metrics import Summary
from matcher.result import PlanCertificate, Reason

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei",
       "Noto Sans CJK SC", sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em;
       color: #212121; line-height: 1.5; }
h1 { border-bottom: 3px solid #c62828; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bdbdbd; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #9e9e9e; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #eeeeee; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0; }
figure { margin: 1em 0; }
figcaption, .note { color: #616161; font-size: .92em; }
.better { color: #2e7d32; } .worse { color: #c62828; }
"""

# (label: a message id, how to read it off a summary, decimals shown, higher is better?)
Metric = tuple[str, Callable[[Summary], float], int, bool | None]
METRICS: list[Metric] = [
    (N_("Orders"), lambda s: s.orders_total, 0, None),
    (N_("Covered"), lambda s: s.orders_covered, 0, True),
    (N_("Weighted coverage %"), lambda s: s.weighted_coverage_pct, 1, True),
    (N_("Travel km (total)"), lambda s: s.travel_km_total, 1, False),
    (N_("Travel km (mean per visit)"), lambda s: s.travel_km_mean, 2, False),
    (N_("Travel km (longest visit)"), lambda s: s.travel_km_max, 2, False),
    (N_("Helpers used"), lambda s: s.helpers_used, 0, None),
    (N_("Load spread (sd)"), lambda s: s.load_spread, 2, False),
    (N_("Continuity rate %"), lambda s: 100 * s.continuity_rate, 1, True),
    (N_("Optimality gap %"), lambda s: 100 * s.gap, 2, False),
    (N_("Runtime (s)"), lambda s: s.runtime_s, 1, None),
]


def render_report(
    title: str, runs: Sequence[ReportRun], generated: dt.datetime | None = None
) -> str:
    """The whole report page for ``runs`` (the first is the baseline of the comparison), in
    the current locale."""
    if not runs:
        raise ValueError("a report needs at least one run")  # a programming error
    generated = generated or dt.datetime.now().replace(microsecond=0)
    figures = [run_figures(run) for run in runs]
    parts = [_header(title, runs, generated)]
    if len(runs) >= 2:
        parts.append(_comparison(figures))
    for index, (run, figs) in enumerate(zip(runs, figures, strict=True), start=1):
        parts.append(_run_section(index, run, figs))
    body = "\n".join(parts)
    page_title = _("%(title)s — Qunbang", title=title)
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang()}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(page_title)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def html_lang(locale: str | None = None) -> str:
    """The page's ``lang`` attribute for ``locale`` (BCP 47: ``zh-CN``, ``en``)."""
    return (locale or i18n.current()).replace("_", "-")


def _header(title: str, runs: Sequence[ReportRun], generated: dt.datetime) -> str:
    days = [i18n.format_day(day) for day in sorted({run.problem.date for run in runs})]
    items = "".join(f"<li>{escape(run.label)} ({escape(run.result.solver)})</li>" for run in runs)
    heading = _("Scenario report: %(title)s", title=title)
    scenario = _("Scenario:")
    dates = _("Service date: %(dates)s", dates=_(", ").join(days))
    moment = _("Generated: %(moment)s", moment=format_moment(generated, "medium"))
    runs_label = _("Runs:")
    return (
        f"<h1>{escape(heading)}</h1>\n"
        f"<p>{escape(scenario)} <strong>{escape(title)}</strong><br>"
        f"{escape(dates)}<br>{escape(moment)}</p>\n"
        f"<p>{escape(runs_label)}</p><ol>{items}</ol>"
    )


def _comparison(figures: list[RunFigures]) -> str:
    codes = [f"R{n}" for n in range(1, len(figures) + 1)]
    head = "".join(
        f"<th>{code}<br>{escape(f.label)}</th>" for code, f in zip(codes, figures, strict=True)
    )
    rows = []
    for label, value_of, places, higher_better in METRICS:
        base = value_of(figures[0].summary)
        cells = [f"<td>{_number(base, places)}</td>"]
        for figs in figures[1:]:
            value = value_of(figs.summary)
            cells.append(
                f"<td>{_number(value, places)} "
                f"{_difference(value - base, places, higher_better)}</td>"
            )
        rows.append(f"<tr><td>{escape(_(label))}</td>{''.join(cells)}</tr>")
    for reason in Reason:
        label = _("unmatched: %(reason)s", reason=reason_label(reason))
        base = figures[0].reasons.get(reason, 0)
        cells = [f"<td>{base}</td>"]
        for figs in figures[1:]:
            value = figs.reasons.get(reason, 0)
            cells.append(f"<td>{value} {_difference(value - base, 0, False)}</td>")
        rows.append(f"<tr><td>{escape(label)}</td>{''.join(cells)}</tr>")
    chart = charts.comparison_chart(figures, codes)
    heading, figure = _("Variant comparison"), _("Figure")
    note = _("In brackets: the difference against the first run (R1).")
    caption = _("; ").join(f"{c} = {f.label}" for c, f in zip(codes, figures, strict=True))
    return (
        f"<h2>{escape(heading)}</h2>\n<p class='note'>{escape(note)}</p>\n"
        f"<table><thead><tr><th>{escape(figure)}</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>\n"
        + _figure(chart, _("Comparison of runs (percentages and unmatched reasons)"), caption)
    )


def _number(value: float, places: int) -> str:
    return escape(format_number(value, places))


def _difference(delta: float, places: int, higher_better: bool | None) -> str:
    if round(delta, places) == 0:
        return "(±0)"
    text = _number(abs(delta), places)
    sign = "+" if delta > 0 else "\u2212"  # a real minus sign
    if higher_better is None:
        return f"({sign}{text})"
    css = "better" if (delta > 0) == higher_better else "worse"
    return f'<span class="{css}">({sign}{text})</span>'


def _run_section(index: int, run: ReportRun, figs: RunFigures) -> str:
    heading = escape(_("Run R%(number)s: %(label)s", number=index, label=run.label))
    parts = [f"<h2>{heading}</h2>", _summary_table(figs.summary)]
    if run.result.certificate is not None:
        parts.append(
            f"<p class='note certificate'>{escape(best_possible(run.result.certificate))}</p>"
        )
    if run.result.message:
        note = _("Solver message: %(message)s", message=run.result.message)
        parts.append(f"<p class='note'>{escape(note)}</p>")
    parts.append(_category_section(figs.by_category))
    parts.append(_grid_section(figs.by_grid))
    parts.append(_reasons_section(figs.reasons))
    parts.append(
        _figure(
            charts.load_chart(figs.helper_loads),
            _("Helper load distribution"),
            _(
                "Orders per helper today, idle helpers included (%(helpers)s helpers).",
                helpers=format_number(figs.helpers_total),
            ),
        )
    )
    parts.append(
        _figure(
            charts.travel_chart(figs.trip_km),
            _("Travel distance distribution"),
            _("Round-trip km per visit (one per helper per covered order)."),
        )
    )
    if run.layout is not None:
        communities = _(", ").join(
            f"C{n} {c.name}" for n, c in enumerate(run.layout.communities, start=1)
        )
        legend = _("Communities: %(communities)s.", communities=communities)
    else:
        legend = ""
    if charts.chart_locale() != i18n.current():  # the chart speaks English: its legend here
        legend += " " + _("; ").join(
            f"{i18n.in_locale(charts.chart_locale(), group)} = {_(group)}"
            for group in MAP_GROUPS.values()
        )
    parts.append(
        _figure(
            charts.map_chart(figs.map_points),
            _("Map of residents and helpers"),
            _("Kilometres from the street's centre; grey lines are assignments.")
            + (" " + legend if legend else ""),
        )
    )
    return "\n".join(parts)


def best_possible(certificate: PlanCertificate) -> str:
    """How far the plan can be from the best possible plan with every eligible helper."""
    return _(
        "Within %(within)s%% of the best possible (coverage %(coverage)s%%, travel and other "
        "costs %(cost)s%%)",
        within=format_number(100 * certificate.within, 2),
        coverage=format_number(100 * certificate.coverage_gap, 2),
        cost=format_number(100 * certificate.cost_gap, 2),
    )


def _summary_table(summary: Summary) -> str:
    rows = [
        f"<tr><td>{escape(_(label))}</td><td>{_number(value_of(summary), places)}</td></tr>"
        for label, value_of, places, _better in METRICS
    ]
    status = labels.solver_status(summary.status)
    solver, status_label = _("Solver"), _("Solver status")
    rows.insert(0, f"<tr><td>{escape(solver)}</td><td>{escape(summary.solver)}</td></tr>")
    rows.insert(1, f"<tr><td>{escape(status_label)}</td><td>{escape(status)}</td></tr>")
    head = "".join(f"<th>{escape(text)}</th>" for text in (_("Figure"), _("Value")))
    summary_heading = _("Summary")
    return (
        f"<h3>{escape(summary_heading)}</h3>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _category_section(splits: list[Split]) -> str:
    title = N_("Coverage by service category")
    chart = charts.coverage_chart(splits, title)
    return _figure(chart, _(title), _split_caption()) + _split_table(splits, _("Service category"))


def _grid_section(splits: list[Split] | None) -> str:
    title = N_("Coverage by grid")
    heading = _(title)
    if splits is None:
        note = _(
            "This scenario has no communities or grids, so coverage by grid or resident "
            "community is unavailable."
        )
        return f"<h3>{escape(heading)}</h3>\n<p class='note'>{escape(note)}</p>"
    chart = charts.coverage_chart(splits, title)
    return _figure(chart, heading, _split_caption()) + _split_table(splits, _("Grid"))


def _split_caption() -> str:
    return _("Green: covered, red: uncovered priority-weighted demand.")


def _split_table(splits: list[Split], heading: str) -> str:
    rows = "".join(
        f"<tr><td>{escape(s.code)}</td><td>{escape(i18n.pick(s.name_zh, s.name_en))}</td>"
        f"<td>{_number(s.covered_orders, 0)}</td><td>{_number(s.uncovered_orders, 0)}</td>"
        f"<td>{_number(s.coverage_pct, 1)}</td></tr>"
        for s in splits
    )
    head = "".join(
        f"<th>{escape(text)}</th>"
        for text in (
            _("Code in the chart"),
            heading,
            _("Covered"),
            _("Uncovered"),
            _("Weighted coverage %"),
        )
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _reasons_section(reasons: dict[Reason, int]) -> str:
    rows = "".join(
        f"<tr><td>{escape(reason_label(r))}</td><td>{reasons.get(r, 0)}</td></tr>" for r in Reason
    )
    head = "".join(f"<th>{escape(text)}</th>" for text in (_("Reason"), _("Orders")))
    return _figure(
        charts.reasons_chart(reasons),
        _("Uncovered orders by reason"),
        _("Each unmatched order counts once, by its most basic cause."),
    ) + (f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")


def _figure(png: bytes, heading: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<h3>{escape(heading)}</h3>\n<figure><img alt="{escape(heading)}" '
        f'src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )
