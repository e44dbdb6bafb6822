"""Editing a street on its staff page (``/s/street``) and downloading it as a street file.

The page never writes the database itself: ``street_file_of`` reads the street back as the
file ``qunbang street init`` would take (``StreetFile``), an edit changes that file's data, and
``edit_street`` checks the result exactly as the command checks a file (``check_street_data``)
and applies it through the same ``apply_street_file`` (same rules, same errors, an audit entry
``street.edit`` naming who). ``export_street`` is the same file as YAML, so an office can keep
its own file in step with what was edited here.

Only street-wide staff edit or export; community staff see their community read-only."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic.fields import FieldInfo
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput, Forbidden, NotFound
from api.services.ledger.street_file import (
    SettingsEntry,
    StaffEntry,
    StreetFile,
    check_street_data,
)
from api.services.ledger.street_setup import StreetInit, apply_street_file
from api.store.statuses import Role
from api.store.tables import Building, Community, Grid, Street, StreetItemRow, UserRow

WHERE = "/s/street"  # what errors name instead of a file
Data = dict[str, Any]
Edit = Callable[[Data], None]


def _editor(actor: Actor) -> int:
    """The street of a street-wide staff member; anyone else is refused."""
    if actor.role != Role.STAFF or actor.street_id is None or actor.community_id is not None:
        raise Forbidden(_("only street-wide staff change the street's set-up"))
    return actor.street_id


def street_file_of(session: Session, street_id: int) -> StreetFile:
    """The street as the file ``qunbang street init`` would take: running the command on it
    changes nothing."""
    street = session.get(Street, street_id)
    if street is None:
        raise NotFound(_("no such street"))
    communities = list(
        session.scalars(
            select(Community).where(Community.street_id == street_id).order_by(Community.code)
        )
    )
    grids: dict[int, list[Grid]] = {}
    for grid in session.scalars(
        select(Grid).where(Grid.community_id.in_([c.id for c in communities])).order_by(Grid.code)
    ):
        grids.setdefault(grid.community_id, []).append(grid)
    buildings: dict[int, list[Building]] = {}
    grid_ids = [g.id for rows in grids.values() for g in rows]
    for building in session.scalars(
        select(Building).where(Building.grid_id.in_(grid_ids)).order_by(Building.code)
    ):
        buildings.setdefault(building.grid_id, []).append(building)
    codes = {c.id: c.code for c in communities}
    grid_codes = {g.id: g.code for rows in grids.values() for g in rows}
    roles = get_args(StaffEntry.model_fields["role"].annotation)  # the roles a file names
    staff = session.scalars(
        select(UserRow)
        .where(UserRow.street_id == street_id, UserRow.role.in_(roles))
        .order_by(UserRow.username)
    )
    items = session.scalars(
        select(StreetItemRow)
        .where(StreetItemRow.street_id == street_id)
        .order_by(StreetItemRow.item)
    )
    data: Data = {
        "code": street.code,
        "name": street.name,
        "time_zone": street.time_zone,
        "settings": _settings_of(street),
        "communities": [
            {
                "code": c.code,
                "name": c.name,
                "grids": [
                    {
                        "code": g.code,
                        "name": g.name,
                        "buildings": [
                            {"code": b.code, "name": b.name} for b in buildings.get(g.id, [])
                        ],
                    }
                    for g in grids.get(c.id, [])
                ],
            }
            for c in communities
        ],
        "staff": [
            _drop_none(
                {
                    "username": u.username,
                    "name": u.display_name or None,
                    "role": u.role,
                    "community": codes.get(u.community_id) if u.community_id else None,
                    "grid": grid_codes.get(u.grid_id) if u.grid_id else None,
                }
            )
            for u in staff
        ],
        "catalogue": {
            row.item: _drop_none(
                {
                    "enabled": row.active,
                    "duration_min": row.duration_min,
                    "team_size": row.team_size,
                    "price_yuan": None if row.price_fen is None else row.price_fen / 100,
                }
            )
            for row in items
        },
    }
    # What the database holds but a file may not (e.g. an account named before the rules):
    # refused here as a file would be, naming the field and value.
    return check_street_data(data, street.code)


def _settings_of(street: Street) -> Data:
    """Each setting of the street file's model as the street has it (a setting stored
    elsewhere than the street's row keeps its default here)."""
    return {
        name: getattr(street, name)
        for name in SettingsEntry.model_fields
        if getattr(street, name, None) is not None
    }


