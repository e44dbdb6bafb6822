"""Hypothesis strategies for small random but valid ``Problem``s on the factories' catalogue.

Every example is one short morning (08:00-12:00) with at most six helpers and six orders: random
skills, availability, daily limits, reach, blocked residents, languages (some residents need
``mn``), gender preferences, circles, priorities, fixed, flexible and untimed orders, team-size
overrides and now and then a pinned helper. Travel is geo (``at`` offsets in km) or an explicit
``MatrixTravel`` in which some helper-order pairs are absent.

Matrix examples are *grid-aligned*: every window and availability bound, every duration and every
``out``/``back`` leg minute is a multiple of ``GRID`` (10) minutes (round trips are multiples of 20,
so ``out = back = round trip / 2``). Then some optimal plan starts every visit on the grid, which
is what lets ``tests.matcher.brute_force`` enumerate starts in steps of 10 and still be exact:

    Fix an optimal plan's teams, each member's availability window and each helper's visit order.
    What remains is a system of constraints on the starts, each of the form ``s <= c``,
    ``s >= c`` (order window, availability window shifted by a leg) or ``s_j - s_i >= c`` (the next
    visit of a helper begins after the previous one ends, travel included), where every constant
    ``c`` is a sum of grid multiples. Rounding every start *down* to the grid keeps all of them:
    ``floor(s / 10) >= c / 10`` when ``s >= c``, and ``s_j >= s_i + c`` gives
    ``floor(s_j / 10) >= floor(s_i / 10) + c / 10``. So the left-shifted plan is also feasible,
    covers the same orders, and has all starts on the grid.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from matcher.model import (
    Gender,
    Helper,
    HelperKind,
    Location,
    MatrixTravel,
    Order,
    Problem,
    Resident,
    ResidentCategory,
    TimeWindow,
    TravelLeg,
    replace,
)
from tests.factories import CATALOGUE, DATE, at

GRID = 10
DAY_START, DAY_END = 8 * 60, 12 * 60  # the short morning every example lives in
MAX_HELPERS = MAX_ORDERS = 6

ITEMS = tuple(i.code for i in CATALOGUE.items)  # CHAT, BP, HOMECARE, MOVE, CLEAN
# The skills the items use ("physician" is HOMECARE's lead); the catalogue's others never matter.
USEFUL_SKILLS = ("companionship", "cleaning", "nursing", "physician", "heavy_lifting")

Draw = Any  # Hypothesis' ``draw`` callable

# Strategies built once (Hypothesis caches strategies of hashable arguments only, and building
# them per draw dominated the generation time). ``sampled_from`` favours its first element when
# shrinking, so each list starts with the plain value.
_KINDS = st.sampled_from(tuple(HelperKind))
_CATEGORIES = st.sampled_from(tuple(ResidentCategory))
_GENDERS = st.none() | st.sampled_from(tuple(Gender))
_SHAPES = st.sampled_from(("morning", "day", "one", "two", "morning"))
_MAX_ORDERS = st.sampled_from((3, 1, 2, 3))
_MAX_MINUTES = st.sampled_from((240, 120, 180, 240))
_COMMITTED = st.sampled_from((30, 60))
_RADII = st.sampled_from((3.0, 1.0, 2.0, 3.0, 5.0))
_OFFSETS = st.integers(-15, 15)  # 100 m steps: within 1.5 km east and north of the origin
_WEIGHTS = st.sampled_from((1.0, 0.5, 1.0, 1.5, 3.0))
_LANGUAGES = st.sampled_from((None, None, None, None, "mn", "zh"))
_ITEMS = st.sampled_from(ITEMS)
_DURATIONS = st.none() | st.sampled_from((10, 20, 30, 40, 60, 0))
_TEAMS = st.sampled_from((None, None, 1, 2))
_TIMINGS = st.sampled_from(("fixed", "flexible", "untimed"))
_PRIORITIES = st.integers(1, 5)
_WAITED = st.sampled_from((0, 0, 1, 3, 7))
_KM_HALVES = st.integers(0, 8)  # round-trip km in 0.5 km steps, so one way is at most 2 km
_LEG_STEPS = st.sampled_from((1, 0, 2, 1, 3))  # round-trip minutes in units of 2 * GRID


def _rarely(draw: Draw, one_in: int) -> bool:
    """True about once in ``one_in`` draws; shrinks to False. (``integers(0, n) == 0`` would be
    true far more often: Hypothesis favours the bounds.)"""
    return bool(draw(_chance(one_in)))


@lru_cache
def _chance(one_in: int) -> st.SearchStrategy[bool]:
    return st.sampled_from((False,) * (one_in - 1) + (True,))


def _grid(draw: Draw, low: int, high: int) -> int:
    """A multiple of ``GRID`` in ``[low, high]`` (both multiples of ``GRID``)."""
    return GRID * draw(st.integers(low // GRID, high // GRID))


def _one_of(draw: Draw, ids: tuple[str, ...]) -> str:
    return ids[draw(st.integers(0, len(ids) - 1))]


# ----------------------------------------------------------------------------- helpers


def _availability(draw: Draw) -> tuple[TimeWindow, ...]:
    """The whole morning, the whole day, or one or two grid windows (possibly touching)."""
    shape = draw(_SHAPES)
    if shape == "day":
        return (TimeWindow(start=0, end=1440),)
    if shape == "morning":
        return (TimeWindow(start=DAY_START, end=DAY_END),)
    points = sorted(_grid(draw, DAY_START, DAY_END) for _ in range(2 if shape == "one" else 4))
    windows = tuple(
        TimeWindow(start=begin, end=end)
        for begin, end in zip(points[::2], points[1::2], strict=True)
        if end > begin
    )
    return windows or (TimeWindow(start=DAY_START, end=DAY_END),)


def _helper(draw: Draw, index: int, residents: tuple[str, ...], geo: bool) -> Helper:
    # Each skill with probability 3/4, so that most orders have a few qualified helpers.
    skills = frozenset(s for s in USEFUL_SKILLS if not _rarely(draw, 4))
    return Helper(
        id=f"h{index}",
        kind=draw(_KINDS),
        location=_place(draw) if geo else at(),
        skills=skills,
        availability=_availability(draw),
        max_orders=0 if _rarely(draw, 10) else draw(_MAX_ORDERS),
        max_minutes=60 if _rarely(draw, 10) else draw(_MAX_MINUTES),
        committed_minutes=draw(_COMMITTED) if _rarely(draw, 4) else 0,
        radius_km=draw(_RADII),
        languages=frozenset({"zh", "mn"}) if _rarely(draw, 3) else frozenset({"zh"}),
        gender=draw(_GENDERS),
        blocked_residents=frozenset([_one_of(draw, residents)] if _rarely(draw, 6) else []),
    )


def _place(draw: Draw) -> Location:
    return at(draw(_OFFSETS) / 10, draw(_OFFSETS) / 10)


# ----------------------------------------------------------------------------- residents, orders


def _resident(draw: Draw, index: int, helpers: tuple[str, ...], geo: bool) -> Resident:
    circle = tuple(sorted({_one_of(draw, helpers) for _ in range(draw(st.integers(0, 2)))}))
    return Resident(
        id=f"r{index}",
        category=draw(_CATEGORIES),
        location=_place(draw) if geo else at(),
        priority_weight=draw(_WEIGHTS),
        circle=circle,
        preferred_gender=draw(_GENDERS),
        language=draw(_LANGUAGES),
    )


def _order(draw: Draw, index: int, residents: tuple[str, ...]) -> Order:
    item = CATALOGUE.item(draw(_ITEMS))
    duration_override = draw(_DURATIONS)
    duration = item.duration_min if duration_override is None else duration_override
    timing = draw(_TIMINGS)
    window = None
    if timing != "untimed":
        length = max(GRID, duration + _grid(draw, 0, 60))  # little slack: few grid starts
        begin = _grid(draw, DAY_START, DAY_END - length)
        window = TimeWindow(start=begin, end=begin + length)
    return Order(
        id=f"o{index}",
        resident=_one_of(draw, residents),
        item=item.code,
        date=DATE,
        window=window,
        flexible_start=timing == "flexible",
        duration_min=duration_override,
        team_size=draw(_TEAMS),
        priority=draw(_PRIORITIES),
        days_waited=draw(_WAITED),
    )


def _pin(draw: Draw, problem: Problem, order: Order) -> Order:
    """The order with one or two pinned helpers: mostly ones who could serve it on their own
    account (so that the pin has a chance), sometimes anyone."""
    pool = tuple(h.id for h in problem.helpers if _plausible(problem, h, order))
    if not pool or _rarely(draw, 5):
        pool = tuple(h.id for h in problem.helpers)
    count = draw(st.integers(1, problem.team_size(order)))
    pinned = {_one_of(draw, pool) for _ in range(count)}
    return replace(order, pinned=tuple(sorted(pinned)))


def _plausible(problem: Problem, helper: Helper, order: Order) -> bool:
    """Skills, not blocked, in reach, room in the day and (timed) a free slot, ignoring other
    orders; geo legs count as zero, which is good enough for choosing pins."""
    item, duration = problem.item_of(order), problem.duration(order)
    km, minutes = 0.0, 0
    if isinstance(problem.travel, MatrixTravel):
        leg = next(
            (g for g in problem.travel.legs if (g.helper, g.order) == (helper.id, order.id)), None
        )
        if leg is None:
            return False
        km, minutes = leg.km_round_trip / 2, leg.minutes_round_trip
    if not (
        item.required_skills <= helper.skills
        and order.resident not in helper.blocked_residents
        and km <= min(helper.radius_km, item.max_distance_km or math.inf)
        and helper.max_orders >= 1
        and helper.committed_minutes + duration + minutes <= helper.max_minutes
    ):
        return False
    if order.window is None:
        return True
    out, back = (minutes + 1) // 2, minutes - (minutes + 1) // 2
    latest = order.window.end - duration if order.flexible_start else order.window.start
    return any(
        max(order.window.start, w.start + out) <= min(latest, w.end - duration - back)
        for w in helper.availability
    )


# ----------------------------------------------------------------------------- travel, problems


def _matrix(draw: Draw, helpers: tuple[str, ...], orders: tuple[str, ...]) -> MatrixTravel:
    """Legs for about five pairs in six: km in 0.5 km steps, minutes in 20-minute steps."""
    legs = []
    for helper in helpers:
        for order in orders:
            if _rarely(draw, 6):
                continue
            legs.append(
                TravelLeg(
                    helper=helper,
                    order=order,
                    km_round_trip=draw(_KM_HALVES) / 2,
                    minutes_round_trip=2 * GRID * draw(_LEG_STEPS),
                )
            )
    return MatrixTravel(legs=tuple(legs))


@st.composite
def problems(draw: Draw, travel: str = "any", pin_one_in: int = 15) -> Problem:
    """A small valid problem; ``travel`` is ``"geo"``, ``"matrix"`` (grid-aligned) or ``"any"``.
    About one order in ``pin_one_in`` has pinned helpers."""
    geo = (draw(st.sampled_from(("matrix", "geo"))) if travel == "any" else travel) == "geo"
    helper_ids = tuple(f"h{i}" for i in range(draw(st.integers(1, MAX_HELPERS))))
    order_ids = tuple(f"o{i}" for i in range(draw(st.integers(1, MAX_ORDERS))))
    resident_ids = tuple(f"r{i}" for i in range(draw(st.integers(1, len(order_ids)))))
    helpers = tuple(_helper(draw, i, resident_ids, geo) for i in range(len(helper_ids)))
    residents = tuple(_resident(draw, i, helper_ids, geo) for i in range(len(resident_ids)))
    orders = tuple(_order(draw, i, resident_ids) for i in range(len(order_ids)))
    fields: dict[str, Any] = {} if geo else {"travel": _matrix(draw, helper_ids, order_ids)}
    problem = Problem(
        date=DATE,
        catalogue=CATALOGUE,
        helpers=helpers,
        residents=residents,
        orders=orders,
        **fields,
    )
    pinned = tuple(
        _pin(draw, problem, order) if _rarely(draw, pin_one_in) else order for order in orders
    )
    return replace(problem, orders=pinned) if pinned != orders else problem


def tiny_problems(pin_one_in: int = 15) -> st.SearchStrategy[Problem]:
    """Grid-aligned matrix problems small enough for ``best_weighted_coverage``."""
    return problems(travel="matrix", pin_one_in=pin_one_in)
