"""Reading a scenario file (YAML plus the CSV tables it names) and building its base street.

Every problem with the input raises ``ScenarioError`` whose text names the file, the place
(``street.explicit.helpers[12].skills[0]``, ``helpers.csv: row 4: column skills`` or a YAML line)
and what is wrong.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from api.i18n import format_number
from api.i18n import gettext as _
from api.planner.scenario.messages import pydantic_message
from api.planner.scenario.schema import (
    MAX_CSV_BYTES,
    MAX_ROWS,
    HelperEntry,
    MatrixTravelFile,
    OrderEntry,
    ResidentEntry,
    Scenario,
)
from api.services.files import (
    decode_utf8,
    file_errors,
    inside_folder,
    load_yaml,
    read_regular_file,
)
from matcher.catalogue import field_path, load_catalogue
from matcher.errors import ProblemError
from matcher.generator import StreetLayout, generate_street_with_layout, preset
from matcher.generator import StreetSpec as Spec
from matcher.model import (
    MINUTES_PER_DAY,
    GeoTravel,
    Helper,
    Location,
    MatrixTravel,
    Order,
    Problem,
    Resident,
    TimeWindow,
    TravelLeg,
)

_ROW_MODELS: dict[str, type[BaseModel]] = {
    "helpers": HelperEntry,
    "residents": ResidentEntry,
    "orders": OrderEntry,
    "legs": TravelLeg,
}
_SECTIONS = {"helper": "helpers", "resident": "residents", "order": "orders"}
_SECTION_NAMES = ("helpers", "residents", "orders")

Row = TypeVar("Row")
Made = TypeVar("Made")


class ScenarioError(ValueError):
    """A scenario file cannot be read or does not describe a valid scenario; ``str`` is the
    whole message for the user."""


# ----------------------------------------------------------------------------- reading


def load_scenario(path: Path) -> Scenario:
    """The scenario in ``path`` with its CSV tables read; raises ``ScenarioError``."""
    path = Path(path)
    data = load_yaml(path, ScenarioError)
    if not isinstance(data, dict):
        raise ScenarioError(
            _(
                "%(path)s: expected a mapping at the top, found %(found)s",
                path=path,
                found=type(data).__name__,
            )
        )
    street = data.get("street")
    explicit = street.get("explicit") if isinstance(street, dict) else None
    tables = _read_tables(path, explicit) if isinstance(explicit, dict) else {}
    try:
        scenario = Scenario.model_validate({**data, "source": path, "tables": tables})
    except ValidationError as error:
        raise ScenarioError(_describe(path, error)) from error
    _check_variant_names(scenario)
    if scenario.street.generated is None and scenario.street.explicit is None:
        raise ScenarioError(_("%(path)s: street: give 'generated', 'explicit' or both", path=path))
    if scenario.street.generated is None:
        base_problem(scenario)  # explicit streets are small: catch bad references now
    return scenario


def _read_tables(path: Path, explicit: dict[str, Any]) -> dict[str, str]:
    """Replace CSV paths in ``explicit`` by validated-later rows; returns section -> CSV name.
    A CSV must lie in the scenario file's folder (or below it)."""
    tables: dict[str, str] = {}
    sections = [(explicit, name, f"street.explicit.{name}") for name in _SECTION_NAMES]
    travel = explicit.get("travel")
    if isinstance(travel, dict):
        sections.append((travel, "legs", "street.explicit.travel.legs"))
    for holder, section, field in sections:
        value = holder.get(section)
        if isinstance(value, str):
            table = inside_folder(path.parent, value, f"{path}: {field}", ScenarioError)
            rows = read_csv(table, _ROW_MODELS[section], MAX_ROWS[section], path.parent / value)
            holder[section] = rows
            tables[section] = value
    return tables


