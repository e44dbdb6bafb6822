"""Scenario files: shipped files load and build, variants apply, bad files give clear errors."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import i18n
from api.cli.main import app
from api.planner import run as scenario_run
from api.planner.scenario import (
    Scenario,
    ScenarioError,
    build,
    load,
    load_scenario,
    scenario_json_schema,
    variant_names,
    variants,
)
from api.planner.scenario.schema import MAX_CSV_BYTES, MAX_FACTOR, MAX_LEGS
from api.services.files import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, load_yaml, parse_yaml
from matcher.generator import (
    MAX_COMMUNITIES,
    MAX_GRIDS_PER_COMMUNITY,
    MAX_HELPERS,
    MAX_ORDERS,
    MAX_RESIDENTS,
)
from matcher.model import HelperKind, MatrixTravel
from matcher.params import SolveParams
from matcher.result import Status
from matcher.solve import solve, solve_greedy
from matcher.verify import assert_valid

SCENARIOS = Path(__file__).parents[2] / "scenarios"
# One-street scenarios (city files, ``city*.yaml``, have their own tests: tests/api/test_city.py).
SHIPPED = [
    *sorted(p for p in SCENARIOS.glob("*.yaml") if not p.name.startswith("city")),
    SCENARIOS / "explicit-csv" / "scenario.yaml",
]
SMALL = [SCENARIOS / "explicit-small.yaml", SCENARIOS / "explicit-csv" / "scenario.yaml"]
runner = CliRunner()

TINY = """\
name: tiny
street:
  generated: {preset: tiny, seed: 3}
solver: {seed: 7, time_limit_s: 5, workers: 1}
variants:
  - name: nurses
    changes:
      - add_helpers: {count: 5, kind: nurse, skills: [nursing], community: 青山社区}
      - add_helpers: {count: 2, kind: doctor, skills: [physician], grid: 青山社区第2网格}
  - name: reach
    changes: [{scale_radius: {factor: 1.5}}]
  - name: health-x2
    changes: [{scale_orders: {category: health, factor: 2}}]
  - name: no-parties
    changes: [{remove_helpers: {kind: party_member}}]
  - name: tuned
    changes:
      - set_weights: {travel: 0.2, fairness: 3}
      - set_solver: {time_limit_s: 2, candidate_limit: 8}
"""

EXPLICIT = """\
name: broken
street:
  explicit:
    helpers:
      - {id: H1, kind: nurse, lat: 40.84, lon: 111.75, skills: [nursing]}
      - {id: H2, kind: nurse, lat: 40.84, lon: 111.75, skills: [nursing, SKILL]}
    residents:
      - {id: R1, category: living_alone, lat: 40.84, lon: 111.75}
    orders:
      - {id: O1, resident: R1, item: H06}
"""


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The messages below are checked in English (the catalogs' ids); the command line is
    asked for English with ``--lang en``."""
    with i18n.use_locale("en"):
        yield


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Scenario:
    return load_scenario(write(tmp_path, TINY))


def error_of(path: Path, variant: str | None = None) -> str:
    with pytest.raises(ScenarioError) as caught:
        build(load_scenario(path), variant)
    return str(caught.value)


# ----------------------------------------------------------------------------- shipped files


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name + "/" + p.name)
def test_shipped_scenario_builds_base_and_variants(path: Path) -> None:
    """Every shipped scenario loads and builds its base and each variant."""
    scenario = load_scenario(path)
    assert build(scenario).label == "base"
    for name in variant_names(scenario):
        built = build(scenario, name)
        assert built.label == name
        assert built.problem.orders


def test_shipped_sizes_match_their_descriptions() -> None:
    """demo, district, scarce and pastoral streets have the sizes the issue asks for."""
    sizes = {
        name: build(load_scenario(SCENARIOS / f"{name}.yaml")).problem
        for name in ("demo-street", "district", "scarce-street")
    }
    assert (len(sizes["demo-street"].helpers), len(sizes["demo-street"].orders)) == (1200, 600)
    assert len(sizes["demo-street"].residents) == 1500
    assert (len(sizes["district"].helpers), len(sizes["district"].orders)) == (3000, 1500)
    assert (len(sizes["scarce-street"].helpers), len(sizes["scarce-street"].orders)) == (1000, 1500)
    pastoral = build(load_scenario(SCENARIOS / "pastoral.yaml"))
    assert pastoral.problem.helpers[0].radius_km >= 15


LARGE = [p for p in SHIPPED if p not in SMALL]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", LARGE, ids=lambda p: p.parent.name + "/" + p.name)
def test_shipped_street_solves_validly(path: Path) -> None:
    """Every shipped street's base solves with its own settings (time limit cut to 3 s) into a
    plan that passes the verifier and covers at least what the hand rule covers."""
    built = build(load_scenario(path))
    params = built.params.model_copy(update={"time_limit_s": 3.0, "workers": 1})
    result = solve(built.problem, params)
    assert result.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert_valid(built.problem, result, wait_boost=params.wait_boost)
    assert result.weighted_coverage >= solve_greedy(built.problem, params).weighted_coverage


@pytest.mark.parametrize("path", SMALL, ids=lambda p: p.parent.name + "/" + p.name)
def test_small_scenarios_solve_validly(path: Path) -> None:
    """The small explicit scenarios solve and the result passes the verifier."""
    scenario = load_scenario(path)
    for name in [None, *variant_names(scenario)]:
        problem = build(scenario, name).problem
        result = solve(problem, SolveParams(time_limit_s=5, workers=1))
        assert_valid(problem, result)


def test_tiny_generated_scenario_solves_validly(tiny: Scenario) -> None:
    """A tiny generated scenario and its recruitment variant solve validly."""
    for name in (None, "nurses"):
        problem = build(tiny, name).problem
        assert_valid(problem, solve(problem, SolveParams(time_limit_s=5, workers=1)))


def test_csv_scenario_reads_lists_windows_and_matrix() -> None:
    """CSV cells split on ';', windows parse, empty cells default, legs form a matrix."""
    problem = build(load_scenario(SCENARIOS / "explicit-csv" / "scenario.yaml")).problem
    nurse = problem.helper("H1")
    assert nurse.skills == {"nursing", "blood_pressure_check"}
    assert [(w.start, w.end) for w in nurse.availability] == [(480, 690), (840, 1020)]
    assert problem.helper("H3").max_orders == 3
    assert problem.order("O3").window is None
    assert problem.travel.kind == "matrix"


# ----------------------------------------------------------------------------- variants


def test_add_helpers_places_recruits_in_the_community(tiny: Scenario) -> None:
    """Recruits are added with their skills and placed in the named community and grid."""
    base, built = build(tiny), build(tiny, "nurses")
    assert len(built.problem.helpers) == len(base.problem.helpers) + 7
    recruits = built.problem.helpers[len(base.problem.helpers) :]
    assert [h.kind for h in recruits].count(HelperKind.NURSE) == 5
    assert all("nursing" in h.skills for h in recruits[:5])
    assert built.layout is not None
    assert {built.layout.community_of(h.id) for h in recruits} == {"青山社区"}
    assert {built.layout.grid_of(h.id) for h in recruits[5:]} == {"青山社区第2网格"}


def test_scale_radius_multiplies_every_radius(tiny: Scenario) -> None:
    """scale_radius multiplies each helper's radius by the factor."""
    base, built = build(tiny).problem, build(tiny, "reach").problem
    for before, after in zip(base.helpers, built.helpers, strict=True):
        assert after.radius_km == pytest.approx(before.radius_km * 1.5)


def test_scale_orders_doubles_one_category(tiny: Scenario) -> None:
    """scale_orders with factor 2 duplicates the category's orders with new ids."""
    base, built = build(tiny).problem, build(tiny, "health-x2").problem

    def health(problem: object) -> int:
        return sum(1 for o in problem.orders if problem.item_of(o).category == "health")  # type: ignore[attr-defined]

    assert health(built) == 2 * health(base) > 0
    assert len(built.orders) == len(base.orders) + health(base)


@pytest.mark.parametrize("factor", [3.0, 0.5])
def test_scale_orders_keeps_matrix_travel_consistent(tmp_path: Path, factor: float) -> None:
    """With matrix travel, copied orders get their original's legs and dropped orders lose
    theirs, so every order keeps the same candidates and the problem stays valid."""
    source = (SCENARIOS / "explicit-csv" / "scenario.yaml").read_text(encoding="utf-8")
    for name in ("helpers.csv", "residents.csv", "orders.csv", "legs.csv"):
        (tmp_path / name).write_bytes((SCENARIOS / "explicit-csv" / name).read_bytes())
    source += (
        f"  - name: scaled\n    changes:\n      - scale_orders: {{item: L01, factor: {factor}}}\n"
    )
    scenario = load_scenario(write(tmp_path, source))
    base, scaled = build(scenario).problem, build(scenario, "scaled").problem
    assert isinstance(scaled.travel, MatrixTravel)
    pairs = {(leg.helper, leg.order) for leg in scaled.travel.legs}
    for order in scaled.orders:
        original = order.id.split("~")[0]
        expected = {h for h, o in pairs if o == original} if original in {
            o.id for o in base.orders} else set()  # fmt: skip
        assert {h for h, o in pairs if o == order.id} == expected
    assert {o for _, o in pairs} <= {o.id for o in scaled.orders}
    assert_valid(scaled, solve(scaled, SolveParams(time_limit_s=3, workers=1)))


def test_remove_helpers_removes_the_kind(tiny: Scenario) -> None:
    """remove_helpers drops every helper of that kind and the references to them."""
    problem = build(tiny, "no-parties").problem
    assert HelperKind.PARTY_MEMBER in {h.kind for h in build(tiny).problem.helpers}
    assert HelperKind.PARTY_MEMBER not in {h.kind for h in problem.helpers}


def test_set_weights_and_solver_change_params(tiny: Scenario) -> None:
    """set_weights and set_solver override only the named settings."""
    params = build(tiny, "tuned").params
    assert (params.weights.travel, params.weights.fairness) == (0.2, 3)
    assert params.weights.continuity == SolveParams().weights.continuity
    assert (params.time_limit_s, params.candidate_limit, params.seed) == (2, 8, 7)
    assert build(tiny).params.time_limit_s == 5


def test_same_seed_gives_same_problem(tmp_path: Path) -> None:
    """Loading and building a scenario twice gives equal problems, variants included."""
    first = load_scenario(write(tmp_path, TINY, "a.yaml"))
    second = load_scenario(write(tmp_path, TINY, "b.yaml"))
    assert build(first, "nurses").problem == build(second, "nurses").problem
    other = load_scenario(write(tmp_path, TINY.replace("seed: 3", "seed: 4"), "c.yaml"))
    assert build(other).problem != build(first).problem


# ----------------------------------------------------------------------------- errors


def test_unknown_skill_names_the_list_entry(tmp_path: Path) -> None:
    """An unknown skill points at helpers[i].skills[j] in the file."""
    path = write(tmp_path, EXPLICIT)
    assert error_of(path) == (
        f"{path}: street.explicit.helpers[1].skills[1]: unknown skill 'SKILL' (in helper 'H2')"
    )


def test_unknown_item_and_resident(tmp_path: Path) -> None:
    """Orders with an unknown item or resident name the order's field."""
    text = EXPLICIT.replace("SKILL", "nursing")
    item = write(tmp_path, text.replace("item: H06", "item: X99"), "i.yaml")
    assert error_of(item) == (
        f"{item}: street.explicit.orders[0].item: unknown catalogue item 'X99' (in order 'O1')"
    )
    resident = write(tmp_path, text.replace("resident: R1", "resident: R9"), "r.yaml")
    assert error_of(resident) == (
        f"{resident}: street.explicit.orders[0].resident: unknown resident 'R9' (in order 'O1')"
    )


def test_duplicate_id_points_at_the_repeat(tmp_path: Path) -> None:
    """A duplicate helper id is reported where it repeats."""
    path = write(tmp_path, EXPLICIT.replace("SKILL", "nursing").replace("id: H2", "id: H1"))
    assert error_of(path) == f"{path}: street.explicit.helpers[1].id: duplicate id (in helper 'H1')"


def test_bad_field_type(tmp_path: Path) -> None:
    """A value of the wrong type names the field and shows the input."""
    path = write(
        tmp_path,
        EXPLICIT.replace("lat: 40.84, lon: 111.75, skills: [nursing]}", "lat: north, lon: 1}"),
    )
    assert error_of(path) == (
        f"{path}: street.explicit.helpers[0].lat: Input should be a valid number, "
        "unable to parse string as a number (got 'north')"
    )


def test_unknown_change_and_bad_factor(tmp_path: Path) -> None:
    """An unknown change and a negative factor are both listed with their paths."""
    text = EXPLICIT.replace("SKILL", "nursing") + (
        "variants:\n  - name: v\n    changes:\n      - double_everything: {factor: 2}\n"
        "  - name: w\n    changes:\n      - scale_radius: {factor: -1}\n"
    )
    path = write(tmp_path, text)
    assert error_of(path) == (
        f"{path}: 2 errors:\n"
        "  variants[0].changes[0]: a change is a mapping with exactly one of add_helpers, "
        "scale_radius, scale_orders, remove_helpers, set_weights, set_solver; "
        "got ['double_everything']\n"
        "  variants[1].changes[0].scale_radius.factor: Input should be greater than 0 (got -1)"
    )


def test_bad_csv_row_names_file_row_and_column(tmp_path: Path) -> None:
    """A bad CSV cell names the CSV file, its row (header is row 1) and column."""
    write(tmp_path, "id,kind,lat,lon,availability\nH1,nurse,40.8,111.7,8am\n", "h.csv")
    path = write(tmp_path, "name: t\nstreet:\n  explicit: {helpers: h.csv}\n")
    assert error_of(path) == (
        f"{tmp_path / 'h.csv'}: row 2: column availability: expected a window like '08:00-11:30'"
    )


def test_unknown_skill_in_csv_names_row_and_column(tmp_path: Path) -> None:
    """A reference error in a CSV-backed table is mapped to its row and column."""
    write(tmp_path, "id,kind,lat,lon,skills\nH1,nurse,40.8,111.7,nursing;flying\n", "h.csv")
    path = write(tmp_path, "name: t\nstreet:\n  explicit: {helpers: h.csv}\n")
    assert error_of(path) == (
        f"{tmp_path / 'h.csv'}: row 2: column skills: unknown skill 'flying' (in helper 'H1')"
    )


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    """A YAML syntax error names the line and column."""
    path = write(tmp_path, "name: t\nstreet:\n  explicit:\n    helpers: [\n  bad: : x\n")
    assert error_of(path) == (
        f"{path}: line 5, column 8: YAML syntax error: expected the node content, but found ':'"
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    """Keys the format does not know are errors."""
    path = write(tmp_path, "name: t\nstreet:\n  generated: {preset: tiny}\nbogus: 1\n")
    assert error_of(path) == f"{path}: bogus: Extra inputs are not permitted"


def test_skill_mix_boosts_and_unknown_skill_is_named(tmp_path: Path) -> None:
    """A generated street's skill_boost adds holders; an unknown skill there is named."""
    text = "name: t\nstreet:\n  generated: {preset: tiny, skill_boost: {legal_advice: 1.0}}\n"
    problem = build(load_scenario(write(tmp_path, text))).problem
    assert all("legal_advice" in h.skills for h in problem.helpers)
    bad = write(tmp_path, text.replace("legal_advice", "juggling"), "bad.yaml")
    assert error_of(bad) == f"{bad}: street.generated.skill_boost: unknown skill 'juggling'"


def test_row_rejected_by_the_model_names_its_field(tmp_path: Path) -> None:
    """A value the domain model rejects in an inline row names the row and its field."""
    path = write(
        tmp_path,
        "name: t\nstreet:\n  explicit:\n"
        "    helpers: [{id: H1, kind: nurse, lat: 40.8, lon: 111.7, max_orders: -1}]\n"
        "    residents: [{id: R1, category: living_alone, lat: 40.8, lon: 111.7}]\n"
        "    orders: [{id: O1, resident: R1, item: L01}]\n",
    )
    assert error_of(path) == (
        f"{path}: street.explicit.helpers[0].max_orders: Input should be greater than or equal to 0"
    )


def test_unknown_variant_lists_valid_names(tiny: Scenario) -> None:
    """Building an unknown variant lists the valid names."""
    with pytest.raises(ScenarioError) as caught:
        build(tiny, "nope")
    assert str(caught.value) == (
        f"{tiny.source}: unknown variant 'nope'; "
        "valid variants: base, nurses, reach, health-x2, no-parties, tuned"
    )


def test_bad_variant_reference_names_the_change(tmp_path: Path) -> None:
    """An unknown community or skill in add_helpers names the change."""
    path = write(tmp_path, TINY.replace("community: 青山社区", "community: 火星社区"))
    assert error_of(path, "nurses") == (
        f"{path}: variants[0].changes[0].add_helpers: unknown community '火星社区'; "
        "choose one of 青山社区"
    )


def test_json_schema_describes_the_file() -> None:
    """The JSON Schema has the top-level properties and serialises."""
    schema = scenario_json_schema()
    assert {"name", "street", "variants", "solver"} <= set(schema["properties"])
    assert json.loads(json.dumps(schema)) == schema


# ----------------------------------------------------------------------------- 1. the YAML loader


def test_yaml_loader_refuses_duplicate_keys_naming_file_line_and_key(tmp_path: Path) -> None:
    """A key repeated in a mapping (top level or nested) is an error naming file, line, key."""
    top = write(tmp_path, "name: t\nstreet:\n  generated: {preset: tiny}\nname: u\n")
    assert error_of(top) == (
        f"{top}: line 4, column 1: duplicate key 'name' (each key may appear once in a mapping)"
    )
    nested = write(tmp_path, "name: t\nstreet:\n  generated: {preset: tiny, seed: 1, seed: 2}\n")
    assert error_of(nested).startswith(f"{nested}: line 3, column 38: duplicate key 'seed'")


def test_yaml_loader_bounds_nesting_depth(tmp_path: Path) -> None:
    """Deep nesting (block or flow) is refused with its line instead of a RecursionError."""
    flow = write(tmp_path, "name: t\nstreet: " + "[" * 5000 + "]" * 5000 + "\n")
    assert error_of(flow) == f"{flow}: line 2, column 58: nested more than 50 levels deep"
    block = "name: t\nstreet:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(100))
    deep = write(tmp_path, block, "block.yaml")
    assert error_of(deep).startswith(f"{deep}: line 51, ")


def test_yaml_loader_bounds_alias_expansion(tmp_path: Path) -> None:
    """A "billion laughs" file (9 levels of 9 aliases) and a recursive alias are refused before
    anything is expanded."""
    laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
    )
    path = write(tmp_path, laughs + "name: t\nstreet: {generated: {preset: tiny}}\n")
    assert error_of(path) == (
        f"{path}: line 7: more than 2,000,000 values once aliases (*name) are expanded"
    )
    loop = write(tmp_path, "name: t\nstreet: &s {generated: *s}\n", "loop.yaml")
    assert error_of(loop) == f"{loop}: line 2: an alias refers to the node that contains it"


def test_yaml_loader_keeps_ordinary_anchors_and_merge_keys(tmp_path: Path) -> None:
    """Anchors, aliases and a merge key whose value a later key overrides are plain YAML and
    still load; a scenario using an alias loads."""
    text = "a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  y: 3\nc: [*a, *a]\n"
    assert parse_yaml(text, "t.yaml") == {
        "a": {"x": 1, "y": 2}, "b": {"x": 1, "y": 3}, "c": [{"x": 1, "y": 2}] * 2
    }  # fmt: skip
    good = "name: t\nstreet:\n  generated: &g {preset: tiny}\n  explicit: {helpers: []}\n"
    assert load_scenario(write(tmp_path, good)).street.generated is not None


def test_yaml_loader_bounds_size_and_refuses_non_text(tmp_path: Path) -> None:
    """Over 4 MiB is refused before parsing; bytes that are not UTF-8 and control characters
    are named by line or position, without echoing them; a folder is not a file."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"name: t\n" + b"#" * (4 * 1024 * 1024))
    assert error_of(big) == (f"{big}: the file has 4,194,312 bytes; the limit is 4,194,304")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"name: t\nstreet:\n  x: \xff\xfeSECRET\n")
    assert error_of(binary) == f"{binary}: line 3: not UTF-8 text; save the file as UTF-8"
    control = write(tmp_path, "name: t\x01SECRET\n", "control.yaml")
    message = error_of(control)
    assert message == f"{control}: line 1: a control character is not allowed in YAML"
    assert error_of(tmp_path) == f"{tmp_path}: not a regular file"
    assert error_of(tmp_path / "missing.yaml") == f"{tmp_path / 'missing.yaml'}: no such file"


def test_yaml_loader_errors_through_the_cli_exit_2_in_one_line(tmp_path: Path) -> None:
    """Through ``qunbang scenario run`` a loader error is one red line and exit code 2."""
    path = write(tmp_path, "name: t\nstreet: " + "[" * 3000 + "]" * 3000 + "\n")
    result = runner.invoke(app, ["--lang", "en", "scenario", "run", str(path)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "Traceback" not in result.output
    assert "nested more than 50 levels deep" in result.output


# ----------------------------------------------------------------------------- 2. sizes


@pytest.mark.parametrize(
    ("field", "bound"),
    [("helpers", 150_000), ("residents", 250_000), ("orders", 50_000), ("communities", 500)],
)
def test_generator_sizes_are_bounded_with_the_bound_in_the_error(
    tmp_path: Path, field: str, bound: int
) -> None:
    """A generated street of a billion anything is refused at validation, naming the bound,
    before the generator allocates anything."""
    path = write(
        tmp_path, f"name: t\nstreet:\n  generated: {{preset: tiny, {field}: 1000000000}}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == (
        f"{path}: street.generated.{field}: Input should be less than or equal to {bound} "
        "(got 1000000000)"
    )


def test_generator_sizes_bound_the_variants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """add_helpers beyond the helper limit, a scale factor over 100, and a scale_orders that
    would pass the order limit are refused naming the change and the limit."""
    too_many = write(tmp_path, TINY.replace("count: 5", "count: 1000000000"))
    with pytest.raises(ScenarioError, match=r"add_helpers\.count: Input should be less than or "
                       r"equal to 150000"):  # fmt: skip
        load_scenario(too_many)
    monkeypatch.setattr(variants, "MAX_HELPERS", 35)  # 30 + 5 fits; the next 2 do not
    assert error_of(write(tmp_path, TINY, "tiny.yaml"), "nurses").endswith(
        "variants[0].changes[1].add_helpers: 37 helpers in all; the limit is 35"
    )
    factor = write(tmp_path, TINY.replace("factor: 2}", "factor: 1000000}"), "factor.yaml")
    with pytest.raises(ScenarioError, match=r"scale_orders\.factor: Input should be less than or "
                       r"equal to 100"):  # fmt: skip
        load_scenario(factor)
    monkeypatch.setattr(variants, "MAX_ORDERS", 41)
    message = error_of(write(tmp_path, TINY, "orders.yaml"), "health-x2")
    assert message.startswith(f"{tmp_path / 'orders.yaml'}: variants[2].changes[0].scale_orders: ")
    assert message.endswith("orders in all; the limit is 41")


def test_generator_sizes_are_documented_in_the_readme() -> None:
    """The README's "Scenario files: limits" section states every bound the code enforces."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Scenario files: limits", 1)[1].split("\n#", 1)[0]
    figures = [
        *(MAX_HELPERS, MAX_RESIDENTS, MAX_ORDERS, MAX_COMMUNITIES, MAX_LEGS),
        *(MAX_GRIDS_PER_COMMUNITY, MAX_YAML_DEPTH, MAX_YAML_NODES, int(MAX_FACTOR)),
    ]
    for figure in figures:
        assert f"{figure:,}" in section, figure
    assert (
        f"{MAX_YAML_BYTES // 2**20} MiB" in section and f"{MAX_CSV_BYTES // 2**20} MiB" in section
    )


