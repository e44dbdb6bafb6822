"""The ledger (台账) as the API and the importer see it: helpers and residents in and out.

Limits live here once, as annotated types, so the API body, a PATCH and an imported row are
checked alike. Staff read the ``full`` view; planners the ``public`` view, which leaves out every
personal field (name, phone, address, ID-card tail, exact location, circle and blocked lists).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from api.i18n import gettext as _
from api.services.paging import Page
from api.services.types import Id, UtcDateTime
from matcher.model import Gender, HelperKind, ResidentCategory

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Phone = Annotated[str, Field(max_length=32, pattern=r"^[0-9+\-() ]*$")]
Address = Annotated[str, Field(max_length=300)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]
RadiusKm = Annotated[float, Field(gt=0, le=100)]
MaxOrders = Annotated[int, Field(ge=0, le=50)]
MaxMinutes = Annotated[int, Field(ge=0, le=1440)]
SpeedKmh = Annotated[float, Field(gt=0, le=80)]
Minute = Annotated[int, Field(ge=0, le=1440)]
Window = tuple[Minute, Minute]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,8}$")]
IdCardTail = Annotated[str, Field(pattern=r"^([0-9]{3}[0-9X])?$")]
PriorityWeight = Annotated[float, Field(gt=0, le=100)]
# A helper may widen their own radius only this far (staff may set up to RadiusKm's limit).
SELF_MAX_RADIUS_KM = 20.0
ALL_DAY: list[Window] = [(0, 1440)]


def check_windows(windows: list[Window] | None) -> list[Window] | None:
    """Windows sorted by start; each must end after it starts and none may overlap."""
    if windows is None:
        return None
    ordered = sorted(windows)
    for start, end in ordered:
        if end <= start:
            raise ValueError(
                _("window %(start)s-%(end)s ends before it starts", start=start, end=end)
            )
    for (_start, end), (start, _end) in itertools.pairwise(ordered):
        if start < end:
            raise ValueError(_("windows overlap"))
    return ordered


def upper_x(value: object) -> object:
    """ID-card tails end in a digit or X; accept a lower-case x."""
    return value.strip().upper() if isinstance(value, str) else value


class _NoNulls(BaseModel):
    """A PATCH body: fields left out stay as they are; ``null`` clears only nullable fields."""

    model_config = ConfigDict(extra="forbid")
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError(_("may not be null"))
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Say what the validator does: ``null`` only where ``NULLABLE`` allows it."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name, field in schema.get("properties", {}).items():
            if name not in cls.NULLABLE and "anyOf" in field:
                field["anyOf"] = [kind for kind in field["anyOf"] if kind != {"type": "null"}]
                if len(field["anyOf"]) == 1:
                    field.update(field.pop("anyOf")[0])
        return schema

    def changes(self) -> dict[str, Any]:
        """The fields sent, JSON-ready (enums as strings, windows as lists)."""
        return self.model_dump(mode="json", include=set(self.model_fields_set))


# ----------------------------------------------------------------------------- helpers


class HelperIn(BaseModel):
    """A new helper. ``skills`` are catalogue codes; availability is [[start, end], …] in minutes
    after local midnight."""

    model_config = ConfigDict(extra="forbid")
    code: Code
    community_id: Id
    grid_id: Id | None = None
    building_id: Id | None = None  # a building (楼栋) of the grid
    name: Name
    phone: Phone = ""
    address: Address = ""
    kind: HelperKind
    skills: list[str] = []
    lat: Lat
    lon: Lon
    radius_km: RadiusKm = 3.0
    max_orders: MaxOrders = 3
    max_minutes: MaxMinutes = 240
    availability: list[Window] = Field(default_factory=lambda: list(ALL_DAY))
    languages: list[Language] = Field(default_factory=lambda: ["zh"])
    gender: Gender | None = None
    speed_kmh: SpeedKmh | None = None
    blocked_residents: list[str] = []

    _windows = field_validator("availability")(check_windows)


class HelperPatch(_NoNulls):
    """Changes to a helper (staff). The ledger code stays."""

    NULLABLE = frozenset({"grid_id", "building_id", "gender", "speed_kmh"})
    community_id: Id | None = None
    grid_id: Id | None = None
    building_id: Id | None = None
    name: Name | None = None
    phone: Phone | None = None
    address: Address | None = None
    kind: HelperKind | None = None
    skills: list[str] | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    radius_km: RadiusKm | None = None
    max_orders: MaxOrders | None = None
    max_minutes: MaxMinutes | None = None
    availability: list[Window] | None = None
    languages: list[Language] | None = None
    gender: Gender | None = None
    speed_kmh: SpeedKmh | None = None
    blocked_residents: list[str] | None = None

    _windows = field_validator("availability")(check_windows)


class HelperSelfPatch(_NoNulls):
    """What a helper may change about themselves: phone, availability and radius."""

    phone: Phone | None = None
    availability: list[Window] | None = None
    radius_km: Annotated[float, Field(gt=0, le=SELF_MAX_RADIUS_KM)] | None = None

    _windows = field_validator("availability")(check_windows)


class _Place(BaseModel):
    id: int
    code: str
    community_id: int
    community_name: str
    grid_id: int | None
    grid_name: str | None
    active: bool


class HelperPublic(_Place):
    """A helper without personal data (planners)."""

    view: Literal["public"] = "public"
    kind: HelperKind
    skills: list[str]
    radius_km: float
    max_orders: int
    max_minutes: int
    availability: list[Window]
    languages: list[str]


class HelperOut(HelperPublic):
    """A helper with every field (staff; a helper reading their own profile)."""

    view: Literal["full"] = "full"  # type: ignore[assignment]
    street_id: int
    name: str
    phone: str
    address: str
    lat: float
    lon: float
    gender: Gender | None
    speed_kmh: float | None
    blocked_residents: list[str]
    created_at: UtcDateTime
    deactivated_at: UtcDateTime | None


HelperItem = Annotated[HelperOut | HelperPublic, Field(discriminator="view")]


@dataclass(frozen=True)
class HelperPage(Page[HelperItem]):
    """A page of helpers: ``view`` tells the full record (staff) from the public one."""

    items: list[HelperItem]


# ----------------------------------------------------------------------------- residents


class ResidentIn(BaseModel):
    """A new resident. ``circle`` lists the ledger codes of helpers they know."""

    model_config = ConfigDict(extra="forbid")
    code: Code
    community_id: Id
    grid_id: Id | None = None
    building_id: Id | None = None  # a building (楼栋) of the grid
    name: Name
    id_card_tail: IdCardTail = ""
    phone: Phone = ""
    address: Address = ""
    category: ResidentCategory
    lat: Lat
    lon: Lon
    priority_weight: PriorityWeight = 1.0
    language: Language | None = None
    preferred_gender: Gender | None = None
    circle: list[str] = []
    helper_id: Id | None = None  # the same person's helper record (资源型 too)

    _upper_x = field_validator("id_card_tail", mode="before")(upper_x)


class ResidentPatch(_NoNulls):
    """Changes to a resident (staff). The ledger code stays."""

    NULLABLE = frozenset({"grid_id", "building_id", "language", "preferred_gender"})
    community_id: Id | None = None
    grid_id: Id | None = None
    building_id: Id | None = None
    name: Name | None = None
    id_card_tail: IdCardTail | None = None
    phone: Phone | None = None
    address: Address | None = None
    category: ResidentCategory | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    priority_weight: PriorityWeight | None = None
    language: Language | None = None
    preferred_gender: Gender | None = None
    circle: list[str] | None = None

    _upper_x = field_validator("id_card_tail", mode="before")(upper_x)


class ResidentPublic(_Place):
    """A resident without personal data (planners): where and how urgent. Not their category
    (poor, disabled, lost an only child …): planners get counts per category instead."""

    view: Literal["public"] = "public"
    priority_weight: float
    language: str | None


class ResidentOut(ResidentPublic):
    """A resident with every field (staff; each read is audited)."""

    view: Literal["full"] = "full"  # type: ignore[assignment]
    category: ResidentCategory
    street_id: int
    name: str
    id_card_tail: str
    phone: str
    address: str
    lat: float
    lon: float
    preferred_gender: Gender | None
    circle: list[str]
    created_at: UtcDateTime
    deactivated_at: UtcDateTime | None


ResidentItem = Annotated[ResidentOut | ResidentPublic, Field(discriminator="view")]


@dataclass(frozen=True)
class ResidentPage(Page[ResidentItem]):
    """A page of residents: ``view`` tells the full record (staff) from the public one."""

    items: list[ResidentItem]


class CategoryCounts(BaseModel):
    """How many residents of each category are in the caller's scope (and filters)."""

    counts: dict[ResidentCategory, int]
    total: int


class ImportOut(BaseModel):
    """A successful import: records added, records updated (matched by ledger code), and the
    columns of the file that the importer does not know and left alone."""

    inserted: int
    updated: int
    ignored_columns: list[str]


class ManagedIn(BaseModel):
    """A management-type person (管理型): looked after through grid visits, never matched."""

    model_config = ConfigDict(extra="forbid")
    code: Code
    community_id: Id
    grid_id: Id | None = None
    building_id: Id | None = None
    name: Name
    phone: Phone = ""
    address: Address = ""
    note: str = Field(default="", max_length=2000)