def read_csv(
    path: Path, row_model: type[BaseModel], max_rows: int, shown: Path
) -> list[dict[str, Any]]:
    """The rows of the CSV table ``path`` (a regular UTF-8 file of at most ``MAX_CSV_BYTES``,
    at most ``max_rows`` rows), checked against ``row_model`` (empty cells take defaults).
    Errors name the file (as ``shown``), row, column and reason, never a cell's text."""
    text = decode_utf8(read_regular_file(path, MAX_CSV_BYTES, ScenarioError), shown, ScenarioError)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        columns = [column.strip() for column in next(reader, [])]
        _check_columns(shown, columns, row_model)
        rows: list[dict[str, Any]] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, as csv.DictReader skips them
            if len(rows) >= max_rows:
                raise ScenarioError(
                    _(
                        "%(path)s: more than %(limit)s rows; the limit is %(limit)s",
                        path=shown,
                        limit=format_number(max_rows),
                    )
                )
            if len(cells) > len(columns):
                raise ScenarioError(
                    _(
                        "%(path)s: row %(row)s: %(cells)s cells but the header has %(columns)s "
                        "columns",
                        path=shown,
                        row=reader.line_num,
                        cells=len(cells),
                        columns=len(columns),
                    )
                )
            given = zip(columns, cells, strict=False)  # short rows: missing cells are empty
            rows.append({k: v.strip() for k, v in given if v.strip()})
    except csv.Error as error:
        raise ScenarioError(
            _(
                "%(path)s: row %(row)s: not a readable CSV row (%(error)s)",
                path=shown,
                row=reader.line_num,
                error=error,
            )
        ) from None
    problems = []
    for index, row in enumerate(rows):
        try:
            row_model.model_validate(row)
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                column = str(detail["loc"][0]) if detail["loc"] else "?"
                problems.append(
                    _(
                        "row %(row)s: column %(column)s: %(message)s",
                        row=index + 2,
                        column=column,
                        message=_message(detail, echo=False),
                    )
                )
    if problems:
        raise ScenarioError(file_errors(shown, problems))
    return rows


def _check_columns(path: Path, columns: list[str], row_model: type[BaseModel]) -> None:
    """Header names are the model's fields; an unknown one is named by its position only."""
    known = list(row_model.model_fields)
    for number, column in enumerate(columns, start=1):
        if column not in known:
            raise ScenarioError(
                _(
                    "%(path)s: row 1: column %(number)s is not a known column; columns are "
                    "%(known)s",
                    path=path,
                    number=number,
                    known=", ".join(known),
                )
            )
        if columns.index(column) != number - 1:
            raise ScenarioError(
                _("%(path)s: row 1: column %(column)s appears twice", path=path, column=column)
            )
    missing = [n for n, f in row_model.model_fields.items() if f.is_required() and n not in columns]
    if missing:
        raise ScenarioError(
            _("%(path)s: row 1: missing column %(column)s", path=path, column=repr(missing[0]))
        )


# ----------------------------------------------------------------------------- messages


def _message(detail: Any, echo: bool = True) -> str:
    """Pydantic's message in the reader's language (``messages``); with ``echo`` the rejected
    value too (a CSV cell is never echoed)."""
    message = pydantic_message(detail)
    if not echo:
        return message
    if "input" in detail and detail["type"] not in ("missing", "extra_forbidden", "value_error"):
        message = _("%(message)s (got %(value)s)", message=message, value=repr(detail["input"]))
    return message


def _describe(path: Path, error: ValidationError) -> str:
    lines = []
    for detail in error.errors(include_url=False):
        loc = tuple(part for part in detail["loc"] if part not in ("rows", "csv", "geo", "matrix"))
        lines.append(f"{field_path(loc) or '<scenario>'}: {_message(detail)}")
    return file_errors(path, lines)


def _check_variant_names(scenario: Scenario) -> None:
    seen: set[str] = set()
    for index, variant in enumerate(scenario.variants):
        if variant.name in seen or variant.name == "base":
            raise ScenarioError(
                _(
                    "%(path)s: variants[%(index)s].name: %(name)s is used twice ('base' is the "
                    "unchanged scenario)",
                    path=scenario.source,
                    index=index,
                    name=repr(variant.name),
                )
            )
        seen.add(variant.name)