def _drop_none(values: Data) -> Data:
    return {k: v for k, v in values.items() if v is not None}


def export_street(session: Session, actor: Actor) -> tuple[str, str]:
    """The caller's street as a street file (YAML, in the order the example file uses):
    (file name, text). Street-wide staff only."""
    street_id = _editor(actor)
    street = street_file_of(session, street_id)
    data = street.model_dump(mode="json", exclude_defaults=False)
    for entry in data["staff"]:
        for key in [k for k, v in entry.items() if v is None]:
            del entry[key]
    for code, entry in data["catalogue"].items():
        kept = {k: v for k, v in entry.items() if v is not None}
        if kept.get("enabled") is True:
            del kept["enabled"]  # the default, as the example file leaves it out
        data["catalogue"][code] = kept
    header = _("# The street file of %(name)s, as set up in Qunbang.", name=street.name)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    return f"{street.code}.yaml", f"{header}\n# qunbang street init {street.code}.yaml\n{text}"


def edit_street(session: Session, actor: Actor, edit: Edit) -> StreetInit:
    """Apply ``edit`` to the street's file and write the result as ``street init`` would, in
    the caller's transaction (committed here; rolled back on a refusal)."""
    street_id = _editor(actor)
    data = street_file_of(session, street_id).model_dump(mode="python")
    edit(data)
    try:
        street_file = check_street_data(data, WHERE)
        result = apply_street_file(session, street_file, WHERE, actor.user_id, "street.edit")
    except Exception:
        session.rollback()
        raise
    session.commit()
    return result


# ----------------------------------------------------------------------------- the edits


def _community(data: Data, code: str) -> Data:
    for entry in data["communities"]:
        if str(entry["code"]).lower() == code.lower():
            return entry  # type: ignore[no-any-return]
    raise NotFound(_("no community with code %(code)s", code=repr(code)), "community")


def _grid(data: Data, community: str, code: str) -> Data:
    for entry in _community(data, community)["grids"]:
        if str(entry["code"]).lower() == code.lower():
            return entry  # type: ignore[no-any-return]
    raise NotFound(_("no grid with code %(code)s", code=repr(code)), "grid")


def _building(data: Data, community: str, grid: str, code: str) -> Data:
    for entry in _grid(data, community, grid)["buildings"]:
        if str(entry["code"]).lower() == code.lower():
            return entry  # type: ignore[no-any-return]
    raise NotFound(_("no building with code %(code)s", code=repr(code)), "building")


@dataclass(frozen=True)
class StructurePlace:
    """A community (``grid`` empty), a grid of it (``building`` empty) or a building."""

    community: str
    grid: str = ""
    building: str = ""


def rename_place(place: StructurePlace, name: str) -> Edit:
    def edit(data: Data) -> None:
        if place.building:
            entry = _building(data, place.community, place.grid, place.building)
        elif place.grid:
            entry = _grid(data, place.community, place.grid)
        else:
            entry = _community(data, place.community)
        entry["name"] = name

    return edit


def add_place(parent: StructurePlace | None, code: str, name: str) -> Edit:
    """Add a community (``parent`` None), a grid to a community or a building to a grid."""

    def edit(data: Data) -> None:
        entry = {"code": code, "name": name}
        if parent is None:
            data["communities"].append({**entry, "grids": []})
        elif parent.grid:
            _grid(data, parent.community, parent.grid)["buildings"].append(entry)
        else:
            _community(data, parent.community)["grids"].append({**entry, "buildings": []})

    return edit


