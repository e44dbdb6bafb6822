"""Problem data for one street on one date: catalogue, helpers, residents, orders, travel.

Everything here is immutable and validated. Times are minutes after midnight of the problem's
date (0..1440). Bad input raises ``pydantic.ValidationError`` whose message names the offending id
and field, e.g. ``order 'o7': field 'item': unknown catalogue item 'X99'``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from matcher.errors import ProblemError

MINUTES_PER_DAY = 1440

Minute = Annotated[int, Field(ge=0, le=MINUTES_PER_DAY)]
Id = Annotated[str, Field(min_length=1, max_length=64)]


class Frozen(BaseModel):
    """The one immutable base of the matcher's data (problem, parameters, results): fields cannot
    be set after validation, unknown fields are refused. Variants are made with ``replace``."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class HelperKind(StrEnum):
    RETIRED_CADRE = "retired_cadre"
    DOCTOR = "doctor"
    NURSE = "nurse"
    SHOPKEEPER = "shopkeeper"
    TEACHER = "teacher"
    PARTY_MEMBER = "party_member"
    WARM_HEARTED_RESIDENT = "warm_hearted_resident"
    DELIVERY_RIDER = "delivery_rider"
    LAWYER = "lawyer"
    TRADESPERSON = "tradesperson"
    STUDENT_VOLUNTEER = "student_volunteer"


class ResidentCategory(StrEnum):
    LIVING_ALONE = "living_alone"
    POOR_HOUSEHOLD = "poor_household"
    LOST_ONLY_CHILD = "lost_only_child"
    DISABILITY = "disability"
    LEFT_BEHIND_CHILD = "left_behind_child"
    EMPTY_NEST_ELDERLY = "empty_nest_elderly"
    VETERAN = "veteran"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"


# ----------------------------------------------------------------------------- catalogue


class Skill(Frozen):
    code: Id
    name_zh: str
    name_en: str


class Category(Frozen):
    code: Id
    name_zh: str
    name_en: str
    paid: bool


class ServiceItem(Frozen):
    """One catalogue entry. Every team member holds ``required_skills``; at least one holds
    ``lead_skill`` when it is set."""

    code: Id
    name_zh: str
    name_en: str
    category: Id
    paid: bool
    required_skills: frozenset[str] = frozenset()
    lead_skill: str | None = None
    duration_min: int = Field(gt=0, le=MINUTES_PER_DAY)
    team_size: int = Field(default=1, ge=1, le=10)
    max_distance_km: float | None = Field(default=None, gt=0)
    points: int = Field(default=0, ge=0)


class Catalogue(Frozen):
    skills: tuple[Skill, ...]
    categories: tuple[Category, ...]
    items: tuple[ServiceItem, ...]

    @model_validator(mode="after")
    def _check_references(self) -> Catalogue:
        _require_unique("skill", [s.code for s in self.skills])
        _require_unique("category", [c.code for c in self.categories])
        _require_unique("item", [i.code for i in self.items])
        skills = self.skill_codes
        categories = {c.code: c for c in self.categories}
        for item in self.items:
            code = item.code
            if item.category not in categories:
                what = f"unknown category {item.category!r}"
                raise ProblemError("item", code, "category", what, value=item.category)
            if categories[item.category].paid != item.paid:
                raise ProblemError("item", code, "paid", "differs from its category")
            for skill in sorted(item.required_skills):
                if skill not in skills:
                    what = f"unknown skill {skill!r}"
                    raise ProblemError("item", code, "required_skills", what, value=skill)
            if item.lead_skill is not None and item.lead_skill not in skills:
                what = f"unknown skill {item.lead_skill!r}"
                raise ProblemError("item", code, "lead_skill", what, value=item.lead_skill)
        return self

    @property
    def skill_codes(self) -> frozenset[str]:
        return frozenset(s.code for s in self.skills)

    def item(self, code: str) -> ServiceItem:
        return self._items_by_code[code]

    def category(self, code: str) -> Category:
        return next(c for c in self.categories if c.code == code)

    @cached_property
    def _items_by_code(self) -> dict[str, ServiceItem]:
        return {i.code: i for i in self.items}


# ----------------------------------------------------------------------------- people


class Location(Frozen):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class TimeWindow(Frozen):
    start: Minute
    end: Minute

    @model_validator(mode="after")
    def _check_order(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def length(self) -> int:
        return self.end - self.start


class Helper(Frozen):
    """A resource-type resident who accepts orders."""

    id: Id
    kind: HelperKind
    location: Location
    skills: frozenset[str] = frozenset()
    availability: tuple[TimeWindow, ...] = (TimeWindow(start=0, end=MINUTES_PER_DAY),)
    max_orders: int = Field(default=3, ge=0)
    max_minutes: int = Field(default=240, ge=0, le=10**7)
    radius_km: float = Field(default=3.0, gt=0)
    languages: frozenset[str] = frozenset({"zh"})
    gender: Gender | None = None
    blocked_residents: frozenset[str] = frozenset()
    committed_minutes: int = Field(default=0, ge=0, le=10**7)
    speed_kmh: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_windows(self) -> Helper:
        ordered = sorted(self.availability, key=lambda w: w.start)
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                raise ProblemError("helper", self.id, "availability", "windows overlap")
        return self


class Resident(Frozen):
    """A service-type resident who places orders."""

    id: Id
    category: ResidentCategory
    location: Location
    priority_weight: float = Field(default=1.0, gt=0, le=100)
    circle: tuple[str, ...] = ()
    # Each circle member's continuity multiplier, aligned with ``circle`` (empty: all 1.0);
    # good scores raise it (``matcher.circles``, ``matcher.weights.continuity_units``).
    circle_weights: tuple[Annotated[float, Field(ge=1.0, le=100)], ...] = ()
    preferred_gender: Gender | None = None
    language: str | None = None

    @model_validator(mode="after")
    def _check_circle_weights(self) -> Resident:
        if self.circle_weights and len(self.circle_weights) != len(self.circle):
            raise ProblemError("resident", self.id, "circle_weights", "not one per circle member")
        return self


class Order(Frozen):
    """One service ordered by a resident for the problem's date.

    Timed orders have a ``window``; with ``flexible_start`` the visit may start anywhere such
    that it ends by ``window.end``, otherwise it starts at ``window.start``. Untimed orders (no
    window) may be done any time that day and only consume the helpers' capacity.
    """

    id: Id
    resident: Id
    item: Id
    date: dt.date
    window: TimeWindow | None = None
    flexible_start: bool = False
    duration_min: int | None = Field(default=None, ge=0, le=MINUTES_PER_DAY)
    team_size: int | None = Field(default=None, ge=1, le=10)
    priority: int = Field(default=1, ge=1, le=5)
    days_waited: int = Field(default=0, ge=0)
    pinned: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- travel


class GeoTravel(Frozen):
    """Great-circle distance times a detour factor, at a walking or cycling speed."""

    kind: Literal["geo"] = "geo"
    detour_factor: float = Field(default=1.3, ge=1.0, le=5.0)
    speed_kmh: float = Field(default=12.0, gt=0, le=120)


class TravelLeg(Frozen):
    helper: Id
    order: Id
    km_round_trip: float = Field(ge=0)
    minutes_round_trip: int = Field(ge=0, le=10**7)


class MatrixTravel(Frozen):
    """Explicit round-trip km and minutes per helper-order pair; absent pairs are infeasible."""

    kind: Literal["matrix"] = "matrix"
    legs: tuple[TravelLeg, ...]


Travel = Annotated[GeoTravel | MatrixTravel, Field(discriminator="kind")]


# ----------------------------------------------------------------------------- problem


class Problem(Frozen):
    """One street's matching problem for one date."""

    date: dt.date
    catalogue: Catalogue
    helpers: tuple[Helper, ...]
    residents: tuple[Resident, ...]
    orders: tuple[Order, ...]
    travel: Travel = GeoTravel()

    @model_validator(mode="after")
    def _check_references(self) -> Problem:
        _require_unique("helper", [h.id for h in self.helpers])
        _require_unique("resident", [r.id for r in self.residents])
        _require_unique("order", [o.id for o in self.orders])
        self._check_helpers()
        self._check_residents()
        self._check_orders()
        if isinstance(self.travel, MatrixTravel):
            self._check_matrix(self.travel)
        return self

    def _check_helpers(self) -> None:
        skills = self.catalogue.skill_codes
        residents = {r.id for r in self.residents}
        for helper in self.helpers:
            for skill in sorted(helper.skills):
                if skill not in skills:
                    what = f"unknown skill {skill!r}"
                    raise ProblemError("helper", helper.id, "skills", what, value=skill)
            for resident in sorted(helper.blocked_residents):
                if resident not in residents:
                    what = f"unknown resident {resident!r}"
                    field = "blocked_residents"
                    raise ProblemError("helper", helper.id, field, what, value=resident)

    def _check_residents(self) -> None:
        helpers = {h.id for h in self.helpers}
        for resident in self.residents:
            for helper in resident.circle:
                if helper not in helpers:
                    what = f"unknown helper {helper!r}"
                    raise ProblemError("resident", resident.id, "circle", what, value=helper)

    def _check_orders(self) -> None:
        helpers = {h.id for h in self.helpers}
        residents = {r.id for r in self.residents}
        items = {i.code: i for i in self.catalogue.items}
        for order in self.orders:
            self._check_order(order, helpers, residents, items)

    def _check_order(
        self,
        order: Order,
        helpers: set[str],
        residents: set[str],
        items: dict[str, ServiceItem],
    ) -> None:
        def bad(field: str, what: str, value: str | None = None) -> ProblemError:
            return ProblemError("order", order.id, field, what, value=value)

        if order.resident not in residents:
            raise bad("resident", f"unknown resident {order.resident!r}")
        if order.item not in items:
            raise bad("item", f"unknown catalogue item {order.item!r}")
        if order.date != self.date:
            raise bad("date", f"{order.date} is not the problem date")
        duration = order_duration(order, items[order.item])
        if order.window is not None and order.window.length < duration:
            what = f"{order.window.length} min is shorter than the {duration} min service"
            raise bad("window", what)
        if order.flexible_start and order.window is None:
            raise bad("flexible_start", "needs a window")
        team = order_team_size(order, items[order.item])
        if len(set(order.pinned)) != len(order.pinned):
            raise bad("pinned", "a helper is pinned twice")
        if len(order.pinned) > team:
            raise bad("pinned", f"more helpers than the team size {team}")
        for helper in order.pinned:
            if helper not in helpers:
                raise bad("pinned", f"unknown helper {helper!r}", helper)

    def _check_matrix(self, matrix: MatrixTravel) -> None:
        helpers = {h.id for h in self.helpers}
        orders = {o.id for o in self.orders}
        seen: set[tuple[str, str]] = set()
        for index, leg in enumerate(matrix.legs):
            label = f"travel leg {index} ({leg.helper!r}, {leg.order!r})"
            if leg.helper not in helpers:
                what = f"unknown helper {leg.helper!r}"
                raise ProblemError("travel leg", index, "helper", what, label=label)
            if leg.order not in orders:
                what = f"unknown order {leg.order!r}"
                raise ProblemError("travel leg", index, "order", what, label=label)
            if (leg.helper, leg.order) in seen:
                raise ProblemError("travel leg", index, None, "duplicate pair", label=label)
            seen.add((leg.helper, leg.order))

    # Lookups used by solvers, explanations and the verifier.

    def helper(self, helper_id: str) -> Helper:
        return self._helpers_by_id[helper_id]

    def resident(self, resident_id: str) -> Resident:
        return self._residents_by_id[resident_id]

    def order(self, order_id: str) -> Order:
        return self._orders_by_id[order_id]

    def item_of(self, order: Order) -> ServiceItem:
        return self.catalogue.item(order.item)

    def duration(self, order: Order) -> int:
        return order_duration(order, self.item_of(order))

    def team_size(self, order: Order) -> int:
        return order_team_size(order, self.item_of(order))

    @cached_property
    def _helpers_by_id(self) -> dict[str, Helper]:
        return {h.id: h for h in self.helpers}

    @cached_property
    def _residents_by_id(self) -> dict[str, Resident]:
        return {r.id: r for r in self.residents}

    @cached_property
    def _orders_by_id(self) -> dict[str, Order]:
        return {o.id: o for o in self.orders}


def order_duration(order: Order, item: ServiceItem) -> int:
    return item.duration_min if order.duration_min is None else order.duration_min


def order_team_size(order: Order, item: ServiceItem) -> int:
    return item.team_size if order.team_size is None else order.team_size


def _require_unique(kind: str, ids: list[str]) -> None:
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise ProblemError(kind, duplicates[0], "id", "duplicate id", duplicate=True)


Model = TypeVar("Model", bound=BaseModel)


def replace(model: Model, **changes: Any) -> Model:
    """A validated copy of ``model`` with ``changes`` applied (variants are made this way).

    Unlike ``model_copy(update=...)`` this re-runs validation and drops cached lookups.
    """
    data = {name: getattr(model, name) for name in type(model).model_fields}
    return type(model).model_validate({**data, **changes})
