"""The weekly circle planner: which residents meet their street's circle target, and helpers to
propose to those who do not, each with why (distance, skills covered, current load).

A street's target (``CircleTarget``) applies to residents of some categories (e.g. living alone):
each needs at least ``size`` circle members who together hold the skills of the resident's usual
orders. The planner is greedy and deterministic: the residents furthest from the target first;
for each, the helper within reach (the helper's radius, as the matcher's geo travel measures it)
who covers most of the missing skills, then has the lightest load (circles they stand in, plus
those proposed so far in this plan), then is nearest. A helper blocked from or taken out of the
resident's circle is never proposed. Pure: the service gathers the data.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from matcher.model import Frozen, GeoTravel, Id, Location
from matcher.travel import great_circle_km

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
class ResidentPlan:
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
    return len(resident.members) >= target.size and not missing_skills(resident, helpers)


def in_target(resident: PlanResident, target: CircleTarget) -> bool:
    return resident.category in target.categories


def plan_circles(
    residents: list[PlanResident], helpers: list[PlanHelper], target: CircleTarget
) -> list[ResidentPlan]:
    """Every resident the target applies to, with whether they meet it and, if not, the
    helpers proposed (furthest from the target first, then by id)."""
    by_id = {h.id: h for h in helpers}
    load = {h.id: h.load for h in helpers}
    chosen = [r for r in residents if in_target(r, target)]
    chosen.sort(key=lambda r: (len(r.members) - len(missing_skills(r, by_id)), r.id))
    plans = []
    for resident in chosen:
        missing = missing_skills(resident, by_id)
        meets = meets_target(resident, by_id, target)
        proposals = () if meets else _propose(resident, helpers, target, load, set(missing))
        plans.append(
            ResidentPlan(
                resident.id, len(resident.members), tuple(sorted(missing)), meets, proposals
            )
        )
    return plans


def _propose(
    resident: PlanResident,
    helpers: list[PlanHelper],
    target: CircleTarget,
    load: dict[str, int],
    missing: set[str],
) -> tuple[Proposal, ...]:
    """Greedy picks until the resident would meet the target (or nobody fits)."""
    taken = set(resident.members) | resident.excluded
    near = {}
    for helper in helpers:
        if helper.id in taken:
            continue
        km = great_circle_km(helper.location, resident.location) * DETOUR
        if km <= helper.radius_km + 1e-9:
            near[helper.id] = (helper, km)
    count = len(resident.members)
    picked: list[Proposal] = []
    while near and (count < target.size or missing):
        best = min(
            (h for h in near.values() if load[h[0].id] < target.most_circles),
            key=lambda pair: (
                -len(pair[0].skills & missing),
                load[pair[0].id],
                pair[1],
                pair[0].id,
            ),
            default=None,
        )
        if best is None:
            break
        helper, km = best
        covers = tuple(sorted(helper.skills & missing))
        if count >= target.size and not covers:
            break  # enough members; nobody left covers what is missing
        picked.append(Proposal(helper.id, round(km, 3), covers, load[helper.id]))
        load[helper.id] += 1
        missing -= set(covers)
        count += 1
        del near[helper.id]
    return tuple(picked)