def locate_problem_error(scenario: Scenario, error: ValidationError, where: str) -> str:
    """A ``Problem`` validation error placed in the file: an explicit row when the matcher's
    ``ProblemError`` names one (its kind, id and field, read as data), otherwise ``where``
    (e.g. ``street`` or ``variants[1]``)."""
    problem = ProblemError.of(error)
    if problem is not None:
        placed = _place_reference(scenario, problem) or _place_leg(scenario, problem)
        if placed is not None:
            return placed
        return f"{scenario.source}: {where}: {problem}"
    detail = error.errors(include_url=False)[0]
    return f"{scenario.source}: {where}: {_message(detail, echo=False)}"


def _place_reference(scenario: Scenario, error: ProblemError) -> str | None:
    explicit = scenario.street.explicit
    section = _SECTIONS.get(error.kind or "")
    if explicit is None or section is None or error.field is None:
        return None
    rows = getattr(explicit, section)
    indices = [i for i, row in enumerate(rows) if row.id == error.id]
    if not indices:
        return None
    index = indices[-1] if error.duplicate else indices[0]
    field = error.field + _list_position(getattr(rows[index], error.field, None), error.value)
    where = _("%(what)s (in %(kind)s %(id)s)", what=error.what, kind=error.kind, id=repr(error.id))
    return _row_place(scenario, section, index, field, where)


def _list_position(values: object, value: str | None) -> str:
    """``[i]`` when ``value`` is found at position i of the list ``values``."""
    if value is None or not isinstance(values, list) or value not in values:
        return ""
    return f"[{values.index(value)}]"


def _place_leg(scenario: Scenario, error: ProblemError) -> str | None:
    explicit = scenario.street.explicit
    if error.kind != "travel leg" or not isinstance(error.id, int):
        return None
    if explicit is None or not isinstance(explicit.travel, MatrixTravelFile):
        return None
    return _row_place(scenario, "legs", error.id, error.field, error.what)


def _row_place(scenario: Scenario, section: str, index: int, field: str | None, what: str) -> str:
    table = scenario.tables.get(section)
    if table is not None:
        path = scenario.source.parent / table
        if field:
            column = field.split("[")[0]
            return _(
                "%(path)s: row %(row)s: column %(column)s: %(message)s",
                path=path,
                row=index + 2,
                column=column,
                message=what,
            )
        return _("%(path)s: row %(row)s: %(message)s", path=path, row=index + 2, message=what)
    prefix = "street.explicit.travel.legs" if section == "legs" else f"street.explicit.{section}"
    suffix = f".{field}" if field else ""
    return f"{scenario.source}: {prefix}[{index}]{suffix}: {what}"


# ----------------------------------------------------------------------------- base problem


def street_spec(scenario: Scenario) -> Spec | None:
    """The generator spec: the preset (if any) with the file's fields laid over it."""
    generated = scenario.street.generated
    if generated is None:
        return None
    fields = generated.model_fields_set - {"preset"}
    overrides = generated.model_dump(include=fields)
    base = preset(generated.preset, seed=generated.seed) if generated.preset else Spec()
    base_data = {**base.model_dump(), "date": scenario.date}
    return Spec.model_validate({**base_data, **overrides})


def base_problem(scenario: Scenario) -> tuple[Problem, StreetLayout | None]:
    """The unchanged street of ``scenario``; raises ``ScenarioError`` on bad references."""
    spec = street_spec(scenario)
    try:
        generated = _generate(scenario, spec)
        return _combine(scenario, generated), (generated[1] if generated else None)
    except ValidationError as error:
        raise ScenarioError(locate_problem_error(scenario, error, "street")) from error


def _generate(scenario: Scenario, spec: Spec | None) -> tuple[Problem, StreetLayout] | None:
    try:
        return generate_street_with_layout(spec) if spec is not None else None
    except ValidationError:
        raise
    except ProblemError as error:  # the generator's own checks, e.g. an unknown skill_boost skill
        field = f".{error.field}" if error.field else ""
        raise ScenarioError(f"{scenario.source}: street.generated{field}: {error.what}") from error


