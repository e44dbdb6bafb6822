"""Deterministic synthetic streets (街道) for tests, demos and benchmarks.

``generate_street(spec)`` turns a ``StreetSpec`` into a validated ``Problem``: communities with
grids around a real-ish centre, helpers and residents clustered in them, and one day's orders drawn
from the residents' needs. Only ``random.Random(spec.seed)`` is used, so the same spec always gives
the same problem. ``generate_street_with_layout`` also returns where everybody lives (community and
grid), which the problem itself does not record. ``preset`` names the standard streets.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from pydantic import Field, field_validator

from matcher import generator_data as data
from matcher.catalogue import load_catalogue
from matcher.errors import ProblemError
from matcher.generator_draw import Spot, block_some, make_helpers, make_orders, make_residents
from matcher.model import (
    Catalogue,
    Frozen,
    GeoTravel,
    HelperKind,
    Location,
    Problem,
    ResidentCategory,
    replace,
)

KM_PER_DEG_LAT = 6371.0088 * math.pi / 180
Share = Annotated[float, Field(ge=0, le=1)]
K = TypeVar("K")
# Size bounds, checked before anything is drawn: room for a whole city in one spec (issue 13:
# ~115,000 helpers, ~200,000 residents, ~20,000 orders), while an absurd size (a billion
# helpers) is refused at once instead of filling the memory. README: "Scenario files: limits".
MAX_COMMUNITIES = 500
MAX_GRIDS_PER_COMMUNITY = 50
MAX_HELPERS = 150_000
MAX_RESIDENTS = 250_000
MAX_ORDERS = 50_000


class StreetSpec(Frozen):
    """What street to generate. Counts are exact; shares are met as closely as rounding allows."""

    seed: int = 0
    date: dt.date = dt.date(2026, 11, 23)
    geography: Literal["town", "pastoral"] = "town"
    communities: int = Field(default=6, ge=1, le=MAX_COMMUNITIES)
    grids_per_community: int = Field(default=4, ge=1, le=MAX_GRIDS_PER_COMMUNITY)
    helpers: int = Field(default=1200, ge=0, le=MAX_HELPERS)
    helper_mix: dict[HelperKind, float] = Field(default_factory=lambda: dict(data.TOWN_HELPER_MIX))
    residents: int = Field(default=1500, ge=1, le=MAX_RESIDENTS)
    resident_mix: dict[ResidentCategory, float] = Field(
        default_factory=lambda: dict(data.RESIDENT_MIX)
    )
    orders: int = Field(default=600, ge=0, le=MAX_ORDERS)
    team_share: Share = 0.10  # orders needing a team of two or more
    timed_share: Share = 0.70  # orders with a time window
    flexible_share: Share = 0.5  # timed orders that may start anywhere in a wider window
    circle_share: Share = 0.4  # residents with a circle of 1-3 earlier helpers
    gender_preference_share: Share = 0.1
    mongolian_resident_share: Share = 0.02  # residents who need a Mongolian speaker
    mongolian_helper_share: Share = 0.06
    blocked_share: Share = 0.01  # helpers who will not serve one resident (an old quarrel)
    committed_share: Share = 0.15  # helpers with minutes already promised today
    item_distance_scale: float = Field(
        default=1.0, gt=0, le=100
    )  # stretches items' max_distance_km
    # Skill mix on top of the kinds: share of all helpers who also hold a skill, e.g. a street
    # that trained 5 % of its volunteers in blood-pressure checks: {"blood_pressure_check": 0.05}.
    skill_boost: dict[str, Share] = Field(default_factory=dict)

    @field_validator("helper_mix", "resident_mix")
    @classmethod
    def _check_mix(cls, mix: dict[K, float]) -> dict[K, float]:
        if any(share < 0 for share in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError("shares must be non-negative with a positive sum")
        return mix

    @property
    def terrain(self) -> data.Terrain:
        return data.TOWN if self.geography == "town" else data.PASTORAL


class Place(Frozen):
    """Where a helper or resident lives."""

    community: str
    grid: str

    @property
    def label(self) -> str:
        return f"{self.community}{self.grid}"


class CommunityLayout(Frozen):
    name: str
    centre: Location
    grids: tuple[str, ...]


class StreetLayout(Frozen):
    """Communities and grids of a generated street, and the place of every helper and resident."""

    communities: tuple[CommunityLayout, ...]
    places: dict[str, Place]

    def community_of(self, entity_id: str) -> str:
        return self.places[entity_id].community

    def grid_of(self, entity_id: str) -> str:
        """The grid's full name, e.g. "青山社区第3网格" (grid numbers repeat across communities)."""
        return self.places[entity_id].label


