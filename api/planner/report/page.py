"""``render_report``: one self-contained HTML page (inline CSS, charts as base64 PNG, no links
out), Chinese first and English second in headings and tables."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from html import escape

from api.i18n import gettext as _
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
from matcher.result import Reason

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

# (label zh / en, how to read it off a summary, format, higher is better?)
Metric = tuple[str, Callable[[Summary], float], str, bool | None]
METRICS: list[Metric] = [
    ("订单数 / orders", lambda s: s.orders_total, "{:.0f}", None),
    ("已匹配 / covered", lambda s: s.orders_covered, "{:.0f}", True),
    ("加权覆盖率 / weighted coverage %", lambda s: s.weighted_coverage_pct, "{:.1f}", True),
    ("总路程 km / travel km total", lambda s: s.travel_km_total, "{:.1f}", False),
    ("平均路程 km / travel km mean", lambda s: s.travel_km_mean, "{:.2f}", False),
    ("最远路程 km / travel km max", lambda s: s.travel_km_max, "{:.2f}", False),
    ("出勤志愿者 / helpers used", lambda s: s.helpers_used, "{:.0f}", None),
    ("负荷离散度 / load spread (std)", lambda s: s.load_spread, "{:.2f}", False),
    ("熟人延续率 / continuity rate %", lambda s: 100 * s.continuity_rate, "{:.1f}", True),
    ("最优性差距 / gap %", lambda s: 100 * s.gap, "{:.2f}", False),
    ("用时 s / runtime s", lambda s: s.runtime_s, "{:.1f}", None),
]


def render_report(
    title: str, runs: Sequence[ReportRun], generated: dt.datetime | None = None
) -> str:
    """The whole report page for ``runs`` (the first is the baseline of the comparison)."""
    if not runs:
        raise ValueError("a report needs at least one run")
    generated = generated or dt.datetime.now().replace(microsecond=0)
    figures = [run_figures(run) for run in runs]
    parts = [_header(title, runs, generated)]
    if len(runs) >= 2:
        parts.append(_comparison(figures))
    for index, (run, figs) in enumerate(zip(runs, figures, strict=True), start=1):
        parts.append(_run_section(index, run, figs))
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} — 群帮 Qunbang</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _header(title: str, runs: Sequence[ReportRun], generated: dt.datetime) -> str:
    dates = sorted({run.problem.date.isoformat() for run in runs})
    items = "".join(f"<li>{escape(run.label)} ({escape(run.result.solver)})</li>" for run in runs)
    return (
        f"<h1>情景报告 / Scenario report: {escape(title)}</h1>\n"
        f"<p>情景 / Scenario: <strong>{escape(title)}</strong><br>"
        f"服务日期 / Service date: {escape(', '.join(dates))}<br>"
        f"生成时间 / Generated: {escape(generated.isoformat(sep=' '))}</p>\n"
        f"<p>方案 / Runs:</p><ol>{items}</ol>"
    )


def _comparison(figures: list[RunFigures]) -> str:
    codes = [f"R{n}" for n in range(1, len(figures) + 1)]
    head = "".join(
        f"<th>{code}<br>{escape(f.label)}</th>" for code, f in zip(codes, figures, strict=True)
    )
    rows = []
    for label, value_of, fmt, higher_better in METRICS:
        base = value_of(figures[0].summary)
        cells = [f"<td>{fmt.format(base)}</td>"]
        for figs in figures[1:]:
            value = value_of(figs.summary)
            cells.append(
                f"<td>{fmt.format(value)} {_difference(value - base, fmt, higher_better)}</td>"
            )
        rows.append(f"<tr><td>{escape(label)}</td>{''.join(cells)}</tr>")
    for reason in Reason:
        label = _("unmatched: %(reason)s", reason=reason_label(reason))
        base = figures[0].reasons.get(reason, 0)
        cells = [f"<td>{base}</td>"]
        for figs in figures[1:]:
            value = figs.reasons.get(reason, 0)
            cells.append(f"<td>{value} {_difference(value - base, '{:.0f}', False)}</td>")
        rows.append(f"<tr><td>{escape(label)}</td>{''.join(cells)}</tr>")
    chart = charts.comparison_chart(figures, codes)
    caption = "；".join(f"{c} = {f.label}" for c, f in zip(codes, figures, strict=True))
    return (
        "<h2>方案对比 / Variant comparison</h2>\n"
        "<p class='note'>括号内为与第一个方案（R1）的差值 / "
        "in brackets: difference against the first run (R1).</p>\n"
        f"<table><thead><tr><th>指标 / figure</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>\n"
        + _figure(chart, "方案对比（百分比与未匹配原因）/ Comparison of runs", caption)
    )


def _difference(delta: float, fmt: str, higher_better: bool | None) -> str:
    text = fmt.format(delta)
    if text.lstrip("-").strip("0.") == "":
        return "(±0)"
    sign = "+" if delta > 0 else ""
    if higher_better is None:
        return f"({sign}{text})"
    css = "better" if (delta > 0) == higher_better else "worse"
    return f'<span class="{css}">({sign}{text})</span>'


def _run_section(index: int, run: ReportRun, figs: RunFigures) -> str:
    label = escape(run.label)
    parts = [
        f"<h2>方案 R{index}：{label} / Run R{index}: {label}</h2>",
        _summary_table(figs.summary),
    ]
    if run.result.message:
        parts.append(f"<p class='note'>求解信息 / Solver message: {escape(run.result.message)}</p>")
    parts.append(_category_section(figs.by_category))
    parts.append(_grid_section(figs.by_grid))
    parts.append(_reasons_section(figs.reasons))
    parts.append(
        _figure(
            charts.load_chart(figs.helper_loads),
            "志愿者负荷分布 / Helper load distribution",
            f"每位志愿者当日接单数，含未派单者（共 {figs.helpers_total} 人）/ orders per helper "
            f"today, idle helpers included ({figs.helpers_total} helpers).",
        )
    )
    parts.append(
        _figure(
            charts.travel_chart(figs.trip_km),
            "路程分布 / Travel distance distribution",
            "每次上门的往返公里数 / round-trip km per visit (one per helper per covered order).",
        )
    )
    legend = "；".join(f"{en} = {zh}" for en, zh in MAP_GROUPS.values())
    if run.layout is not None:
        legend += "；C1… = " + "，".join(
            f"C{n} {c.name}" for n, c in enumerate(run.layout.communities, start=1)
        )
    parts.append(
        _figure(
            charts.map_chart(figs.map_points),
            "居民与志愿者分布图 / Map of residents and helpers",
            "坐标为距街道中心的公里数，灰线为派单 / km from the street's centre; grey lines are "
            f"assignments. {legend}",
        )
    )
    return "\n".join(parts)


def _summary_table(summary: Summary) -> str:
    rows = [
        f"<tr><td>{escape(label)}</td><td>{fmt.format(value_of(summary))}</td></tr>"
        for label, value_of, fmt, _ in METRICS
    ]
    rows.insert(0, f"<tr><td>求解器 / solver</td><td>{escape(summary.solver)}</td></tr>")
    rows.insert(1, f"<tr><td>状态 / status</td><td>{escape(summary.status)}</td></tr>")
    return (
        "<h3>概要 / Summary</h3>\n"
        f"<table><thead><tr><th>指标 / figure</th><th>值 / value</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _category_section(splits: list[Split]) -> str:
    chart = charts.coverage_chart(splits, "Coverage by service category")
    return _figure(
        chart, "按服务类别的覆盖 / Coverage by service category", _split_caption(splits)
    ) + _split_table(splits, "服务类别 / category")


def _grid_section(splits: list[Split] | None) -> str:
    if splits is None:
        return (
            "<h3>按网格的覆盖 / Coverage by grid</h3>\n<p class='note'>本情景没有社区与网格信息，"
            "无法按网格或社区统计。/ This scenario has no communities or grids, so coverage by "
            "grid or resident community is unavailable.</p>"
        )
    chart = charts.coverage_chart(splits, "Coverage by grid")
    return _figure(chart, "按网格的覆盖 / Coverage by grid", _split_caption(splits)) + _split_table(
        splits, "网格 / grid"
    )


def _split_caption(splits: list[Split]) -> str:
    return "绿色为已匹配、红色为未匹配的加权需求 / green: covered, red: uncovered weighted demand."


def _split_table(splits: list[Split], heading: str) -> str:
    rows = "".join(
        f"<tr><td>{escape(s.code)}</td><td>{escape(_both(s.name_zh, s.name_en, s.code))}</td>"
        f"<td>{s.covered_orders}</td><td>{s.uncovered_orders}</td>"
        f"<td>{s.coverage_pct:.1f}</td></tr>"
        for s in splits
    )
    return (
        f"<table><thead><tr><th>图中代号 / code</th><th>{escape(heading)}</th>"
        "<th>已匹配 / covered</th><th>未匹配 / uncovered</th><th>加权覆盖率 % / weighted %</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _both(name_zh: str, name_en: str, code: str) -> str:
    return name_zh if name_en in (code, name_zh) else f"{name_zh} / {name_en}"


def _reasons_section(reasons: dict[Reason, int]) -> str:
    rows = "".join(
        f"<tr><td>{escape(reason_label(r))}</td><td>{reasons.get(r, 0)}</td></tr>" for r in Reason
    )
    return _figure(
        charts.reasons_chart(reasons),
        "未匹配原因 / Uncovered orders by reason",
        "每个未匹配订单只计最基本的原因 / "
        "each unmatched order counts once, by its most basic cause.",
    ) + (
        "<table><thead><tr><th>原因 / reason</th><th>订单 / orders</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _figure(png: bytes, heading: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<h3>{escape(heading)}</h3>\n<figure><img alt="{escape(heading)}" '
        f'src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )
