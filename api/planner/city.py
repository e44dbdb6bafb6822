"""City scenario files: many generated streets solved at once, through the same fan-out as the
city's nightly run (``api.services.matching.fanout``: Ray when installed, else processes).

A city file has a ``city`` section instead of a ``street``::

    name: 示范市
    solver: {time_limit_s: 6}
    city:
      split_orders: 1500        # a street with more orders is solved in parts (matcher.split)
      streets:
        - name: 青山街道
          generated: {preset: scarce, seed: 1, orders: 1200, helpers: 6900}

Each street is built as the one-street scenario with that ``generated`` section would be
(``api.planner.scenario.build``); its communities are the regions a split keeps together. The
result has each street's summary and the city's.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from api.i18n import gettext as _
from api.planner.run import Overrides, apply_overrides
from api.planner.scenario import ScenarioError, build
from api.planner.scenario.load import _describe
from api.planner.scenario.schema import (
    DEFAULT_DATE,
    FileModel,
    GeneratedStreet,
    Scenario,
    ScenarioStreet,
    SolverSettings,
)
from api.services.files import load_yaml
from api.services.matching.fanout import Pool, StreetSolver, TaskTiming
from matcher.metrics import Summary, summarize
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Result
from matcher.split import DEFAULT_MAX_ORDERS

MAX_STREETS = 500


class CityStreet(FileModel):
    name: str = Field(min_length=1, max_length=64)
    generated: GeneratedStreet


class CitySection(FileModel):
    split_orders: int = Field(default=DEFAULT_MAX_ORDERS, ge=50)
    streets: list[CityStreet] = Field(min_length=1, max_length=MAX_STREETS)


class CityFile(FileModel):
    """The top level of a city scenario file."""

    name: str = Field(min_length=1)
    description: str = ""
    date: dt.date = DEFAULT_DATE
    solver: SolverSettings = SolverSettings()
    city: CitySection


def is_city_file(path: Path) -> bool:
    """Whether the YAML file at ``path`` is a city file (a ``city`` section at the top)."""
    data = load_yaml(Path(path), ScenarioError)
    return isinstance(data, dict) and "city" in data


def load_city(path: Path) -> CityFile:
    """The city file at ``path``; raises ``ScenarioError`` naming the file and field."""
    path = Path(path)
    data = load_yaml(path, ScenarioError)
    try:
        city = CityFile.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(_describe(path, error)) from error
    names = [s.name for s in city.city.streets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScenarioError(
            _("%(path)s: city.streets: the name %(name)s is used twice", path=path, name=twice[0])
        )
    return city


def street_scenario(city: CityFile, street: CityStreet, path: Path) -> Scenario:
    """One street of the city as a one-street scenario."""
    return Scenario(
        name=street.name,
        date=city.date,
        street=ScenarioStreet(generated=street.generated),
        solver=city.solver,
        source=path,
    )


@dataclass(frozen=True)
class StreetResult:
    """One street of a city run: its problem and result, summary and the split, if any."""

    name: str
    problem: Problem
    result: Result
    summary: Summary
    split: dict[str, Any] | None
    build_s: float
    wall_s: float


@dataclass
class CityResult:
    """A city run: each street's result, the pool it ran on and every task's timing."""

    scenario: str
    name: str
    pool: str
    workers: int
    streets: list[StreetResult] = field(default_factory=list)
    timings: list[TaskTiming] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def orders(self) -> int:
        return sum(s.summary.orders_total for s in self.streets)

    @property
    def covered(self) -> int:
        return sum(s.summary.orders_covered for s in self.streets)

    @property
    def coverage_ratio(self) -> float:
        demand = sum(s.result.weighted_demand for s in self.streets)
        return sum(s.result.weighted_coverage for s in self.streets) / demand if demand else 1.0

    @property
    def travel_km(self) -> float:
        return sum(s.summary.travel_km_total for s in self.streets)


def run_city(
    path: Path, city: CityFile, pool: Pool, overrides: Overrides | None = None
) -> CityResult:
    """Build and solve every street of ``city`` on ``pool``: a street's build runs in a thread of
    this process while the workers solve the streets built before it."""
    began = time.perf_counter()
    overrides = overrides or Overrides()
    out = CityResult(scenario=str(path), name=city.name, pool=pool.kind, workers=pool.workers)
    threads = max(1, min(len(city.city.streets), 2 * pool.workers, 32))
    with ThreadPoolExecutor(threads, thread_name_prefix="city") as driver:
        jobs = [
            driver.submit(_one_street, path, city, street, pool, overrides)
            for street in city.city.streets
        ]
        out.streets = [job.result() for job in jobs]
    out.timings = list(pool.timings)
    out.wall_s = time.perf_counter() - began
    return out


def _one_street(
    path: Path, city: CityFile, street: CityStreet, pool: Pool, overrides: Overrides
) -> StreetResult:
    began = time.perf_counter()
    built = build(street_scenario(city, street, path))
    params: SolveParams = apply_overrides(built.params, overrides)
    regions = (
        {r.id: built.layout.community_of(r.id) for r in built.problem.residents}
        if built.layout is not None
        else {}
    )
    build_s = time.perf_counter() - began
    solver = StreetSolver(pool, street.name, city.city.split_orders, overrides.workers or 1)
    solved = solver(built.problem, params, regions)
    return StreetResult(
        name=street.name,
        problem=built.problem,
        result=solved.result,
        summary=summarize(built.problem, solved.result),
        split=solved.split,
        build_s=build_s,
        wall_s=time.perf_counter() - began,
    )


def city_json(city: CityResult) -> dict[str, Any]:
    """The machine-readable city result (``scenario run --json`` on a city file)."""
    return {
        "scenario": city.scenario,
        "name": city.name,
        "pool": city.pool,
        "workers": city.workers,
        "wall_s": round(city.wall_s, 3),
        "city": {
            "streets": len(city.streets),
            "orders_total": city.orders,
            "orders_covered": city.covered,
            "weighted_coverage": city.coverage_ratio,
            "travel_km": round(city.travel_km, 3),
            "helpers": sum(len(s.problem.helpers) for s in city.streets),
        },
        "streets": [
            {
                "name": s.name,
                "helpers": len(s.problem.helpers),
                **s.summary.model_dump(mode="json"),
                "split": s.split,
                "build_s": round(s.build_s, 3),
                "wall_s": round(s.wall_s, 3),
            }
            for s in city.streets
        ],
        "tasks": [
            {"label": t.label, "orders": t.orders, "seconds": round(t.seconds, 3)}
            for t in city.timings
        ],
    }


def write_city_json(city: CityResult, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(city_json(city), ensure_ascii=False, indent=2), encoding="utf-8")
