"""Run scenario files: the services behind ``qunbang scenario run`` and ``compare``.

The CLI stays thin: it validates options, calls these functions and prints. Everything here is
plain data in, plain data out, so the bench and the tests use the same code.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.i18n import gettext as _
from api.planner.scenario import Scenario, build, load_scenario, variant_names
from api.services.matching.explain_text import explain_in
from matcher.certificate import CERTIFY_S
from matcher.cpsat.solver import Progress  # re-exported for the CLI
from matcher.metrics import Summary, summarize
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Result
from matcher.solve import solve, solve_greedy

SOLVERS = ("cpsat", "greedy")
BASE = "base"  # what ``compare --variants`` calls the scenario without changes


class OptionError(ValueError):
    """A command-line option that does not fit the scenario (unknown variant or solver)."""


@dataclass(frozen=True)
class Overrides:
    """Solver settings given on the command line; ``None`` keeps the file's value."""

    time_limit_s: float | None = None
    workers: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Run:
    """One solve of one variant of a scenario."""

    scenario: str  # the file as given
    variant: str | None  # None: the base scenario
    label: str
    solver: str
    problem: Problem
    params: SolveParams
    result: Result
    summary: Summary

    @property
    def column(self) -> str:
        return f"{self.variant or BASE} · {self.solver}"


def load(path: Path) -> Scenario:
    """The scenario in ``path``; raises ``ScenarioError`` with a message naming file and field."""
    return load_scenario(path)


def apply_overrides(params: SolveParams, overrides: Overrides) -> SolveParams:
    """``params`` with the command-line settings, validated again (a bad value raises pydantic's
    ``ValidationError``)."""
    changes = {
        "time_limit_s": overrides.time_limit_s,
        "workers": overrides.workers,
        "seed": overrides.seed,
    }
    changes = {key: value for key, value in changes.items() if value is not None}
    return SolveParams.model_validate({**params.model_dump(), **changes})


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise OptionError(
            _(
                "unknown solver %(solver)s; choose one of: %(choices)s",
                solver=repr(solver),
                choices=", ".join(SOLVERS),
            )
        )
    return solver


def check_variant(scenario: Scenario, path: Path, variant: str | None) -> str | None:
    """``variant`` if the scenario defines it (``None`` and ``"base"`` mean the base scenario)."""
    if variant is None:
        return None
    names = variant_names(scenario)
    if variant in names:
        return variant
    if variant == BASE:
        return None
    valid = ", ".join([BASE, *names])
    raise OptionError(
        _(
            "%(path)s: unknown variant %(variant)s; valid variants: %(valid)s",
            path=path,
            variant=repr(variant),
            valid=valid,
        )
    )


def split_list(text: str | None) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; empty items are dropped."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def run_scenario(
    path: Path,
    scenario: Scenario,
    variant: str | None,
    solver: str,
    overrides: Overrides,
    progress: Progress | None = None,
) -> Run:
    """Build ``variant`` of ``scenario`` (read from ``path``) and solve it with ``solver``."""
    check_solver(solver)
    variant = check_variant(scenario, path, variant)
    built = build(scenario, variant)
    params = apply_overrides(built.params, overrides)
    if solver == "cpsat":
        # Planners read how far each plan can be from the best possible (``matcher.certificate``).
        params = params.model_copy(update={"certify_s": params.certify_s or CERTIFY_S})
        result = solve(built.problem, params, progress)
    else:
        result = solve_greedy(built.problem, params)
    return Run(
        scenario=str(path),
        variant=variant,
        label=built.label,
        solver=solver,
        problem=built.problem,
        params=params,
        result=result,
        summary=summarize(built.problem, result),
    )


def compare_columns(
    scenario: Scenario, path: Path, variants: list[str], solvers: list[str]
) -> list[tuple[str | None, str]]:
    """The (variant, solver) pairs ``compare`` solves, checked before any solving starts.
    No variants given: the base and every variant of the file; no solvers: CP-SAT."""
    for solver in solvers:
        check_solver(solver)
    chosen = [check_variant(scenario, path, v) for v in variants] if variants else None
    if chosen is None:
        chosen = [None, *variant_names(scenario)]
    return [(variant, solver) for variant in chosen for solver in solvers or ["cpsat"]]


def result_json(run: Run) -> dict[str, Any]:
    """The machine-readable result written by ``run --json`` (keys documented in README.md)."""
    summary, result, catalogue = run.summary, run.result, run.problem.catalogue
    return {
        "scenario": run.scenario,
        "variant": run.variant,
        "label": run.label,
        "solver": run.solver,
        "status": str(result.status),
        "message": result.message,
        "orders_total": summary.orders_total,
        "orders_covered": summary.orders_covered,
        "weighted_coverage": result.coverage_ratio,
        "weighted_coverage_units": result.weighted_coverage,
        "weighted_demand_units": result.weighted_demand,
        "travel_km": summary.travel_km_total,
        "travel_km_mean": summary.travel_km_mean,
        "travel_km_max": summary.travel_km_max,
        "helpers_used": summary.helpers_used,
        "load_max": summary.load_max,
        "load_spread": summary.load_spread,
        "continuity_rate": summary.continuity_rate,
        "gap": result.gap,
        "runtime_s": result.runtime_s,
        # bounds against every eligible helper (``matcher.certificate``); None for the hand rule
        "certificate": result.certificate.model_dump(mode="json") if result.certificate else None,
        "stages": [
            {
                "name": stage.name,
                "status": str(stage.status),
                "objective": stage.objective,
                "bound": stage.bound,
                "gap": stage.gap,
                "runtime_s": stage.runtime_s,
            }
            for stage in result.stages
        ],
        "assignments": [
            {"order": a.order, "helpers": list(a.helpers), "start": clock(a.start)}
            for a in result.assignments
        ],
        "unmatched": [
            {
                "order": u.order,
                "reason": str(u.reason),
                "params": u.params.model_dump(mode="json"),
                # A scenario's own order ids are what its reader knows: shown as they are.
                "explanation": explain_in("zh_CN", u.reason, u.params, catalogue, u.outranked_by),
                "explanation_en": explain_in("en", u.reason, u.params, catalogue, u.outranked_by),
                "outranked_by": u.outranked_by,
            }
            for u in result.unmatched
        ],
    }


def write_json(run: Run, path: Path) -> None:
    """The run as JSON at ``path``, whole or not at all (written beside it, then renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result_json(run), ensure_ascii=False, indent=2)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        partial = Path(handle.name)
    try:
        partial.write_text(text, encoding="utf-8")
        partial.chmod(0o644)  # a temporary file is private; the result is an ordinary file
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def clock(minutes: int | None) -> str | None:
    """Minutes after midnight as ``"HH:MM"``."""
    return None if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"