def _combine(scenario: Scenario, generated: tuple[Problem, StreetLayout] | None) -> Problem:
    explicit = scenario.street.explicit
    if generated is not None and explicit is None:
        return generated[0]
    assert explicit is not None
    helpers = _rows(scenario, "helpers", explicit.helpers, helper_from_entry)
    residents = _rows(scenario, "residents", explicit.residents, resident_from_entry)
    orders = _rows(scenario, "orders", explicit.orders, lambda row: order_from_entry(row, scenario))
    travel: GeoTravel | MatrixTravel = GeoTravel()
    if isinstance(explicit.travel, MatrixTravelFile):
        travel = MatrixTravel(legs=tuple(explicit.travel.legs))
    elif explicit.travel is not None:
        travel = GeoTravel(**explicit.travel.model_dump(exclude={"kind"}))
    if generated is not None:
        base = generated[0]
        helpers, residents = base.helpers + helpers, base.residents + residents
        orders = base.orders + orders
        travel = travel if explicit.travel is not None else base.travel
        catalogue = base.catalogue
    else:
        catalogue = load_catalogue()
    for section, rows in (("helpers", helpers), ("residents", residents), ("orders", orders)):
        if len(rows) > MAX_ROWS[section]:
            raise ScenarioError(
                _(
                    "%(path)s: street: %(total)s %(section)s in all (generated and explicit); "
                    "the limit is %(limit)s",
                    path=scenario.source,
                    total=format_number(len(rows)),
                    section=section,
                    limit=format_number(MAX_ROWS[section]),
                )
            )
    return Problem(
        date=scenario.date, catalogue=catalogue, helpers=helpers, residents=residents,
        orders=orders, travel=travel,
    )  # fmt: skip


def _set(row: BaseModel, *names: str) -> dict[str, Any]:
    """The optional fields the row actually gives, so the model's defaults apply otherwise."""
    return {name: getattr(row, name) for name in names if getattr(row, name) is not None}


def _rows(scenario: Scenario, section: str, rows: Sequence[Row], make: Callable[[Row], Made]
          ) -> tuple[Made, ...]:  # fmt: skip
    """``make`` applied to every row; a row the model rejects is named by its place in the file
    (or CSV row and column), e.g. ``street.explicit.helpers[3].max_orders``."""
    built = []
    for index, row in enumerate(rows):
        try:
            built.append(make(row))
        except ValidationError as error:
            detail = error.errors(include_url=False)[0]
            field = ".".join(str(part) for part in detail["loc"]) or None
            what = pydantic_message(detail)
            raise ScenarioError(_row_place(scenario, section, index, field, what)) from error
    return tuple(built)


def helper_from_entry(entry: HelperEntry) -> Helper:
    return Helper(
        id=entry.id, kind=entry.kind, location=Location(lat=entry.lat, lon=entry.lon),
        skills=frozenset(entry.skills), availability=_windows(entry.availability),
        languages=frozenset(entry.languages), gender=entry.gender,
        blocked_residents=frozenset(entry.blocked_residents),
        **_set(entry, "max_orders", "max_minutes", "radius_km", "committed_minutes", "speed_kmh"),
    )  # fmt: skip


def _windows(windows: list[TimeWindow]) -> tuple[TimeWindow, ...]:
    return tuple(windows) or (TimeWindow(start=0, end=MINUTES_PER_DAY),)


def resident_from_entry(entry: ResidentEntry) -> Resident:
    return Resident(
        id=entry.id, category=entry.category, location=Location(lat=entry.lat, lon=entry.lon),
        circle=tuple(entry.circle), preferred_gender=entry.preferred_gender,
        language=entry.language, **_set(entry, "priority_weight"),
    )  # fmt: skip


def order_from_entry(entry: OrderEntry, scenario: Scenario) -> Order:
    return Order(
        id=entry.id, resident=entry.resident, item=entry.item, date=scenario.date,
        window=entry.window, flexible_start=entry.flexible_start, priority=entry.priority,
        days_waited=entry.days_waited, pinned=tuple(entry.pinned),
        **_set(entry, "duration_min", "team_size"),
    )  # fmt: skip
