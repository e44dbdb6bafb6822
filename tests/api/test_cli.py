"""The ``qunbang scenario`` commands, end to end through Typer's ``CliRunner``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app

SCENARIO = """\
name: 小街道 / small street
street:
  generated:
    preset: tiny
    seed: 3
    helpers: 20
    residents: 20
    orders: 15
solver:
  time_limit_s: 3
  workers: 1
variants:
  - name: wider
    description: every helper travels half as far again
    changes:
      - scale_radius: {factor: 1.5}
  - name: fewer
    changes:
      - remove_helpers: {kind: warm_hearted_resident}
"""

DOCUMENTED_KEYS = {
    "scenario", "variant", "label", "solver", "status", "message", "orders_total",
    "orders_covered", "weighted_coverage", "weighted_coverage_units", "weighted_demand_units",
    "travel_km", "travel_km_mean", "travel_km_max", "helpers_used", "load_max", "load_spread",
    "continuity_rate", "gap", "runtime_s", "stages", "certificate", "assignments", "unmatched",
}  # fmt: skip

runner = CliRunner()


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_schema_prints_json_schema() -> None:
    """``scenario schema`` prints a JSON object with properties."""
    result = runner.invoke(app, ["scenario", "schema"])
    assert result.exit_code == 0, result.output
    assert "properties" in json.loads(result.output)


def test_run_prints_summary_and_writes_documented_json(scenario_file: Path, tmp_path: Path) -> None:
    """``scenario run --json`` prints the summary and writes exactly the documented keys, with
    every order either assigned or unmatched, once."""
    out = tmp_path / "out" / "result.json"
    args = ["scenario", "run", str(scenario_file), "--time-limit", "3", "--workers", "1"]
    result = runner.invoke(app, ["--lang", "en", *args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "Weighted coverage" in result.output and "Continuity rate" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == DOCUMENTED_KEYS
    assert data["solver"] == "cpsat" and data["variant"] is None
    assert data["orders_covered"] == len(data["assignments"])
    orders = [a["order"] for a in data["assignments"]] + [u["order"] for u in data["unmatched"]]
    assert len(orders) == len(set(orders)) == data["orders_total"] == 15
    assert 0 <= data["weighted_coverage"] <= 1
    assert data["weighted_coverage"] == pytest.approx(
        data["weighted_coverage_units"] / data["weighted_demand_units"]
    )
    assert [s["name"] for s in data["stages"]][:1] == ["coverage"]
    for assignment in data["assignments"]:
        assert assignment["start"] is None or len(assignment["start"]) == 5
    for unmatched in data["unmatched"]:
        assert unmatched["explanation"] and unmatched["explanation_en"]


def test_run_with_greedy_solver(scenario_file: Path, tmp_path: Path) -> None:
    """``--solver greedy`` solves with the hand rule and says so in the JSON."""
    out = tmp_path / "greedy.json"
    args = ["scenario", "run", str(scenario_file), "--solver", "greedy", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["solver"] == "greedy"
    assert data["orders_covered"] == len(data["assignments"])


def test_compare_prints_columns_and_differences(scenario_file: Path) -> None:
    """``compare`` with two variants prints one column each and differences to the first."""
    args = ["scenario", "compare", str(scenario_file), "--variants", "base,wider"]
    result = runner.invoke(app, ["--lang", "en", *args, "--solvers", "greedy", "--time-limit", "2"])
    assert result.exit_code == 0, result.output
    assert "base · greedy" in result.output and "wider · greedy" in result.output
    assert re.search(r"(±0|[+\u2212]\d[\d,.]*) km", result.output)


def test_broken_file_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    """A bad field exits with code 2, naming the file and the field path, without a traceback."""
    path = tmp_path / "broken.yaml"
    path.write_text(SCENARIO.replace("helpers: 20", "helpers: -5"), encoding="utf-8")
    result = runner.invoke(app, ["scenario", "run", str(path)])
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # Rich may wrap long lines
    assert "broken.yaml" in output and "street.generated.helpers" in output
    assert "Traceback" not in result.output


def test_unknown_variant_exits_2_listing_valid_names(scenario_file: Path) -> None:
    """An unknown variant exits with code 2 and lists the valid ones."""
    result = runner.invoke(app, ["scenario", "run", str(scenario_file), "--variant", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.output and "wider" in result.output and "fewer" in result.output
    assert "Traceback" not in result.output


def test_unknown_solver_exits_2(scenario_file: Path) -> None:
    """An unknown solver name exits with code 2 and names the valid ones."""
    result = runner.invoke(app, ["scenario", "compare", str(scenario_file), "--solvers", "x"])
    assert result.exit_code == 2
    assert "cpsat" in result.output and "Traceback" not in result.output


def test_unwritable_json_path_exits_2(scenario_file: Path, tmp_path: Path) -> None:
    """A --json path that cannot be written exits with code 2 and a message, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    target = blocker / "out.json"
    result = runner.invoke(app, ["scenario", "run", str(scenario_file), "--json", str(target)])
    assert result.exit_code == 2
    assert str(blocker) in result.output and "Traceback" not in result.output


def test_report_writes_html(scenario_file: Path, tmp_path: Path) -> None:
    """``report`` writes the HTML file into --out and prints its path; its ``--lang`` sets the
    page's language apart from the command's."""
    out = tmp_path / "report"
    args = ["scenario", "report", str(scenario_file), "--out", str(out), "--solver", "greedy"]
    result = runner.invoke(
        app, ["--lang", "zh_CN", *args, "--variants", "base,wider", "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    html = next(out.glob("*.html"))
    assert html.name in " ".join(result.output.split()).replace(" ", "")
    assert "报告" in result.output  # the command speaks Chinese, the page English
    assert '<html lang="en">' in html.read_text(encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    bad = [*args[:3], "--out", str(elsewhere), "--lang", "fr"]
    refused = runner.invoke(app, bad)
    assert refused.exit_code == 2 and "--lang" in refused.output and not elsewhere.exists()
