"""The street file ``qunbang street init`` reads: what an office writes to set up its street
(name, code, time zone, settings, communities → grids → buildings, staff accounts, its own
settings of catalogue items), as pydantic models, and reading it safely.

Every problem raises ``StreetFileError`` whose text names the file, the field path
(``communities[2].grids[0].code``) and the value. The file never holds passwords (an unknown
field is refused): accounts get one when they are created, printed once."""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from api.i18n import N_
from api.i18n import gettext as _
from api.services.errors import BadInput
from api.services.files import file_errors, load_yaml
from matcher.model import Frozen, ResidentCategory

MAX_STREET_FILE_BYTES = 4 * 1024 * 1024
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$"


def _code(value: str) -> str:
    if not re.fullmatch(CODE_PATTERN, value):
        raise ValueError(_("a code is 1 to 64 letters, digits, '-', '_' or '.' (no spaces)"))
    return value


def _username(value: str) -> str:
    if not re.fullmatch(USERNAME_PATTERN, value):
        raise ValueError(_("a username is 3 to 64 letters, digits, '-', '_' or '.'"))
    return value


def _category(value: str) -> str:
    if value not in set(ResidentCategory):
        known = ", ".join(ResidentCategory)
        raise ValueError(_("a resident category is one of %(known)s", known=known))
    return value