def set_names(name: str, time_zone: str) -> Edit:
    def edit(data: Data) -> None:
        data["name"] = name
        data["time_zone"] = time_zone

    return edit


def set_settings(values: Data) -> Edit:
    """The settings given (values already of the model's types: ``settings_from_form``)."""

    def edit(data: Data) -> None:
        data["settings"] = {**data["settings"], **values}

    return edit


def set_item(code: str, values: Data) -> Edit:
    """The street's setting of item ``code``: ``enabled`` and, where given (not None), a
    duration, team size and price; an item set back to the catalogue's values drops out."""

    def edit(data: Data) -> None:
        entry = {k: v for k, v in values.items() if v is not None}
        if entry.get("enabled", True) and not entry.keys() - {"enabled"}:
            data["catalogue"].pop(code, None)  # nothing of its own: the catalogue's
        else:
            data["catalogue"][code] = entry

    return edit


def add_staff(username: str, name: str, role: str, community: str | None) -> Edit:
    def edit(data: Data) -> None:
        entry: Data = {"username": username, "role": role}
        if name:
            entry["name"] = name
        if community:
            entry["community"] = community
        data["staff"].append(entry)

    return edit


# ----------------------------------------------------------------------------- settings form


@dataclass(frozen=True)
class SettingField:
    """One setting as the page shows it: name, kind (``number`` or ``check``), label (a
    message id), value and, for a number, its bounds."""

    name: str
    kind: str
    label: str
    value: Any
    low: int | None = None
    high: int | None = None


def _kind(annotation: Any) -> str:
    """How a setting of this type is edited: ``check`` (yes/no), ``number`` (whole),
    ``decimal``, ``text``, ``list`` (words separated by commas) or ``fixed`` (shown only:
    edited in the file)."""
    union = get_origin(annotation) in (Union, UnionType)
    kinds = set(get_args(annotation) if union else (annotation,)) - {type(None)}
    origin = {getattr(k, "__origin__", k) for k in kinds}
    if kinds == {bool}:
        return "check"
    if kinds == {int}:
        return "number"
    if kinds <= {int, float}:
        return "decimal"
    if kinds == {str}:
        return "text"
    if origin <= {list, tuple, set, frozenset} and all(set(get_args(k)) <= {str} for k in kinds):
        return "list"
    return "fixed"


def setting_fields(street: StreetFile) -> list[SettingField]:
    """The street's settings, each field of the settings model with its value."""
    values = street.settings.model_dump(mode="json")
    return [
        SettingField(
            name,
            _kind(info.annotation),
            info.description or name,
            values[name],
            *_bounds(info),
        )
        for name, info in SettingsEntry.model_fields.items()
    ]


def _bounds(info: FieldInfo) -> tuple[int | None, int | None]:
    low = high = None
    for rule in info.metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    return low, high


LIST_SEPARATORS = re.compile(r"[,\uff0c\u3001;\uff1b\s]+")  # also the full-width , 、 ;


def settings_from_form(form: dict[str, str]) -> Data:
    """The settings of a submitted form as the model's types: a check box is on when sent,
    a number must be a number, a list is words separated by commas (the model checks the
    rest); an empty number or text, and a setting edited only in the file, stay as they are."""
    values: Data = {}
    for name, info in SettingsEntry.model_fields.items():
        kind = _kind(info.annotation)
        if kind == "check":
            values[name] = name in form
            continue
        raw = form.get(name, "").strip()
        if kind == "fixed" or (not raw and kind != "list") or name not in form:
            continue
        if kind == "list":
            values[name] = [word for word in LIST_SEPARATORS.split(raw) if word]
            continue
        if kind == "text":
            values[name] = raw
            continue
        try:
            values[name] = int(raw) if kind == "number" else float(raw)
        except ValueError:
            raise BadInput(
                _("%(field)s: a whole number (got %(value)s)", field=name, value=repr(raw))
                if kind == "number"
                else _("%(field)s: a number (got %(value)s)", field=name, value=repr(raw)),
                name,
            ) from None
    return values
