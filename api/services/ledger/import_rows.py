"""Checking an import's rows against the ledger: each cell read by its column, communities,
grids and skills resolved by name or code, the staff member's scope, codes repeated in the file,
and the same limits the API applies (``api.services.ledger.models``). Every problem is kept, so the
office sees all of them at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.i18n import N_
from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput
from api.services.ledger.import_columns import COLUMNS, CellError, Column, fold
from api.services.ledger.models import HelperIn, ManagedIn, ResidentIn
from api.store.tables import (
    Building,
    Community,
    Grid,
    HelperRow,
    ManagedPersonRow,
    ResidentRow,
    SkillRow,
)

TABLES: dict[str, type[HelperRow] | type[ResidentRow] | type[ManagedPersonRow]] = {
    "helpers": HelperRow,
    "residents": ResidentRow,
    "managed": ManagedPersonRow,
}
MODELS: dict[str, type[HelperIn] | type[ResidentIn] | type[ManagedIn]] = {
    "helpers": HelperIn,
    "residents": ResidentIn,
    "managed": ManagedIn,
}
# Pydantic's checks in words staff read.
PYDANTIC_REASONS = {
    "greater_than": N_("must be greater than %(gt)s"),
    "greater_than_equal": N_("must be at least %(ge)s"),
    "less_than": N_("must be less than %(lt)s"),
    "less_than_equal": N_("must be at most %(le)s"),
    "string_too_long": N_("at most %(max_length)s characters"),
    "string_too_short": N_("may not be empty"),
    "string_pattern_mismatch": N_("wrong format"),
    "missing": N_("a required value is empty"),
}


@dataclass(frozen=True)
class RowError:
    """One bad cell: spreadsheet row (the header is row 1), the header as written, and why."""

    row: int
    column: str
    reason: str


class ImportRejected(BadInput):
    """Nothing was imported; ``errors`` lists every bad cell (empty for a file-level problem)."""

    code = "import_rejected"

    def __init__(self, message: str, errors: Sequence[RowError] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


@dataclass(frozen=True)
class Header:
    row: int
    columns: dict[str, tuple[int, str]]  # field → (cell index, header as written)
    ignored: list[str]

    def written(self, name: str) -> str:
        return self.columns[name][1] if name in self.columns else name


@dataclass
class Record:
    """A good row: its validated values, the fields the file gives, and the record it updates."""

    row: int
    values: dict[str, Any]
    given: set[str]
    existing: Any = None


# ----------------------------------------------------------------------------- the rows


@dataclass
class Lookups:
    """What rows refer to, loaded once: the street's communities and grids, the catalogue's
    skills, the records the file's codes already name, and the street's helper codes. Every
    key is ``fold``-ed: codes and names compare case-insensitively (``c01`` finds ``C01``), and
    what is stored keeps its canonical case."""

    communities: dict[str, list[Community]]
    grids: dict[int, dict[str, int]]
    buildings: dict[int, dict[str, int]]  # grid id → fold(code or name) → building id
    skills: dict[str, str]
    existing: dict[str, Any]  # fold(code) → record
    helper_codes: dict[str, str] = field(default_factory=dict)  # fold(code) → code
    helper_ids: dict[str, int] = field(default_factory=dict)  # fold(code) → helper id
    linked: dict[int, str] = field(default_factory=dict)  # helper id → its resident's code

    @classmethod
    def load(cls, session: Session, actor: Actor, kind: str, codes: list[str]) -> Lookups:
        street = actor.street_id
        communities: dict[str, list[Community]] = {}
        for community in session.scalars(select(Community).where(Community.street_id == street)):
            for key in {fold(community.code), fold(community.name)}:
                communities.setdefault(key, []).append(community)
        grids: dict[int, dict[str, int]] = {}
        query = select(Grid).join(Community).where(Community.street_id == street)
        for grid in session.scalars(query):
            grids.setdefault(grid.community_id, {}).update(
                {fold(grid.code): grid.id, fold(grid.name): grid.id}
            )
        buildings: dict[int, dict[str, int]] = {}
        in_street = select(Building).join(Grid).join(Community).where(Community.street_id == street)
        for building in session.scalars(in_street):
            buildings.setdefault(building.grid_id, {}).update(
                {fold(building.code): building.id, fold(building.name): building.id}
            )
        skills: dict[str, str] = {}
        for skill in session.scalars(select(SkillRow)):
            for key in (skill.code, skill.name_zh, skill.name_en):
                skills[fold(key)] = skill.code
        table: Any = TABLES[kind]
        existing: dict[str, Any] = {}
        keys = list(dict.fromkeys(fold(code) for code in codes))
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            known = select(table).where(func.lower(table.code).in_(chunk))
            existing.update((fold(row.code), row) for row in session.scalars(known))
        helper_codes: dict[str, str] = {}
        helper_ids: dict[str, int] = {}
        linked: dict[int, str] = {}
        if kind == "residents":
            street_helpers = select(HelperRow.id, HelperRow.code).where(
                HelperRow.street_id == street
            )
            for helper_id, code in session.execute(street_helpers):
                helper_codes[fold(code)] = code
                helper_ids[fold(code)] = helper_id
            links = select(ResidentRow.helper_id, ResidentRow.code).where(
                ResidentRow.street_id == street, ResidentRow.helper_id.is_not(None)
            )
            linked = {h: code for h, code in session.execute(links) if h is not None}
        return cls(
            communities, grids, buildings, skills, existing, helper_codes, helper_ids, linked
        )


def check_rows(
    session: Session, actor: Actor, kind: str, header: Header, body: list[tuple[int, list[str]]]
) -> list[Record]:
    columns = {column.field: column for column in COLUMNS[kind]}
    code_at = header.columns["code"][0]
    codes = [_cell(columns["code"], cells, code_at) for _, cells in body]
    lookups = Lookups.load(session, actor, kind, [code for code in dict.fromkeys(codes) if code])
    records: list[Record] = []
    errors: list[RowError] = []
    first_seen: dict[str, int] = {}
    for (number, cells), code in zip(body, codes, strict=True):
        record, bad = _check_row(actor, kind, header, columns, lookups, number, cells)
        key = fold(code)
        if key and key in first_seen:
            repeats = first_seen[key]
            reason = _("code repeats row %(repeats)s", repeats=repeats)
            bad.append(RowError(number, header.written("code"), reason))
        first_seen.setdefault(key, number)
        errors += bad
        if record is not None and not bad:
            records.append(record)
    if errors:
        rows = len({error.row for error in errors})
        raise ImportRejected(
            _("%(rows)s rows have errors; nothing was imported", rows=rows),
            errors,
        )
    return records


def _cell(column: Column, cells: list[str], index: int) -> Any:
    """A cell's value, or "" when it cannot be read (the row check reports why)."""
    try:
        return column.read(cells[index] if index < len(cells) else "")
    except CellError:
        return ""