Code = Annotated[str, AfterValidator(_code)]
Category = Annotated[str, AfterValidator(_category)]
Username = Annotated[str, AfterValidator(_username)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Explain = Callable[[Any], str]  # one of pydantic's error details -> a message for people


class StreetFileError(BadInput):
    """A street file that cannot be read or does not describe a valid street; ``message`` is
    the whole text for people (file, field path, value, reason)."""


class _Unreadable(ValueError):
    """Raised by the safe YAML reader (``api.services.files``); becomes ``StreetFileError``."""


class _Strict(Frozen):
    """Immutable and closed (``Frozen``), and strict: no value is coerced to a field's type."""

    model_config = ConfigDict(strict=True)


class BuildingEntry(_Strict):
    code: Code
    name: Name


class GridEntry(_Strict):
    code: Code
    name: Name
    buildings: list[BuildingEntry] = Field(default_factory=list, max_length=5000)


class CommunityEntry(_Strict):
    code: Code
    name: Name
    grids: list[GridEntry] = Field(default_factory=list, max_length=1000)


class StaffEntry(_Strict):
    """A staff account: street-wide, or of one community (``community``: its code); a grid
    worker (网格员) of one grid of a community (``grid``: its code in that community)."""

    username: Username
    name: Name | None = None
    role: Literal["staff", "planner", "grid_worker"] = "staff"
    community: Code | None = None
    grid: Code | None = None


class SettingsEntry(_Strict):
    """The street's settings. The staff page (``/s/street``) shows and edits each field from
    this model (its type, bounds and ``description``, a message id): a new setting added here
    comes to the page by itself."""

    order_horizon_days: int = Field(
        default=90, ge=1, le=366, description=N_("Days ahead residents may order")
    )
    review_orders: bool = Field(
        default=False, description=N_("Residents' orders wait for community staff to review")
    )
    default_deadline_hours: int = Field(
        default=72, ge=1, le=24 * 90, description=N_("Promised deadline (hours)")
    )
    # Follow-up visits (跟踪回访) by rule: every confirmed order of these resident categories, a
    # share (percent) of the others, due this many days after the visit (None: the service's
    # setting); every low score is followed up in any case.
    follow_up_categories: list[Category] = Field(
        default_factory=list,
        max_length=20,
        description=N_("Resident categories always followed up"),
    )
    follow_up_sample_percent: int = Field(
        default=0, ge=0, le=100, description=N_("Share of other visits followed up (percent)")
    )
    follow_up_days: int | None = Field(
        default=None, ge=0, le=90, description=N_("Follow-up due (days after the visit)")
    )


class ItemEntry(_Strict):
    """The street's own setting of a catalogue item; what is left out keeps the catalogue's."""

    enabled: bool = True
    duration_min: int | None = Field(default=None, ge=5, le=720)
    team_size: int | None = Field(default=None, ge=1, le=10)
    price_yuan: float | None = Field(default=None, ge=0, le=100_000)


class StreetFile(_Strict):
    code: Code
    name: Name
    time_zone: str = "Asia/Shanghai"
    settings: SettingsEntry = SettingsEntry()
    communities: list[CommunityEntry] = Field(min_length=1, max_length=500)
    staff: list[StaffEntry] = Field(default_factory=list, max_length=5000)
    catalogue: dict[Code, ItemEntry] = Field(default_factory=dict, max_length=500)


def field_path(loc: Iterable[int | str]) -> str:
    """``('communities', 2, 'grids', 0, 'code')`` -> ``communities[2].grids[0].code``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _pydantic_text(detail: Any) -> str:
    return str(detail["msg"]).removeprefix("Value error, ")


def read_street_file(path: Path, explain: Explain = _pydantic_text) -> StreetFile:
    """The street file at ``path``, checked (without the database: see ``check_catalogue``);
    ``explain`` words pydantic's errors (the command line passes its translated messages)."""
    path = Path(path)
    try:
        data = load_yaml(path, _Unreadable, MAX_STREET_FILE_BYTES)
    except _Unreadable as error:
        raise StreetFileError(str(error)) from None
    if not isinstance(data, dict):
        raise StreetFileError(
            _(
                "%(path)s: expected a mapping at the top, found %(found)s",
                path=path,
                found=type(data).__name__,
            )
        )
    return check_street_data(data, path, explain)


def check_street_data(
    data: dict[str, Any], where: Path | str, explain: Explain = _pydantic_text
) -> StreetFile:
    """``data`` (a street file's mapping, or a street's set-up as the staff page edits it)
    checked as ``qunbang street init`` checks a file; errors name ``where``, field and value."""
    try:
        street = StreetFile.model_validate(data)
    except ValidationError as error:
        lines = []
        for detail in error.errors(include_url=False):
            field = field_path(detail["loc"]) or "<street>"
            message = explain(detail)
            if "input" in detail and detail["type"] not in ("missing", "extra_forbidden"):
                message = _(
                    "%(message)s (got %(value)s)", message=message, value=_shown(detail["input"])
                )
            lines.append(f"{field}: {message}")
        raise StreetFileError(file_errors(where, lines)) from None
    lines = _cross_checks(street)
    if lines:
        raise StreetFileError(file_errors(where, lines))
    return street


def _shown(value: Any) -> str:
    """A rejected value as the message shows it (a long mapping or list is cut)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _cross_checks(street: StreetFile) -> list[str]:
    """What one field cannot say alone: codes used twice, a staff member's community, the time
    zone, prices in whole fen."""
    lines: list[str] = []

    def twice(where: str, value: str) -> None:
        lines.append(_("%(where)s: %(value)s is used twice", where=where, value=_shown(value)))

    communities: set[str] = set()
    for c, community in enumerate(street.communities):
        if community.code in communities:
            twice(f"communities[{c}].code", community.code)
        communities.add(community.code)
        grids: set[str] = set()
        for g, grid in enumerate(community.grids):
            if grid.code in grids:
                twice(f"communities[{c}].grids[{g}].code", grid.code)
            grids.add(grid.code)
            buildings: set[str] = set()
            for b, building in enumerate(grid.buildings):
                if building.code in buildings:
                    twice(f"communities[{c}].grids[{g}].buildings[{b}].code", building.code)
                buildings.add(building.code)
    usernames: set[str] = set()
    for s, staff in enumerate(street.staff):
        if staff.username in usernames:
            twice(f"staff[{s}].username", staff.username)
        usernames.add(staff.username)
        if staff.community is not None and staff.community not in communities:
            lines.append(
                _(
                    "%(where)s: no community with code %(value)s in this file",
                    where=f"staff[{s}].community",
                    value=_shown(staff.community),
                )
            )
        if staff.community is not None and staff.role == "planner":
            lines.append(
                _(
                    "%(where)s: only staff accounts belong to a community (got %(value)s)",
                    where=f"staff[{s}].community",
                    value=_shown(staff.community),
                )
            )
        lines += _grid_worker_checks(street, s, staff)
    if not _known_zone(street.time_zone):
        lines.append(
            _(
                "%(where)s: not a time zone name such as 'Asia/Shanghai' (got %(value)s)",
                where="time_zone",
                value=_shown(street.time_zone),
            )
        )
    for code, item in street.catalogue.items():
        price = item.price_yuan
        if price is not None and not math.isclose(price * 100, round(price * 100), abs_tol=1e-6):
            lines.append(
                _(
                    "%(where)s: a price has at most two decimals (got %(value)s)",
                    where=f"catalogue.{code}.price_yuan",
                    value=_shown(price),
                )
            )
    return lines


def _grid_worker_checks(street: StreetFile, index: int, staff: StaffEntry) -> list[str]:
    """A grid worker names a community and one of its grids; nobody else names a grid."""
    where = f"staff[{index}].grid"
    if staff.role != "grid_worker":
        if staff.grid is None:
            return []
        return [
            _(
                "%(where)s: only grid workers belong to a grid (got %(value)s)",
                where=where,
                value=_shown(staff.grid),
            )
        ]
    if staff.community is None or staff.grid is None:
        return [_("%(where)s: a grid worker needs a community and a grid", where=where)]
    grids = {
        grid.code
        for community in street.communities
        if community.code == staff.community
        for grid in community.grids
    }
    if staff.grid in grids:
        return []
    return [
        _(
            "%(where)s: no grid with code %(value)s in this community",
            where=where,
            value=_shown(staff.grid),
        )
    ]


def _known_zone(name: str) -> bool:
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def price_fen(price_yuan: float | None) -> int | None:
    """Yuan (two decimals at most, checked) as whole fen."""
    return None if price_yuan is None else round(price_yuan * 100)
