"""The random draws of a generated street: helpers, residents and their orders.

Used by ``matcher.generator``; every draw goes through the ``random.Random`` passed in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, Protocol, TypeVar

from matcher import generator_data as data
from matcher.model import (
    Catalogue,
    Gender,
    Helper,
    HelperKind,
    Location,
    Order,
    Resident,
    ResidentCategory,
    TimeWindow,
    replace,
)

if TYPE_CHECKING:
    from matcher.generator import StreetSpec

DAY_START, DAY_END = 8 * 60, 20 * 60  # timed orders fall inside 08:00-20:00
T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True)
class Spot:
    """A home: community and grid index, and position in km around the street centre."""

    community: int
    grid: int
    x: float  # east
    y: float  # north


class Places(Protocol):
    """Where homes are drawn (``matcher.generator`` lays out communities and grids)."""

    def spot(self, rng: random.Random) -> Spot: ...

    def location(self, spot: Spot) -> Location: ...


# ----------------------------------------------------------------------------- helpers


def make_helpers(
    spec: StreetSpec, rng: random.Random, places: Places
) -> tuple[list[Helper], list[Spot]]:
    kinds = exact_draw(rng, spec.helper_mix, spec.helpers)
    width = id_width(spec.helpers)
    helpers, spots = [], []
    for index, kind in enumerate(kinds, start=1):
        spot = places.spot(rng)
        location = places.location(spot)
        helpers.append(_draw_helper(spec, rng, f"H{index:0{width}d}", kind, location))
        spots.append(spot)
    return helpers, spots


def _draw_helper(
    spec: StreetSpec, rng: random.Random, helper_id: str, kind: HelperKind, location: Location
) -> Helper:
    profile, terrain = data.PROFILES[kind], spec.terrain
    retired = rng.random() < profile.retiree_share
    hours = pick(rng, data.RETIREE_HOURS if retired else profile.hours)
    windows = tuple(TimeWindow(start=round(a * 60), end=round(b * 60)) for a, b in hours)
    free = sum(w.length for w in windows)
    budget = pick(rng, data.RETIREE_MINUTES if retired else profile.minutes)
    max_minutes = min(free, budget + terrain.extra_minutes)
    committed = 0
    if rng.random() < spec.committed_share:
        committed = min(max_minutes // 2, rng.choice((30, 45, 60, 90)))
    skills = set(profile.always)
    skills |= {skill for skill, chance in profile.maybe.items() if rng.random() < chance}
    skills |= {skill for skill, share in sorted(spec.skill_boost.items()) if rng.random() < share}
    languages = {"zh"}
    if rng.random() < spec.mongolian_helper_share:
        languages.add("mn")
        skills.add("mongolian_language")
    female = rng.random() < profile.female_share
    return Helper(
        id=helper_id,
        kind=kind,
        location=location,
        skills=frozenset(skills),
        availability=windows,
        max_orders=pick(rng, data.RETIREE_ORDERS if retired else profile.orders),
        max_minutes=max_minutes,
        radius_km=rng.choice(terrain.radius_km),
        languages=frozenset(languages),
        gender=Gender.FEMALE if female else Gender.MALE,
        committed_minutes=committed,
        speed_kmh=rng.choice(terrain.speed_kmh) if terrain.speed_kmh else profile.town_speed_kmh,
    )


def block_some(
    spec: StreetSpec,
    rng: random.Random,
    helpers: list[Helper],
    helper_spots: list[Spot],
    residents: list[Resident],
    resident_spots: list[Spot],
) -> list[Helper]:
    """Let a few helpers refuse one neighbour (never someone whose circle they are in)."""
    neighbours = _members_by_community(resident_spots, spec.communities)
    result = list(helpers)
    for index, helper in enumerate(helpers):
        if rng.random() >= spec.blocked_share:
            continue
        candidates = neighbours[helper_spots[index].community]
        if not candidates:
            continue
        resident = residents[rng.choice(candidates)]
        if helper.id not in resident.circle:
            result[index] = replace(helper, blocked_residents=frozenset({resident.id}))
    return result


# ----------------------------------------------------------------------------- residents


def make_residents(
    spec: StreetSpec,
    rng: random.Random,
    places: Places,
    helpers: list[Helper],
    helper_spots: list[Spot],
) -> tuple[list[Resident], list[Spot]]:
    categories = exact_draw(rng, spec.resident_mix, spec.residents)
    nearby = _members_by_community(helper_spots, spec.communities)
    width = id_width(spec.residents)
    residents, spots = [], []
    for index, category in enumerate(categories, start=1):
        spot = places.spot(rng)
        # About one in five is frail or over 80 and counts a little more.
        weight = min(3.0, data.PRIORITY_WEIGHT[category] + (0.5 if rng.random() < 0.2 else 0.0))
        language = "mn" if rng.random() < spec.mongolian_resident_share else None
        preferred = None
        if rng.random() < spec.gender_preference_share:
            preferred = Gender.FEMALE if rng.random() < 0.75 else Gender.MALE
        circle: tuple[str, ...] = ()
        if rng.random() < spec.circle_share:
            candidates = nearby[spot.community]
            circle = _draw_circle(
                rng, spec, spot, category, language, helpers, helper_spots, candidates
            )
        residents.append(
            Resident(
                id=f"R{index:0{width}d}",
                category=category,
                location=places.location(spot),
                priority_weight=weight,
                circle=circle,
                preferred_gender=preferred,
                language=language,
            )
        )
        spots.append(spot)
    return residents, spots


def _draw_circle(
    rng: random.Random,
    spec: StreetSpec,
    spot: Spot,
    category: ResidentCategory,
    language: str | None,
    helpers: list[Helper],
    helper_spots: list[Spot],
    candidates: list[int],
) -> tuple[str, ...]:
    """1-3 helpers of the resident's community who fit the resident's usual needs, can reach the
    resident and speak the resident's language: the ones who helped before."""
    wanted = rng.choice((1, 1, 2, 2, 3))
    fitting = data.CIRCLE_SKILLS[category]
    detour = spec.terrain.detour_factor
    chosen: list[str] = []
    for _attempt in range(40):
        if len(chosen) == wanted or not candidates:
            break
        index = rng.choice(candidates)
        helper, home = helpers[index], helper_spots[index]
        if helper.id in chosen or not helper.skills & fitting:
            continue
        if language is not None and language not in helper.languages:
            continue
        # A little slack so that the flat-earth distance never overstates the reach.
        if math.dist((home.x, home.y), (spot.x, spot.y)) * detour > 0.95 * helper.radius_km:
            continue
        chosen.append(helper.id)
    return tuple(chosen)


