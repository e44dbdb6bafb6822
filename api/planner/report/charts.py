"""The report's charts as PNG bytes, drawn with matplotlib's Agg canvas (no display, no pyplot
state). Their titles, axes and legends come from the catalogs in the current locale; Chinese
needs a CJK font known to matplotlib (Noto Sans CJK, Source Han Sans, WenQuanYi …): without
one the charts are labelled in English rather than with empty boxes (the page around them
stays in its locale). Groups inside charts are codes (a grid's, a category's, R1, C1)."""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache, wraps
from typing import Any, ParamSpec

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from api import i18n
from api.i18n import format_km, format_number
from api.i18n import gettext as _
from api.planner.report.figures import MAP_GROUPS, MapPoints, RunFigures, Split
from api.services.matching.explain_text import reason_label
from matcher.result import Reason

COVERED, UNCOVERED = "#2e7d32", "#c62828"
MAP_STYLE: dict[str, dict[str, Any]] = {
    "no_order": {"c": "#bdbdbd", "marker": "o", "s": 6},
    "covered": {"c": COVERED, "marker": "o", "s": 12},
    "uncovered": {"c": UNCOVERED, "marker": "o", "s": 16},
    "helper_idle": {"c": "#90caf9", "marker": "^", "s": 10},
    "helper_used": {"c": "#1565c0", "marker": "^", "s": 16},
}
DPI = 100
CJK_FONTS = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei", "Noto Serif CJK SC",
)  # fmt: skip
log = logging.getLogger("qunbang.report")
P = ParamSpec("P")


@cache
def cjk_font() -> str | None:
    """The name of a font matplotlib knows that draws Chinese, if any."""
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in known), None)
    if found is None:
        log.info("no CJK font known to matplotlib: the report's charts are labelled in English")
    return found


def chart_locale() -> str:
    """The locale the charts are labelled in: the current one, or English for Chinese without
    a CJK font."""
    if i18n.short() == "zh" and cjk_font() is None:
        return "en"
    return i18n.current()


@contextmanager
def _chart_language() -> Iterator[None]:
    """Draw in the current locale, with a CJK font for Chinese; in English without one.
    (The font is set through matplotlib's global settings for the drawing's duration.)"""
    if i18n.short() != "zh":
        yield
        return
    font = cjk_font()
    if font is None:
        with i18n.use_locale("en"):
            yield
        return
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": [font]}):
        yield


def localized(draw: Callable[P, bytes]) -> Callable[P, bytes]:
    """``draw`` labels its chart in the current locale (see ``_chart_language``)."""

    @wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> bytes:
        with _chart_language():
            return draw(*args, **kwargs)

    return drawn


def to_png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)  # the Agg canvas: no display and no global pyplot state
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


@localized
def coverage_chart(splits: list[Split], title: str) -> bytes:
    """Horizontal stacked bars: covered and uncovered weighted demand per group; ``title`` is a
    message id."""
    height = max(2.5, 0.35 * len(splits) + 1.2)
    figure = Figure(figsize=(8, height))
    axes = figure.add_subplot()
    names = [s.code for s in splits]
    covered = [s.covered_weight / 100 for s in splits]
    uncovered = [s.uncovered_weight / 100 for s in splits]
    axes.barh(names, covered, color=COVERED, label=_("covered"))
    axes.barh(names, uncovered, left=covered, color=UNCOVERED, label=_("not covered"))
    for y, split in enumerate(splits):
        total = (split.covered_weight + split.uncovered_weight) / 100
        axes.text(total, y, f" {format_number(split.coverage_pct)}%", va="center", fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(_("priority-weighted demand (a plain order = 1)"))
    axes.set_title(_(title), loc="left")
    axes.margins(x=0.12)
    axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8)
    return to_png(figure)


