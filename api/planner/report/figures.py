"""The numbers behind the report's charts, computed from one problem and its result.

Pure data (no plotting), so tests can check the figures apart from the pictures. Groups in
charts are short ASCII codes (a grid's or category's code); the page's tables give their names.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from api.i18n import N_
from matcher.generator import StreetLayout
from matcher.metrics import Summary, summarize, trip_km
from matcher.model import Helper, Order, Problem, Resident
from matcher.params import SolveParams
from matcher.result import Reason, Result
from matcher.weights import order_weight

KM_PER_DEG = 6371.0088 * math.pi / 180


@dataclass(frozen=True)
class ReportRun:
    """One solved run: its label (e.g. the variant name), the problem, where people live (None
    for explicit scenarios without communities) and the result."""

    label: str
    problem: Problem
    layout: StreetLayout | None
    result: Result
    wait_boost: float = SolveParams().wait_boost


@dataclass
class Split:
    """Covered and uncovered weighted demand (and order counts) of one group of orders."""

    code: str  # short ASCII label used in charts
    name_zh: str
    name_en: str
    covered_weight: int = 0
    uncovered_weight: int = 0
    covered_orders: int = 0
    uncovered_orders: int = 0

    @property
    def coverage_pct(self) -> float:
        total = self.covered_weight + self.uncovered_weight
        return 100 * self.covered_weight / total if total else 100.0


@dataclass
class MapPoints:
    """Points in km east/north of the street's mean position, by status."""

    groups: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    links: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)
    labels: list[tuple[str, float, float]] = field(default_factory=list)  # community codes


@dataclass
class RunFigures:
    label: str
    summary: Summary
    by_category: list[Split]
    by_grid: list[Split] | None  # None without a layout
    reasons: dict[Reason, int]
    helper_loads: list[int]  # orders per helper, idle helpers included
    trip_km: list[float]  # round-trip km per visiting helper
    map_points: MapPoints
    helpers_total: int


def run_figures(run: ReportRun) -> RunFigures:
    """Every figure the report shows for ``run``."""
    problem, result = run.problem, run.result
    loads = Counter(h for a in result.assignments for h in a.helpers)
    return RunFigures(
        label=run.label,
        summary=summarize(problem, result),
        by_category=coverage_by_category(run),
        by_grid=coverage_by_grid(run) if run.layout is not None else None,
        reasons={r: n for r in Reason if (n := sum(u.reason is r for u in result.unmatched))},
        helper_loads=[loads.get(h.id, 0) for h in problem.helpers],
        trip_km=trip_km(problem, result),
        map_points=map_points(run),
        helpers_total=len(problem.helpers),
    )


def coverage_by_category(run: ReportRun) -> list[Split]:
    """Weighted demand per catalogue category (of each order's item), in catalogue order."""
    catalogue = run.problem.catalogue
    splits = {
        c.code: Split(c.code if not c.name_en.isascii() else c.name_en, c.name_zh, c.name_en)
        for c in catalogue.categories
    }
    _fill(run, splits, lambda order: run.problem.item_of(order).category)
    return [s for s in splits.values() if s.covered_orders + s.uncovered_orders]


def coverage_by_grid(run: ReportRun) -> list[Split]:
    """Weighted demand per grid of the ordering resident; charts name grids C1G1, C1G2, …"""
    layout = run.layout
    assert layout is not None
    splits: dict[str, Split] = {}
    for n, community in enumerate(layout.communities, start=1):
        for g, grid in enumerate(community.grids, start=1):
            splits[community.name + grid] = Split(f"C{n}G{g}", community.name + grid, f"C{n}G{g}")
    _fill(run, splits, lambda order: layout.grid_of(order.resident))
    return [s for s in splits.values() if s.covered_orders + s.uncovered_orders]


def _fill(run: ReportRun, splits: dict[str, Split], key_of: Callable[[Order], str]) -> None:
    covered = {a.order for a in run.result.assignments}
    for order in run.problem.orders:
        key = key_of(order)
        split = splits.setdefault(key, Split(key if key.isascii() else "?", key, key))
        weight = order_weight(run.problem, order, run.wait_boost)
        if order.id in covered:
            split.covered_weight += weight
            split.covered_orders += 1
        else:
            split.uncovered_weight += weight
            split.uncovered_orders += 1


def map_points(run: ReportRun) -> MapPoints:
    """Residents (covered / uncovered / no order) and helpers (used / idle) in local km, on an
    equal-area-enough projection (east = Δlon·cos(lat), north = Δlat)."""
    problem, result = run.problem, run.result
    people: list[Helper | Resident] = [*problem.helpers, *problem.residents]
    if not people:
        return MapPoints()
    lat0 = sum(p.location.lat for p in people) / len(people)
    lon0 = sum(p.location.lon for p in people) / len(people)
    scale = math.cos(math.radians(lat0))

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return ((lon - lon0) * scale * KM_PER_DEG, (lat - lat0) * KM_PER_DEG)

    covered = {a.order for a in result.assignments}
    ordered: dict[str, list[bool]] = {}
    for order in problem.orders:
        ordered.setdefault(order.resident, []).append(order.id in covered)
    used = {h for a in result.assignments for h in a.helpers}
    points = MapPoints(groups={k: [] for k in MAP_GROUPS})
    for resident in problem.residents:
        flags = ordered.get(resident.id)
        group = "no_order" if flags is None else "covered" if all(flags) else "uncovered"
        points.groups[group].append(xy(resident.location.lat, resident.location.lon))
    for helper in problem.helpers:
        group = "helper_used" if helper.id in used else "helper_idle"
        points.groups[group].append(xy(helper.location.lat, helper.location.lon))
    for assignment in result.assignments:
        home = problem.resident(problem.order(assignment.order).resident).location
        for helper_id in assignment.helpers:
            where = problem.helper(helper_id).location
            points.links.append((xy(where.lat, where.lon), xy(home.lat, home.lon)))
    if run.layout is not None:
        for n, community in enumerate(run.layout.communities, start=1):
            points.labels.append((f"C{n}", *xy(community.centre.lat, community.centre.lon)))
    return points


# Map groups and their legend (message ids, translated where the chart is drawn).
MAP_GROUPS: dict[str, str] = {
    "no_order": N_("resident, no order today"),
    "covered": N_("resident, every order covered"),
    "uncovered": N_("resident, an order not covered"),
    "helper_idle": N_("helper, no order"),
    "helper_used": N_("helper, assigned"),
}