def _members_by_community(spots: list[Spot], communities: int) -> list[list[int]]:
    members: list[list[int]] = [[] for _ in range(communities)]
    for index, spot in enumerate(spots):
        members[spot.community].append(index)
    return members


# ----------------------------------------------------------------------------- orders


def make_orders(
    spec: StreetSpec, rng: random.Random, catalogue: Catalogue, residents: list[Resident]
) -> list[Order]:
    count = spec.orders
    teams = _flags(rng, count, spec.team_share)
    timed = _flags(rng, count, spec.timed_share)
    flexible = iter(_flags(rng, sum(timed), spec.flexible_share))
    rates = cumulative([data.ORDER_RATE[r.category] for r in residents])
    chosen = rng.choices(residents, cum_weights=rates, k=count)
    menus = _Menus(catalogue)
    width = id_width(count)
    orders = []
    for index, resident in enumerate(chosen):
        code, team_size = menus.draw(rng, resident, teams[index])
        item = catalogue.item(code)
        window, flexible_start = None, False
        if timed[index]:
            flexible_start = next(flexible)
            child = item.category == data.CHILD_CATEGORY
            window = _draw_window(rng, item.duration_min, flexible_start, child)
        orders.append(
            Order(
                id=f"O{index + 1:0{width}d}",
                resident=resident.id,
                item=code,
                date=spec.date,
                window=window,
                flexible_start=flexible_start,
                team_size=team_size,
                priority=pick(rng, data.PRIORITIES),
                days_waited=pick(rng, data.DAYS_WAITED),
            )
        )
    return orders


