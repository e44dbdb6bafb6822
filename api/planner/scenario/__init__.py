"""Planner scenario files: load a YAML file (plus CSV tables), list its variants, build the
``Problem`` and ``SolveParams`` for the base street or one variant."""

from __future__ import annotations

from typing import Any

from api.planner.scenario.load import ScenarioError, load_scenario
from api.planner.scenario.schema import Scenario, ScenarioFile, SolverSettings, Variant
from api.planner.scenario.variants import Built, build, variant_names


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (for editors)."""
    return ScenarioFile.model_json_schema()


__all__ = [
    "Built",
    "Scenario",
    "ScenarioError",
    "SolverSettings",
    "Variant",
    "build",
    "load_scenario",
    "scenario_json_schema",
    "variant_names",
]