# ----------------------------------------------------------------------------- 3. CSV references


def helpers_csv_scenario(tmp_path: Path, reference: str, name: str = "s.yaml") -> Path:
    return write(tmp_path, f"name: t\nstreet:\n  explicit: {{helpers: '{reference}'}}\n", name)


def test_csv_references_stay_inside_the_scenario_folder(tmp_path: Path) -> None:
    """Absolute paths, '..' and a symbolic link leading out are refused naming the field; the
    refused file is never opened, so nothing of it (/etc/passwd's 'root:') can be echoed."""
    folder = tmp_path / "scenario"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "x.csv").write_text("id,kind,lat,lon\n", encoding="utf-8")
    (folder / "sub" / "link.csv").symlink_to("/etc/passwd")
    cases = {
        "/etc/passwd": "absolute paths are refused",
        "../x.csv": "'..' is refused",
        "sub/../../x.csv": "'..' is refused",
        "~/x.csv": "absolute paths are refused",
        "sub/link.csv": "'sub/link.csv' leads outside it (a symbolic link)",
    }
    for reference, reason in cases.items():
        path = helpers_csv_scenario(folder, reference)
        message = error_of(path)
        assert message.startswith(f"{path}: street.explicit.helpers: must be a file in the "
                                  "scenario's folder"), message  # fmt: skip
        assert message.endswith(reason) and "root:" not in message