# ----------------------------------------------------------------------------- entry points


def generate_street(spec: StreetSpec, catalogue: Catalogue | None = None) -> Problem:
    """The street described by ``spec`` with the shipped catalogue unless one is given."""
    return generate_street_with_layout(spec, catalogue)[0]


def generate_street_with_layout(
    spec: StreetSpec, catalogue: Catalogue | None = None
) -> tuple[Problem, StreetLayout]:
    """The street described by ``spec`` and where its helpers and residents live."""
    rng = random.Random(spec.seed)
    if catalogue is None:
        catalogue = load_catalogue()
    catalogue = _street_catalogue(catalogue, spec.item_distance_scale)
    unknown = sorted(set(spec.skill_boost) - catalogue.skill_codes)
    if unknown:
        what = f"unknown skill {unknown[0]!r}"
        raise ProblemError(None, None, "skill_boost", what, value=unknown[0])
    geometry = _Geometry(spec, rng)
    helpers, helper_spots = make_helpers(spec, rng, geometry)
    residents, resident_spots = make_residents(spec, rng, geometry, helpers, helper_spots)
    helpers = block_some(spec, rng, helpers, helper_spots, residents, resident_spots)
    orders = make_orders(spec, rng, catalogue, residents)
    problem = Problem(
        date=spec.date,
        catalogue=catalogue,
        helpers=tuple(helpers),
        residents=tuple(residents),
        orders=tuple(orders),
        travel=GeoTravel(detour_factor=spec.terrain.detour_factor),
    )
    places = {h.id: geometry.place(s) for h, s in zip(helpers, helper_spots, strict=True)}
    places |= {r.id: geometry.place(s) for r, s in zip(residents, resident_spots, strict=True)}
    return problem, StreetLayout(communities=geometry.layout(), places=places)


def _street_catalogue(catalogue: Catalogue, scale: float) -> Catalogue:
    """The catalogue with every item's ``max_distance_km`` stretched by ``scale`` (pastoral
    streets cannot keep a town's 2 km limit for a health check)."""
    if scale == 1.0:
        return catalogue
    items = tuple(
        item
        if item.max_distance_km is None
        else replace(item, max_distance_km=item.max_distance_km * scale)
        for item in catalogue.items
    )
    return replace(catalogue, items=items)


# ----------------------------------------------------------------------------- geography


class _Geometry:
    """Community and grid centres, in km around the street centre."""

    def __init__(self, spec: StreetSpec, rng: random.Random) -> None:
        self._terrain = spec.terrain
        self._centres = _community_centres(spec, rng)
        self._grids = [_grid_centres(spec, rng, centre) for centre in self._centres]
        self._names = [_community_name(self._terrain, n) for n in range(len(self._centres))]

    def spot(self, rng: random.Random) -> Spot:
        """A home in a random community and grid, scattered around the grid centre."""
        community = rng.randrange(len(self._centres))
        grid = rng.randrange(len(self._grids[community]))
        gx, gy = self._grids[community][grid]
        spread = self._terrain.spread_km
        return Spot(community, grid, gx + rng.gauss(0, spread), gy + rng.gauss(0, spread))

    def location(self, spot: Spot) -> Location:
        lat0, lon0 = self._terrain.centre
        lat = lat0 + spot.y / KM_PER_DEG_LAT
        lon = lon0 + spot.x / (KM_PER_DEG_LAT * math.cos(math.radians(lat0)))
        return Location(lat=round(lat, 6), lon=round(lon, 6))

    def place(self, spot: Spot) -> Place:
        return Place(community=self._names[spot.community], grid=_grid_name(spot.grid))

    def layout(self) -> tuple[CommunityLayout, ...]:
        return tuple(
            CommunityLayout(
                name=name,
                centre=self.location(Spot(n, 0, *self._centres[n])),
                grids=tuple(_grid_name(g) for g in range(len(self._grids[n]))),
            )
            for n, name in enumerate(self._names)
        )


def _community_centres(spec: StreetSpec, rng: random.Random) -> list[tuple[float, float]]:
    terrain, count = spec.terrain, spec.communities
    if spec.geography == "town":
        # A jittered square lattice: neighbouring communities 1-2 km apart.
        columns = math.ceil(math.sqrt(count))
        rows = math.ceil(count / columns)
        jitter = terrain.community_spacing_km * 0.18
        return [
            (
                (n % columns - (columns - 1) / 2) * terrain.community_spacing_km
                + rng.uniform(-jitter, jitter),
                (n // columns - (rows - 1) / 2) * terrain.community_spacing_km
                + rng.uniform(-jitter, jitter),
            )
            for n in range(count)
        ]
    # Villages scattered over open grassland, at least min_gap_km apart where possible.
    half = terrain.community_spacing_km * math.sqrt(count) / 2
    centres: list[tuple[float, float]] = []
    for _ in range(count):
        candidate = (rng.uniform(-half, half), rng.uniform(-half, half))
        for _attempt in range(200):
            if all(math.dist(candidate, c) >= terrain.min_gap_km for c in centres):
                break
            candidate = (rng.uniform(-half, half), rng.uniform(-half, half))
        centres.append(candidate)
    return centres


def _grid_centres(
    spec: StreetSpec, rng: random.Random, centre: tuple[float, float]
) -> list[tuple[float, float]]:
    count, ring = spec.grids_per_community, spec.terrain.grid_ring_km
    if count == 1:
        return [centre]
    turn = rng.uniform(0, 2 * math.pi)
    return [
        (
            centre[0] + ring * rng.uniform(0.7, 1.3) * math.cos(turn + 2 * math.pi * g / count),
            centre[1] + ring * rng.uniform(0.7, 1.3) * math.sin(turn + 2 * math.pi * g / count),
        )
        for g in range(count)
    ]


def _community_name(terrain: data.Terrain, index: int) -> str:
    if index < len(terrain.names):
        return terrain.names[index]
    return terrain.fallback_name.format(n=index + 1)


def _grid_name(index: int) -> str:
    return f"第{index + 1}网格"


# ----------------------------------------------------------------------------- presets


def _scarce() -> StreetSpec:
    """Demand clearly beyond what helpers can give: an optimal matcher still leaves a good part
    of the weighted demand unmatched."""
    return StreetSpec(communities=8, helpers=1000, residents=1200, orders=1500)


def _plentiful() -> StreetSpec:
    """The same street with three times the helpers: almost every order can be covered."""
    return StreetSpec(communities=8, helpers=3000, residents=1200, orders=1500)


def _demo() -> StreetSpec:
    return StreetSpec(communities=6, helpers=1200, residents=1500, orders=600)


def _pastoral() -> StreetSpec:
    """Villages (嘎查) tens of km apart; helpers drive; a third of residents speak Mongolian."""
    return StreetSpec(
        geography="pastoral",
        communities=8,
        grids_per_community=3,
        helpers=400,
        helper_mix=dict(data.PASTORAL_HELPER_MIX),
        residents=500,
        orders=300,
        timed_share=0.5,  # rural help is arranged by the day more than by the hour
        mongolian_resident_share=0.35,
        mongolian_helper_share=0.45,
        item_distance_scale=10.0,
    )


def _tiny() -> StreetSpec:
    return StreetSpec(communities=1, grids_per_community=3, helpers=30, residents=30, orders=40)


PRESETS: dict[str, Callable[[], StreetSpec]] = {
    "scarce": _scarce,
    "plentiful": _plentiful,
    "demo": _demo,
    "pastoral": _pastoral,
    "tiny": _tiny,
}


def preset(name: str, seed: int = 0, orders: int | None = None) -> StreetSpec:
    """A named street ("scarce", "plentiful", "demo", "pastoral", "tiny"), optionally scaled to
    ``orders`` orders with the same ratios (see ``scaled``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    spec = PRESETS[name]().model_copy(update={"seed": seed})
    return spec if orders is None else scaled(spec, orders)


def scaled(spec: StreetSpec, orders: int) -> StreetSpec:
    """``spec`` with ``orders`` orders and helpers, residents and communities scaled alike, so
    density and the helper-to-order ratio stay the same (a 5000-order street is a bigger street,
    not a more crowded one)."""
    factor = orders / spec.orders if spec.orders else 1.0
    changes = {
        "orders": orders,
        "helpers": round(spec.helpers * factor),
        "residents": max(1, round(spec.residents * factor)),
        "communities": max(1, round(spec.communities * factor)),
    }
    return StreetSpec.model_validate({**spec.model_dump(), **changes})