class _Menus:
    """What each kind of resident orders: ``(item, team size override)`` with cumulative
    weights, for single or team orders."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        self._menus: dict[tuple[ResidentCategory, bool, bool], _Menu] = {}

    def draw(self, rng: random.Random, resident: Resident, team: bool) -> tuple[str, int | None]:
        key = (resident.category, team, resident.language == "mn")
        if key not in self._menus:
            self._menus[key] = _menu(self._catalogue, *key)
        entries, weights = self._menus[key]
        return rng.choices(entries, cum_weights=weights)[0]


_Menu = tuple[list[tuple[str, int | None]], list[float]]


def _menu(catalogue: Catalogue, category: ResidentCategory, team: bool, mongolian: bool) -> _Menu:
    needs = dict(data.NEEDS[category]) | (data.MONGOLIAN_ITEMS if mongolian else {})
    known = {item.code: item for item in catalogue.items}
    entries: list[tuple[str, int | None]] = []
    weights: list[float] = []
    for code, need in needs.items():
        if code not in known or need <= 0:
            continue
        size = known[code].team_size
        if (size >= 2) == team:
            entries.append((code, None))
            weights.append(need)
        elif team and code in data.PAIRABLE:
            entries.append((code, 2))
            weights.append(need * data.PAIRABLE[code])
    if not entries:  # a catalogue without the usual items: anything of the right kind
        for code, item in known.items():
            entries.append((code, None if (item.team_size >= 2) == team else (2 if team else 1)))
            weights.append(1.0)
    return entries, cumulative(weights)


def _draw_window(rng: random.Random, duration: int, flexible: bool, child: bool) -> TimeWindow:
    """A window inside 08:00-20:00: exactly the service for a fixed start, 2-4 h if flexible."""
    hour = pick(rng, data.CHILD_START_HOURS if child else data.START_HOURS)
    start = hour * 60 + rng.choice((0, 15, 30, 45))
    length = duration
    if flexible:
        length = max(pick(rng, data.FLEXIBLE_WINDOW_MINUTES), duration + 60)
    start = max(DAY_START, min(start, DAY_END - length))
    return TimeWindow(start=start, end=start + length)


def _flags(rng: random.Random, count: int, share: float) -> list[bool]:
    """``round(share * count)`` True values at random places."""
    number = round(share * count)
    flags = [True] * number + [False] * (count - number)
    rng.shuffle(flags)
    return flags


# ----------------------------------------------------------------------------- drawing


def pick(rng: random.Random, table: Sequence[tuple[float, T]]) -> T:
    """One value from a ``(weight, value)`` table."""
    return rng.choices([value for _, value in table], weights=[w for w, _ in table])[0]


def exact_draw(rng: random.Random, mix: Mapping[K, float], count: int) -> list[K]:
    """``count`` keys in random order whose numbers match the shares of ``mix`` (largest
    remainder rounding), so a 2 % share of 1000 helpers is exactly 20."""
    total = sum(mix.values())
    quotas = {key: count * share / total for key, share in mix.items()}
    numbers = {key: math.floor(quota) for key, quota in quotas.items()}
    by_remainder = sorted(quotas, key=lambda key: numbers[key] - quotas[key])
    for key in by_remainder[: count - sum(numbers.values())]:
        numbers[key] += 1
    keys = [key for key, number in numbers.items() for _ in range(number)]
    rng.shuffle(keys)
    return keys


def cumulative(weights: Sequence[float]) -> list[float]:
    return list(accumulate(weights))


def id_width(count: int) -> int:
    return max(4, len(str(count)))