def _check_row(
    actor: Actor,
    kind: str,
    header: Header,
    columns: dict[str, Column],
    lookups: Lookups,
    number: int,
    cells: list[str],
) -> tuple[Record | None, list[RowError]]:
    """A row's record, or every reason it is bad (each naming its column)."""
    raw: dict[str, Any] = {}
    errors: list[RowError] = []
    failed: set[str] = set()

    def bad(name: str, reason: str) -> None:
        failed.add(name)
        errors.append(RowError(number, header.written(name), reason))

    for name, (index, _kind) in header.columns.items():
        try:
            raw[name] = columns[name].read(cells[index] if index < len(cells) else "")
        except CellError as error:
            bad(name, error.reason)
    existing = lookups.existing.get(fold(raw.get("code", "")))
    if existing is not None:
        raw["code"] = existing.code  # "h001" updates "H001", which keeps its case
    if existing is not None and not actor.may_see_community(
        existing.street_id, existing.community_id
    ):
        bad(
            "code",
            _("this code belongs to a record outside your scope"),
        )
    values = _resolve(actor, raw, existing, lookups, bad)
    base = {name: getattr(existing, name) for name in MODELS[kind].model_fields} if existing else {}
    try:
        model: BaseModel = MODELS[kind](**(base | values))
    except ValidationError as error:  # limits and formats; cells reported already are skipped
        for problem in error.errors():
            name = str(problem["loc"][0]).removesuffix("_id") if problem["loc"] else "code"
            if name not in failed:
                bad(name, _reason(problem))
    if errors:
        return None, errors
    return Record(number, model.model_dump(mode="json"), set(values), existing), []