def test_csv_references_read_only_regular_files(tmp_path: Path) -> None:
    """A FIFO or a folder inside the scenario's folder is refused without blocking; /dev/zero
    behind a link is outside the folder; a CSV in a subfolder is read."""
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    assert error_of(helpers_csv_scenario(tmp_path, "pipe.csv")) == (
        f"{tmp_path / 'pipe.csv'}: not a regular file"
    )
    assert error_of(helpers_csv_scenario(tmp_path, "folder.csv")) == (
        f"{tmp_path / 'folder.csv'}: not a regular file"
    )
    assert "leads outside it" in error_of(helpers_csv_scenario(tmp_path, "zero.csv"))
    (tmp_path / "people").mkdir()
    write(tmp_path / "people", "id,kind,lat,lon\nH1,nurse,40.8,111.7\n", "h.csv")
    path = write(tmp_path, "name: t\nstreet:\n  generated: {preset: tiny}\n"
                 "  explicit: {helpers: people/h.csv}\n", "ok.yaml")  # fmt: skip
    explicit = load_scenario(path).street.explicit
    assert explicit is not None and [row.id for row in explicit.helpers] == ["H1"]


def test_csv_references_are_size_capped_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CSV over the byte limit is refused by its size; over the row limit, by its rows."""
    write(tmp_path, "id,kind,lat,lon\n" + "H1,nurse,40.8,111.7\n" * 5, "h.csv")
    monkeypatch.setattr(load, "MAX_CSV_BYTES", 50)
    assert error_of(helpers_csv_scenario(tmp_path, "h.csv")) == (
        f"{tmp_path / 'h.csv'}: the file has 116 bytes; the limit is 50"
    )
    monkeypatch.setattr(load, "MAX_CSV_BYTES", 1000)
    monkeypatch.setitem(load.MAX_ROWS, "helpers", 3)
    assert error_of(helpers_csv_scenario(tmp_path, "h.csv")) == (
        f"{tmp_path / 'h.csv'}: more than 3 rows; the limit is 3"
    )


def test_csv_reference_errors_never_echo_file_contents(tmp_path: Path) -> None:
    """An unknown header, a bad cell, an extra cell, a bad byte and a bad quote are each named
    by file, row and column only: the secret text in them never appears."""
    files = {
        "header.csv": "id,kind,lat,lon,SECRET\n",
        "cell.csv": "id,kind,lat,lon\nH1,nurse,SECRET,111.7\n",
        "window.csv": "id,kind,lat,lon,availability\nH1,nurse,40.8,111.7,SECRET\n",
        "extra.csv": "id,kind,lat,lon\nH1,nurse,40.8,111.7,SECRET\n",
        "kind.csv": "id,kind,lat,lon\nH1,SECRET,40.8,111.7\n",
    }
    expected = {
        "header.csv": "row 1: column 5 is not a known column; columns are id, kind, lat, lon,",
        "cell.csv": "row 2: column lat: Input should be a valid number, unable to parse string "
        "as a number",
        "window.csv": "row 2: column availability: expected a window like '08:00-11:30'",
        "extra.csv": "row 2: 5 cells but the header has 4 columns",
        "kind.csv": "row 2: column kind: Input should be",
    }
    for name, text in files.items():
        write(tmp_path, text, name)
        message = error_of(helpers_csv_scenario(tmp_path, name))
        assert message.startswith(f"{tmp_path / name}: {expected[name]}"), message
        assert "SECRET" not in message
    (tmp_path / "bytes.csv").write_bytes(b"id,kind,lat,lon\nH1,\xffSECRET,1,2\n")
    assert error_of(helpers_csv_scenario(tmp_path, "bytes.csv")) == (
        f"{tmp_path / 'bytes.csv'}: line 2: not UTF-8 text; save the file as UTF-8"
    )


def test_csv_and_generated_sizes_add_up_within_the_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated and explicit helpers together stay within the helper limit."""
    write(tmp_path, "id,kind,lat,lon\nX1,nurse,40.8,111.7\n", "h.csv")
    path = write(tmp_path, "name: t\nstreet:\n  generated: {preset: tiny}\n"
                 "  explicit: {helpers: h.csv}\n")  # fmt: skip
    monkeypatch.setitem(load.MAX_ROWS, "helpers", 30)
    assert error_of(path) == (
        f"{path}: street: 31 helpers in all (generated and explicit); the limit is 30"
    )


# ----------------------------------------------------------------------------- 6. fuzz