@localized
def reasons_chart(reasons: dict[Reason, int]) -> bytes:
    """Bars of unmatched orders per reason (every reason shown, zero included)."""
    figure = Figure(figsize=(8, 3))
    axes = figure.add_subplot()
    labels = [reason_label(r) for r in Reason]
    counts = [reasons.get(r, 0) for r in Reason]
    bars = axes.barh(labels, counts, color="#ef6c00")
    axes.bar_label(bars, padding=2, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(_("unmatched orders"))
    axes.set_title(_("Uncovered orders by reason"))
    axes.margins(x=0.1)
    return to_png(figure)


@localized
def load_chart(loads: list[int]) -> bytes:
    """Histogram of orders per helper, idle helpers (0) included, one bar per integer."""
    figure = Figure(figsize=(8, 3))
    axes = figure.add_subplot()
    top = max(loads, default=0)
    counts = [sum(load == k for load in loads) for k in range(top + 1)]
    bars = axes.bar(range(top + 1), counts, color=["#90caf9", *["#1565c0"] * top])
    axes.bar_label(bars, padding=2, fontsize=8)
    axes.set_xticks(range(top + 1))
    axes.set_xlabel(_("orders assigned to the helper today"))
    axes.set_ylabel(_("helpers"))
    axes.set_title(_("Helper load distribution"))
    axes.margins(y=0.15)
    return to_png(figure)


@localized
def travel_chart(trips: list[float]) -> bytes:
    """Histogram of round-trip km per visit."""
    figure = Figure(figsize=(8, 3))
    axes = figure.add_subplot()
    if trips:
        bins = min(30, max(5, int(math.sqrt(len(trips)))))
        axes.hist(trips, bins=bins, color="#6a1b9a", edgecolor="white")
        mean = sum(trips) / len(trips)
        label = _("mean %(km)s", km=format_km(mean))
        axes.axvline(mean, color="black", linestyle="--", linewidth=1, label=label)
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, _("no visits"), ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel(_("round-trip km per visit"))
    axes.set_ylabel(_("visits"))
    axes.set_title(_("Travel distance distribution"))
    return to_png(figure)


@localized
def map_chart(points: MapPoints) -> bytes:
    """Residents and helpers at their homes (km east / north), assignment links in light grey."""
    figure = Figure(figsize=(8, 8))
    axes = figure.add_subplot()
    if points.links:
        axes.add_collection(
            LineCollection(points.links, colors="#9e9e9e", linewidths=0.4, alpha=0.5, zorder=1)
        )
    for group, label in MAP_GROUPS.items():
        xy = points.groups.get(group, [])
        if xy:
            xs, ys = zip(*xy, strict=True)
            style = MAP_STYLE[group]
            shown = f"{_(label)} ({format_number(len(xy))})"
            axes.scatter(xs, ys, label=shown, zorder=2, linewidths=0, **style)
    for code, x, y in points.labels:
        axes.annotate(code, (x, y), fontsize=9, weight="bold", ha="center", zorder=3)
    axes.set_aspect("equal", adjustable="datalim")
    axes.set_xlabel(_("km east"))
    axes.set_ylabel(_("km north"))
    axes.set_title(_("Residents and helpers"))
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=8)
    return to_png(figure)


@localized
def comparison_chart(runs: list[RunFigures], codes: list[str]) -> bytes:
    """Grouped bars per run: coverage and continuity (%), and unmatched orders by reason."""
    figure = Figure(figsize=(10, 4))
    left, right = figure.subplots(1, 2)
    metrics = {
        _("weighted coverage"): [r.summary.weighted_coverage_pct for r in runs],
        _("orders covered"): [_pct(r.summary.orders_covered, r.summary.orders_total) for r in runs],
        _("continuity"): [100 * r.summary.continuity_rate for r in runs],
        _("helpers used"): [_pct(r.summary.helpers_used, r.helpers_total) for r in runs],
    }
    _grouped(left, list(metrics), list(zip(*metrics.values(), strict=True)), codes)
    left.set_ylabel("%")
    left.set_title(_("Coverage, continuity, helpers used"))
    counts = [[r.reasons.get(reason, 0) for reason in Reason] for r in runs]
    _grouped(right, [reason_label(r) for r in Reason], counts, codes)
    right.set_ylabel(_("unmatched orders"))
    right.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_title(_("Uncovered orders by reason"))
    figure.tight_layout()
    return to_png(figure)


def _grouped(
    axes: Axes, groups: list[str], values: Sequence[Sequence[float]], codes: list[str]
) -> None:
    width = 0.8 / max(1, len(values))
    for index, (code, row) in enumerate(zip(codes, values, strict=True)):
        xs = [g + (index - (len(values) - 1) / 2) * width for g in range(len(groups))]
        axes.bar(xs, row, width=width, label=code)
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels(groups, rotation=20, ha="right", fontsize=8)
    axes.legend(fontsize=8)


def _pct(part: int, whole: int) -> float:
    return 100 * part / whole if whole else 100.0
