"""The scenario file format: pydantic models of what a planner writes in YAML.

A scenario describes one street for one date, ``generated`` by the seeded street generator,
``explicit`` (people and orders inline or in CSV files beside the YAML), or both (explicit people
are added to the generated street), plus named ``variants`` and ``solver`` settings.

People and orders are flat entries (``HelperEntry``, ``ResidentEntry``, ``OrderEntry``: a scenario's
rows, named apart from the database's ``*Row`` records), the same inline and as rows of CSV files
(a CSV cell holding a list separates its items with ``;``):

- helpers: ``id, kind, lat, lon, skills, availability, max_orders, max_minutes, radius_km,
  languages, gender, blocked_residents, committed_minutes, speed_kmh``; ``availability`` is a list
  of ``HH:MM-HH:MM`` windows, e.g. ``08:00-11:30;14:00-17:00``.
- residents: ``id, category, lat, lon, priority_weight, circle, preferred_gender, language``.
- orders: ``id, resident, item, window, flexible_start, duration_min, team_size, priority,
  days_waited, pinned``; ``window`` is one ``HH:MM-HH:MM`` window or empty for an untimed order.
- travel legs (matrix travel): ``helper, order, km_round_trip, minutes_round_trip``.

Only ``id``, ``kind``/``category``, ``lat``, ``lon`` (and ``resident``, ``item`` for orders) are
required; the other columns default as in ``matcher.model``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from api.i18n import gettext as _
from matcher.generator import MAX_HELPERS, MAX_ORDERS, MAX_RESIDENTS, StreetSpec
from matcher.model import Frozen, Gender, HelperKind, ResidentCategory, TimeWindow, TravelLeg
from matcher.params import SolveParams

DEFAULT_DATE = dt.date(2026, 11, 23)
PRESET_NAMES = Literal["scarce", "plentiful", "demo", "pastoral", "tiny"]
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# Limits of the files a scenario names (README "Scenario files: limits"); the street's sizes are
# bounded by ``matcher.generator`` (MAX_HELPERS, MAX_RESIDENTS, MAX_ORDERS).
MAX_CSV_BYTES = 64 * 1024 * 1024
MAX_LEGS = 2_000_000
MAX_ROWS = {"helpers": MAX_HELPERS, "residents": MAX_RESIDENTS, "orders": MAX_ORDERS,
            "legs": MAX_LEGS}  # fmt: skip
MAX_FACTOR = 100.0  # scale_radius, scale_orders


class FileModel(Frozen):
    """A part of a scenario file: immutable, unknown keys refused (the matcher's ``Frozen``)."""


# ----------------------------------------------------------------------------- cell types


def _split_list(value: Any) -> Any:
    """``"a;b"`` -> ``["a", "b"]`` (CSV cells); lists pass through; empty cell -> empty list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def parse_window(value: Any) -> Any:
    """``"08:00-11:30"`` -> ``TimeWindow(start=480, end=690)``; mappings pass through."""
    if not isinstance(value, str):
        return value
    match = _CLOCK.match(value)
    if match is None:
        raise ValueError(_("expected a window like '08:00-11:30'"))
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if m1 > 59 or m2 > 59:
        raise ValueError(_("minutes must be 00-59"))
    return TimeWindow(start=h1 * 60 + m1, end=h2 * 60 + m2)


Names = Annotated[list[str], BeforeValidator(_split_list)]
Window = Annotated[TimeWindow, BeforeValidator(parse_window)]
Windows = Annotated[list[Window], BeforeValidator(_split_list)]


# ----------------------------------------------------------------------------- entries


class HelperEntry(FileModel):
    """One helper (resource-type resident)."""

    id: str
    kind: HelperKind
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    skills: Names = []
    availability: Windows = Field(default=["00:00-24:00"], validate_default=True)
    max_orders: int | None = None
    max_minutes: int | None = None
    radius_km: float | None = None
    languages: Names = ["zh"]
    gender: Gender | None = None
    blocked_residents: Names = []
    committed_minutes: int | None = None
    speed_kmh: float | None = None


class ResidentEntry(FileModel):
    """One service-type resident who places orders."""

    id: str
    category: ResidentCategory
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    priority_weight: float | None = None
    circle: Names = []
    preferred_gender: Gender | None = None
    language: str | None = None


class OrderEntry(FileModel):
    """One order for the scenario's date; ``window`` empty means any time that day."""

    id: str
    resident: str
    item: str
    window: Window | None = None
    flexible_start: bool = False
    duration_min: int | None = None
    team_size: int | None = None
    priority: int = 1
    days_waited: int = 0
    pinned: Names = []


def _rows_or_csv(value: Any) -> str:
    return "csv" if isinstance(value, str) else "rows"


def _listing(row: type[BaseModel]) -> Any:
    """Inline rows or a CSV path relative to the scenario file."""
    return Annotated[
        Annotated[list[row], Tag("rows")] | Annotated[str, Tag("csv")],  # type: ignore[valid-type]
        Discriminator(_rows_or_csv),
    ]


HelperList = _listing(HelperEntry)
ResidentList = _listing(ResidentEntry)
OrderList = _listing(OrderEntry)
LegList = _listing(TravelLeg)


class GeoTravelFile(FileModel):
    kind: Literal["geo"] = "geo"
    detour_factor: float = Field(default=1.3, ge=1.0, le=5.0)
    speed_kmh: float = Field(default=12.0, gt=0, le=120)


class MatrixTravelFile(FileModel):
    """Round-trip km and minutes per helper-order pair; pairs not listed cannot be matched."""

    kind: Literal["matrix"]
    legs: LegList  # type: ignore[valid-type]


TravelFile = Annotated[GeoTravelFile | MatrixTravelFile, Field(discriminator="kind")]


class ExplicitStreet(FileModel):
    helpers: HelperList = []  # type: ignore[valid-type]
    residents: ResidentList = []  # type: ignore[valid-type]
    orders: OrderList = []  # type: ignore[valid-type]
    travel: TravelFile | None = None


class GeneratedStreet(StreetSpec):
    """``matcher.generator.StreetSpec`` fields; with ``preset`` they override the preset's."""

    preset: PRESET_NAMES | None = None


class ScenarioStreet(FileModel):
    generated: GeneratedStreet | None = None
    explicit: ExplicitStreet | None = None


# ----------------------------------------------------------------------------- solver


class WeightsChange(FileModel):
    travel: float | None = Field(default=None, ge=0)
    continuity: float | None = Field(default=None, ge=0)
    fairness: float | None = Field(default=None, ge=0)
    preference: float | None = Field(default=None, ge=0)


class SolverChange(FileModel):
    time_limit_s: float | None = Field(default=None, gt=0)
    seed: int | None = Field(default=None, ge=0)
    workers: int | None = Field(default=None, ge=1, le=64)
    candidate_limit: int | None = Field(default=None, ge=1)


_DEFAULTS = SolveParams()


class Weights(FileModel):
    travel: float = Field(default=_DEFAULTS.weights.travel, ge=0)
    continuity: float = Field(default=_DEFAULTS.weights.continuity, ge=0)
    fairness: float = Field(default=_DEFAULTS.weights.fairness, ge=0)
    preference: float = Field(default=_DEFAULTS.weights.preference, ge=0)


class SolverSettings(FileModel):
    time_limit_s: float = Field(default=_DEFAULTS.time_limit_s, gt=0)
    seed: int = Field(default=_DEFAULTS.seed, ge=0)
    workers: int = Field(default=_DEFAULTS.workers, ge=1, le=64)
    candidate_limit: int | None = Field(default=_DEFAULTS.candidate_limit, ge=1)
    weights: Weights = Weights()


# ----------------------------------------------------------------------------- variants


class AddHelpers(FileModel):
    """Recruit ``count`` helpers living near a community's or grid's centre (or anywhere)."""

    count: int = Field(ge=1, le=MAX_HELPERS)
    kind: HelperKind = HelperKind.WARM_HEARTED_RESIDENT
    skills: Names = []
    community: str | None = None
    grid: str | None = None  # "第3网格" within ``community``, or the full "青山社区第3网格"
    availability: Windows = Field(default=["08:00-12:00", "14:00-18:00"], validate_default=True)
    max_orders: int = Field(default=3, ge=0)
    max_minutes: int = Field(default=240, ge=0)
    radius_km: float = Field(default=3.0, gt=0)
    languages: Names = ["zh"]
    spread_km: float = Field(default=0.3, ge=0)


class ScaleRadius(FileModel):
    """Multiply every helper's radius by ``factor``."""

    factor: float = Field(gt=0, le=MAX_FACTOR)


class ScaleOrders(FileModel):
    """Multiply the orders of one catalogue ``category`` or ``item`` by ``factor``."""

    category: str | None = None
    item: str | None = None
    factor: float = Field(ge=0, le=MAX_FACTOR)

    @model_validator(mode="after")
    def _one_target(self) -> ScaleOrders:
        if (self.category is None) == (self.item is None):
            raise ValueError(_("give exactly one of 'category' or 'item'"))
        return self


class RemoveHelpers(FileModel):
    """Remove every helper of one kind."""

    kind: HelperKind


CHANGE_KINDS = ("add_helpers", "scale_radius", "scale_orders", "remove_helpers", "set_weights",
                "set_solver")  # fmt: skip


class Change(FileModel):
    """One change, written as a mapping with a single key naming it, e.g.
    ``{scale_radius: {factor: 1.5}}``."""

    add_helpers: AddHelpers | None = None
    scale_radius: ScaleRadius | None = None
    scale_orders: ScaleOrders | None = None
    remove_helpers: RemoveHelpers | None = None
    set_weights: WeightsChange | None = None
    set_solver: SolverChange | None = None

    @model_validator(mode="before")
    @classmethod
    def _single_key(cls, data: Any) -> Any:
        if not isinstance(data, dict) or len(data) != 1 or next(iter(data)) not in CHANGE_KINDS:
            got = list(data) if isinstance(data, dict) else data
            raise ValueError(
                _(
                    "a change is a mapping with exactly one of %(kinds)s; got %(got)s",
                    kinds=", ".join(CHANGE_KINDS),
                    got=repr(got),
                )
            )
        return data

    @property
    def name(self) -> str:
        return next(kind for kind in CHANGE_KINDS if getattr(self, kind) is not None)


class Variant(FileModel):
    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    changes: list[Change] = []


# ----------------------------------------------------------------------------- file


class ScenarioFile(FileModel):
    """The top level of a scenario YAML file."""

    name: str = Field(min_length=1)
    description: str = ""
    date: dt.date = DEFAULT_DATE
    street: ScenarioStreet
    solver: SolverSettings = SolverSettings()
    variants: list[Variant] = []


class Scenario(ScenarioFile):
    """A loaded scenario: the file's content with CSV tables read into rows.

    ``source`` is the YAML file; ``tables`` maps a section (``helpers``, ``residents``,
    ``orders``, ``legs``) to the CSV file it was read from, for error messages.
    """

    source: Path = Path("<scenario>")
    tables: dict[str, str] = {}