def broken_scenarios(folder: Path) -> dict[str, Path]:
    """A handful of broken scenario files, each with the text its error must contain."""
    folder.mkdir()
    helpers = "name: t\nstreet:\n  explicit: {{helpers: '{}'}}\n"
    texts = {
        "deep.yaml": "name: t\nstreet: " + "{a: " * 2000 + "1" + "}" * 2000 + "\n",
        "billion.yaml": "name: t\nstreet:\n  generated: {preset: tiny, helpers: 1000000000}\n",
        "dev-zero.yaml": helpers.format("/dev/zero"),
        "passwd.yaml": helpers.format("/etc/passwd"),
        "up.yaml": helpers.format("../../x.csv"),
        "duplicate.yaml": "name: t\nname: u\nstreet: {generated: {preset: tiny}}\n",
        "unterminated.yaml": "name: 't\nstreet: [\n",
        "not-a-mapping.yaml": "- just\n- a list\n",
    }
    paths = {name: write(folder, text, name) for name, text in texts.items()}
    rng = random.Random(0)
    for number in range(3):
        path = folder / f"random-{number}.yaml"
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
        paths[path.name] = path
    return paths


def test_fuzz_broken_scenario_files_give_one_clear_line(tmp_path: Path) -> None:
    """Each broken file makes ``scenario run --json`` exit 2 with one line naming the file, no
    traceback, nothing written (the JSON is not created) and the folder unchanged."""
    paths = broken_scenarios(tmp_path / "broken")
    before = sorted(p.name for p in (tmp_path / "broken").iterdir())
    out = tmp_path / "out.json"
    for name, path in paths.items():
        result = runner.invoke(
            app, ["--lang", "en", "scenario", "run", str(path), "--json", str(out)]
        )
        assert result.exit_code == 2, (name, result.output, result.exception)
        line = result.output.strip()
        assert "\n" not in line and str(path) in line and "Traceback" not in line, line
        assert "root:" not in line, line
    assert not out.exists()
    assert sorted(p.name for p in (tmp_path / "broken").iterdir()) == before


def test_yaml_loader_reads_every_shipped_yaml_file() -> None:
    """Every YAML file the project ships (seeds and scenarios) passes the strict loader: no
    duplicate key hides in them."""
    root = Path(__file__).parents[2]
    shipped = sorted((root / "seeds").glob("*.yaml")) + sorted(SCENARIOS.rglob("*.yaml"))
    assert len(shipped) >= 8
    for path in shipped:
        assert isinstance(load_yaml(path, limit=MAX_YAML_BYTES), dict), path


def test_run_json_is_written_whole_or_not_at_all(
    tiny: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--json`` replaces the file in one step: a failure while writing leaves the old file
    as it was and no partial file beside it; success leaves valid JSON."""
    run = scenario_run.run_scenario(tiny.source, tiny, None, "greedy", scenario_run.Overrides())
    target = tmp_path / "out" / "run.json"
    scenario_run.write_json(run, target)
    first = json.loads(target.read_text(encoding="utf-8"))
    assert first["solver"] == "greedy" and first["orders_total"] == len(run.problem.orders)

    class Interrupted(Exception):
        pass

    def fail(*args: object) -> None:
        raise Interrupted

    monkeypatch.setattr(scenario_run.os, "replace", fail)
    with pytest.raises(Interrupted):
        scenario_run.write_json(run, target)
    assert json.loads(target.read_text(encoding="utf-8")) == first
    assert [p.name for p in target.parent.iterdir()] == ["run.json"]


def test_unknown_helper_in_a_travel_leg_names_its_csv_row(tmp_path: Path) -> None:
    """A leg naming an unknown helper is placed at its row and column of legs.csv, read from
    the matcher's error data (kind, index, field), not from its message."""
    for name in ("helpers.csv", "residents.csv", "orders.csv", "scenario.yaml"):
        (tmp_path / name).write_bytes((SCENARIOS / "explicit-csv" / name).read_bytes())
    legs = (SCENARIOS / "explicit-csv" / "legs.csv").read_text(encoding="utf-8").splitlines()
    legs.insert(2, "H99,O1,1.0,10")
    (tmp_path / "legs.csv").write_text("\n".join(legs) + "\n", encoding="utf-8")
    assert error_of(tmp_path / "scenario.yaml") == (
        f"{tmp_path / 'legs.csv'}: row 3: column helper: unknown helper 'H99'"
    )


def test_scenario_loader_reads_error_locations_as_data() -> None:
    """The loader places matcher errors from ``ProblemError``'s fields: it uses no regular
    expression and does not take the matcher's messages apart."""
    import api.planner.scenario.load as load
    import api.planner.scenario.variants as variants

    for module in (load, variants):
        text = Path(module.__file__ or "").read_text(encoding="utf-8")
        assert "import re\n" not in text and "re.compile" not in text, module.__name__
        assert '.replace("field \'"' not in text, module.__name__
