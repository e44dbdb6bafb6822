"""The weekly circle planner: which residents meet their street's circle target, and helpers to
propose to those who do not, each with why (distance, skills covered, current load).

A street's target (``CircleTarget``) applies to residents of some categories (e.g. living alone):
each needs at least ``size`` circle members who together hold the skills of the resident's usual
orders. The planner is greedy and deterministic: the residents furthest from the target first;
for each, the helper within reach (the helper's radius, as the matcher's geo travel measures it)
who covers most of the missing skills, then has the lightest load (circles they stand in, plus
those proposed so far in this plan), then is nearest. A helper blocked from or taken out of the
resident's circle is never proposed. Pure: the service gathers the data.

Greedy in one pass: a resident's proposals depend only on the residents before them (the loads
their proposals added), never on those after. So the plan is made resident by resident
(``iter_plan``) and a page of it (``plan_page``) is the prefix up to that page, the same
proposals the whole plan holds there: the planner's first page costs its residents, not the
street's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import islice

import numpy as np
from pydantic import Field

from matcher.model import Frozen, GeoTravel, Id, Location
from matcher.travel import great_circle_km_from

DETOUR = GeoTravel().detour_factor


class CircleTarget(Frozen):
    """A street's circle target: residents of ``categories`` have at least ``size`` members
    covering the skills of their usual orders; a helper is proposed for at most ``most_circles``
    circles in all."""

    size: int = Field(default=3, ge=1, le=20)
    categories: frozenset[str] = frozenset({"living_alone"})
    most_circles: int = Field(default=6, ge=1, le=100)


class PlanHelper(Frozen):
    id: Id
    location: Location
    skills: frozenset[str] = frozenset()
    radius_km: float = Field(default=3.0, gt=0)
    load: int = Field(default=0, ge=0)  # circles they stand in now


class PlanResident(Frozen):
    id: Id
    category: str
    location: Location
    members: tuple[str, ...] = ()  # helper ids in the circle now
    usual_skills: frozenset[str] = frozenset()  # skills the resident's usual orders need
    excluded: frozenset[str] = frozenset()  # never proposed (blocked, taken out)


@dataclass(frozen=True)
class Proposal:
    """A helper to add, with why: one-way km, the missing skills they cover, their load."""

    helper: str
    km_one_way: float
    covers: tuple[str, ...]
    load: int


@dataclass(frozen=True)
class CircleProposals:
    resident: str
    members: int
    missing_skills: tuple[str, ...]  # usual skills no member holds
    meets: bool
    proposals: tuple[Proposal, ...]


def missing_skills(resident: PlanResident, helpers: dict[str, PlanHelper]) -> frozenset[str]:
    held = set().union(*(helpers[h].skills for h in resident.members if h in helpers))
    return resident.usual_skills - held


def meets_target(
    resident: PlanResident, helpers: dict[str, PlanHelper], target: CircleTarget
) -> bool:
    """Whether the resident's circle has ``size`` members holding every usual skill."""
    held = [helpers[h].skills if h in helpers else frozenset() for h in resident.members]
    return circle_meets(target, held, resident.usual_skills)


def circle_meets(
    target: CircleTarget, member_skills: Sequence[AbstractSet[str]], usual_skills: AbstractSet[str]
) -> bool:
    """``meets_target`` on plain values (a street's count judges tens of thousands of circles
    without a model each): ``member_skills`` holds each member's skills."""
    return len(member_skills) >= target.size and usual_skills <= set().union(*member_skills)


def in_target(resident: PlanResident, target: CircleTarget) -> bool:
    return resident.category in target.categories


def plan_circles(
    residents: list[PlanResident], helpers: list[PlanHelper], target: CircleTarget
) -> list[CircleProposals]:
    """Every resident the target applies to, with whether they meet it and, if not, the
    helpers proposed (furthest from the target first, then by id)."""
    return list(iter_plan(residents, helpers, target))