def _resolve(
    actor: Actor, raw: dict[str, Any], existing: Any, lookups: Lookups, bad: Any
) -> dict[str, Any]:
    """Cell values → model fields: community and grid names → ids, skill names → codes; helper
    codes of a circle checked against the street's ledger."""
    places = ("community", "grid", "building", "helper")
    values = {name: value for name, value in raw.items() if name not in places}
    if "helper" in raw:
        values["helper_id"] = _same_helper(raw, lookups, bad)
    if "community" in raw:
        community = _community(actor, raw["community"], lookups, bad)
        if community is not None:
            values["community_id"] = community.id
            grid_id = _grid(community, raw, existing, lookups, bad)
            values["grid_id"] = grid_id
            values["building_id"] = _building(grid_id, raw, existing, lookups, bad)
    if "skills" in raw:
        unknown = [name for name in raw["skills"] if fold(name) not in lookups.skills]
        if unknown:
            bad(
                "skills",
                _("unknown skills: %(skills)s", skills=_(", ").join(unknown)),
            )
        values["skills"] = sorted({lookups.skills.get(fold(name), name) for name in raw["skills"]})
    if "circle" in raw:
        unknown = [code for code in raw["circle"] if fold(code) not in lookups.helper_codes]
        if unknown:
            bad("circle", _("unknown helper codes (%(value)s)", value=_(", ").join(unknown)))
        known = [lookups.helper_codes.get(fold(code), code) for code in raw["circle"]]
        values["circle"] = list(dict.fromkeys(known))
    return values


def _community(actor: Actor, name: str, lookups: Lookups, bad: Any) -> Community | None:
    found = lookups.communities.get(fold(name), [])
    if len(found) != 1:
        if found:
            bad("community", _("ambiguous community %(name)s", name=name))
        else:
            bad("community", _("unknown community %(name)s", name=name))
        return None
    if not actor.may_see_community(found[0].street_id, found[0].id):
        bad("community", _("community outside your scope (%(name)s)", name=name))
        return None
    return found[0]


def _grid(
    community: Community, raw: dict[str, Any], existing: Any, lookups: Lookups, bad: Any
) -> int | None:
    if "grid" not in raw:  # no grid column: keep the grid unless the person moves community
        same = existing is not None and existing.community_id == community.id
        return existing.grid_id if same else None
    if raw["grid"] is None:
        return None
    grid_id = lookups.grids.get(community.id, {}).get(fold(raw["grid"]))
    if grid_id is None:
        bad(
            "grid", _("unknown grid (%(name)s) (%(value)s)", name=community.name, value=raw["grid"])
        )
    return grid_id


def _same_helper(raw: dict[str, Any], lookups: Lookups, bad: Any) -> int | None:
    """The helper record of the same person (by code, any case): of the street, and not
    already the same person as another resident."""
    if raw["helper"] is None:
        return None
    helper_id = lookups.helper_ids.get(fold(raw["helper"]))
    if helper_id is None:
        bad("helper", _("unknown helper codes (%(value)s)", value=raw["helper"]))
        return None
    other = lookups.linked.get(helper_id)
    if other is not None and fold(other) != fold(raw.get("code") or ""):
        bad(
            "helper",
            _(
                "helper %(value)s is already the same person as resident %(code)s",
                value=raw["helper"],
                code=other,
            ),
        )
        return None
    lookups.linked[helper_id] = raw.get("code") or ""  # a second row naming it is refused
    return helper_id


def _building(
    grid_id: int | None, raw: dict[str, Any], existing: Any, lookups: Lookups, bad: Any
) -> int | None:
    """The building (code or name, any case) among the grid's; kept when the file has no
    building column and the person stays in their grid."""
    if "building" not in raw:
        same = existing is not None and existing.grid_id == grid_id
        return existing.building_id if same else None
    if raw["building"] is None:
        return None
    if grid_id is None:
        bad("building", _("a building needs its grid (%(value)s)", value=raw["building"]))
        return None
    building_id = lookups.buildings.get(grid_id, {}).get(fold(raw["building"]))
    if building_id is None:
        bad("building", _("unknown building in this grid (%(value)s)", value=raw["building"]))
    return building_id


def _reason(problem: Any) -> str:
    if problem["type"] == "value_error":
        return str(problem["ctx"]["error"])  # our own validators speak the catalogs
    ctx = {
        key: int(value) if isinstance(value, float) and value.is_integer() else value
        for key, value in problem.get("ctx", {}).items()
    }
    reason = PYDANTIC_REASONS.get(problem["type"])
    if reason is None:
        return _("invalid value (%(detail)s)", detail=problem["msg"])
    return _(reason, **ctx)