def iter_plan(
    residents: list[PlanResident], helpers: list[PlanHelper], target: CircleTarget
) -> Iterator[CircleProposals]:
    """``plan_circles`` one resident at a time, in its order: stopping early leaves the rest
    of the street unplanned and changes nothing before."""
    by_id = {h.id: h for h in helpers}
    load = {h.id: h.load for h in helpers}
    where = _Places(helpers)
    for resident in plan_order(residents, by_id, target):
        missing = missing_skills(resident, by_id)
        meets = meets_target(resident, by_id, target)
        proposals = () if meets else _propose(resident, where, target, load, set(missing))
        yield CircleProposals(
            resident.id, len(resident.members), tuple(sorted(missing)), meets, proposals
        )


def plan_order(
    residents: list[PlanResident], helpers: dict[str, PlanHelper], target: CircleTarget
) -> list[PlanResident]:
    """The residents the target applies to, in the plan's order: furthest from the target
    first (fewest members less missing skills), then by id."""
    chosen = [r for r in residents if in_target(r, target)]
    chosen.sort(key=lambda r: (len(r.members) - len(missing_skills(r, helpers)), r.id))
    return chosen


@dataclass(frozen=True)
class PlanPage:
    """One page of the residents short of the target, with their proposals, and how many are
    short in all."""

    residents: tuple[CircleProposals, ...]
    short: int
    page: int
    page_size: int


def plan_page(
    residents: list[PlanResident],
    helpers: list[PlanHelper],
    target: CircleTarget,
    page: int,
    page_size: int,
) -> PlanPage:
    """Page ``page`` (from 1; past the last: the last) of ``page_size`` residents short of the
    target: exactly that slice of ``plan_circles``' residents short of it, planning only up to
    the page's end."""
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size start at 1")
    by_id = {h.id: h for h in helpers}
    targeted = (r for r in residents if in_target(r, target))
    short = sum(not meets_target(r, by_id, target) for r in targeted)
    page = min(page, max(1, -(-short // page_size)))
    start = (page - 1) * page_size
    wanted = (plan for plan in iter_plan(residents, helpers, target) if not plan.meets)
    shown = tuple(islice(wanted, start, start + page_size)) if short else ()
    return PlanPage(shown, short, page, page_size)


class _Places:
    """The helpers' homes and radii as arrays: one resident's distances to all at once."""

    def __init__(self, helpers: list[PlanHelper]) -> None:
        self.helpers = helpers
        self.lat = np.radians([h.location.lat for h in helpers])
        self.lon = np.radians([h.location.lon for h in helpers])
        self.cos_lat = np.cos(self.lat)
        self.radius = np.array([h.radius_km for h in helpers], dtype=float)

    def within_reach(self, place: Location) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the helpers whose radius holds ``place``, and their one-way km
        (``great_circle_km`` x detour: the same haversine, over arrays)."""
        km = great_circle_km_from(place, self.lat, self.lon, self.cos_lat) * DETOUR
        near = np.flatnonzero(km <= self.radius + 1e-9)
        return near, km[near]


def _propose(
    resident: PlanResident,
    where: _Places,
    target: CircleTarget,
    load: dict[str, int],
    missing: set[str],
) -> tuple[Proposal, ...]:
    """Greedy picks until the resident would meet the target (or nobody fits): most missing
    skills covered, then lightest load, then nearest, then id."""
    taken = set(resident.members) | resident.excluded
    positions, kms = where.within_reach(resident.location)
    # Loads change only for the helper picked, who leaves the list: one sort serves every pick.
    ranked = sorted(
        (
            (load[helper.id], km, helper.id, helper)
            for helper, km in zip(
                [where.helpers[i] for i in positions.tolist()], kms.tolist(), strict=True
            )
            if helper.id not in taken and load[helper.id] < target.most_circles
        ),
        key=lambda entry: entry[:3],
    )
    count = len(resident.members)
    picked: list[Proposal] = []
    while ranked and (count < target.size or missing):
        best, most = 0, -1
        if missing:
            for position, entry in enumerate(ranked):
                covered = len(entry[3].skills & missing)
                if covered > most:
                    best, most = position, covered
        _, km, helper_id, helper = ranked.pop(best)
        covers = tuple(sorted(helper.skills & missing))
        if count >= target.size and not covers:
            break  # enough members; nobody left covers what is missing
        picked.append(Proposal(helper_id, round(km, 3), covers, load[helper_id]))
        load[helper_id] += 1
        missing -= set(covers)
        count += 1
    return tuple(picked)
