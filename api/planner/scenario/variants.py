"""Variants: named changes applied to a scenario's base street, and ``build`` that makes the
``Problem`` and ``SolveParams`` a solver runs on."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from pydantic import ValidationError

from api.i18n import N_, format_number
from api.i18n import gettext as _
from api.planner.scenario.load import ScenarioError, base_problem, locate_problem_error
from api.planner.scenario.schema import (
    MAX_LEGS,
    AddHelpers,
    RemoveHelpers,
    ScaleOrders,
    Scenario,
    SolverChange,
    WeightsChange,
)
from matcher.generator import KM_PER_DEG_LAT, MAX_HELPERS, MAX_ORDERS, Place, StreetLayout
from matcher.model import Helper, Location, MatrixTravel, Problem, TravelLeg, replace
from matcher.params import ObjectiveWeights, SolveParams

BASE = "base"


@dataclass(frozen=True)
class Built:
    """A scenario ready to solve: ``label`` is "base" or the variant's name."""

    problem: Problem
    layout: StreetLayout | None
    params: SolveParams
    label: str


def variant_names(scenario: Scenario) -> list[str]:
    """The variants' names in file order (without "base")."""
    return [variant.name for variant in scenario.variants]


def base_params(scenario: Scenario) -> SolveParams:
    solver = scenario.solver
    return SolveParams(
        time_limit_s=solver.time_limit_s, seed=solver.seed, workers=solver.workers,
        candidate_limit=solver.candidate_limit,
        weights=ObjectiveWeights(**solver.weights.model_dump()),
    )  # fmt: skip


def build(scenario: Scenario, variant: str | None = None) -> Built:
    """The base street (``variant`` None or "base") or the named variant; ``ScenarioError`` for
    an unknown name or a change that cannot apply."""
    problem, layout = base_problem(scenario)
    params = base_params(scenario)
    if variant is None or variant == BASE:
        return Built(problem, layout, params, BASE)
    index = _variant_index(scenario, variant)
    state = _State(scenario, problem, layout, params, f"variants[{index}]")
    for number, change in enumerate(scenario.variants[index].changes):
        state.where = f"variants[{index}].changes[{number}].{change.name}"
        state.apply(change.name, getattr(change, change.name), number)
    return Built(state.problem, state.layout, state.params, variant)


def _variant_index(scenario: Scenario, name: str) -> int:
    names = variant_names(scenario)
    if name not in names:
        valid = ", ".join([BASE, *names])
        raise ScenarioError(
            _(
                "%(path)s: unknown variant %(variant)s; valid variants: %(valid)s",
                path=scenario.source,
                variant=repr(name),
                valid=valid,
            )
        )
    return names.index(name)


class _State:
    """The problem, layout and params while a variant's changes are applied one by one."""

    def __init__(
        self,
        scenario: Scenario,
        problem: Problem,
        layout: StreetLayout | None,
        params: SolveParams,
        where: str,
    ) -> None:
        self.scenario, self.problem, self.layout, self.params = scenario, problem, layout, params
        self.where = where

    def fail(self, message: str) -> ScenarioError:
        """The error at the change being applied; ``message`` is already translated."""
        return ScenarioError(f"{self.scenario.source}: {self.where}: {message}")

    def apply(self, name: str, change: object, number: int) -> None:
        try:
            if isinstance(change, AddHelpers):
                self._add_helpers(change, number)
            elif name == "scale_radius":
                self._update(helpers=tuple(
                    replace(h, radius_km=h.radius_km * change.factor)  # type: ignore[attr-defined]
                    for h in self.problem.helpers
                ))  # fmt: skip
            elif isinstance(change, ScaleOrders):
                self._scale_orders(change)
            elif isinstance(change, RemoveHelpers):
                self._remove_helpers(change)
            elif isinstance(change, SolverChange):
                changes = change.model_dump(exclude_unset=True)
                self.params = replace(self.params, **changes)
            elif isinstance(change, WeightsChange):
                weights = replace(self.params.weights, **change.model_dump(exclude_unset=True))
                self.params = replace(self.params, weights=weights)
        except ValidationError as error:
            raise ScenarioError(locate_problem_error(self.scenario, error, self.where)) from error

    def _update(self, **changes: object) -> None:
        self.problem = replace(self.problem, **changes)

    # ------------------------------------------------------------------------- add_helpers

    def _add_helpers(self, change: AddHelpers, number: int) -> None:
        total = len(self.problem.helpers) + change.count
        if total > MAX_HELPERS:
            raise self.fail(
                _too_many(
                    N_("%(total)s helpers in all; the limit is %(limit)s"), total, MAX_HELPERS
                )
            )
        unknown = sorted(set(change.skills) - self.problem.catalogue.skill_codes)
        if unknown:
            raise self.fail(_("unknown skill %(skill)s", skill=repr(unknown[0])))
        centres = self._centres(change)
        seed = f"{self.scenario.solver.seed}:{self.where}:{number}"
        rng = random.Random(seed)
        taken = {h.id for h in self.problem.helpers}
        new: list[Helper] = []
        places: dict[str, Place] = {}
        serial = 0
        while len(new) < change.count:
            serial += 1
            helper_id = f"N{number + 1}-{serial:04d}"
            if helper_id in taken:
                continue
            centre, place = rng.choice(centres)
            new.append(_recruit(change, helper_id, _scatter(rng, centre, change.spread_km)))
            if place is not None:
                places[helper_id] = place
        self._update(helpers=self.problem.helpers + tuple(new))
        if self.layout is not None:
            self.layout = replace(self.layout, places={**self.layout.places, **places})

    def _centres(self, change: AddHelpers) -> list[tuple[Location, Place | None]]:
        """Where recruits live: around a community's or grid's centre, or next to existing
        helpers anywhere in the street when neither is given."""
        if change.community is None and change.grid is None:
            helpers = self.problem.helpers or ()
            if not helpers:
                raise self.fail(_("the street has no helpers to place recruits near"))
            layout = self.layout
            return [
                (h.location, layout.places.get(h.id) if layout is not None else None)
                for h in helpers
            ]
        if self.layout is None:
            raise self.fail(_("'community' and 'grid' need a generated street"))
        members = self._members(self.layout, change)
        if not members:
            raise self.fail(
                _("no one lives in %(place)s", place=repr(change.grid or change.community))
            )
        return [(_mean(members), self.layout.places[members[0][0]])]

    def _members(self, layout: StreetLayout, change: AddHelpers) -> list[tuple[str, Location]]:
        names = [c.name for c in layout.communities]
        if change.community is not None and change.community not in names:
            raise self.fail(
                _(
                    "unknown community %(community)s; choose one of %(choices)s",
                    community=repr(change.community),
                    choices=", ".join(names),
                )
            )

        def fits(place: Place) -> bool:
            if change.community is not None and place.community != change.community:
                return False
            return change.grid is None or change.grid in (place.grid, place.label)

        locations = {h.id: h.location for h in self.problem.helpers}
        locations |= {r.id: r.location for r in self.problem.residents}
        return [
            (entity, locations[entity])
            for entity, place in layout.places.items()
            if entity in locations and fits(place)
        ]

    # ------------------------------------------------------------------------- orders, helpers

    def _scale_orders(self, change: ScaleOrders) -> None:
        catalogue = self.problem.catalogue
        if change.item is not None and change.item not in {i.code for i in catalogue.items}:
            raise self.fail(_("unknown catalogue item %(item)s", item=repr(change.item)))
        if change.category is not None and change.category not in {
            c.code for c in catalogue.categories
        }:
            raise self.fail(_("unknown category %(category)s", category=repr(change.category)))
        chosen = [
            o
            for o in self.problem.orders
            if o.item == change.item or catalogue.item(o.item).category == change.category
        ]
        target = round(len(chosen) * change.factor)
        if len(self.problem.orders) - len(chosen) + target > MAX_ORDERS:
            total = len(self.problem.orders) - len(chosen) + target
            raise self.fail(
                _too_many(N_("%(total)s orders in all; the limit is %(limit)s"), total, MAX_ORDERS)
            )
        chosen_ids = {o.id for o in chosen}
        others = tuple(o for o in self.problem.orders if o.id not in chosen_ids)
        kept = chosen[:target]
        copies = [  # (original, copy): copies take the next free "~n" suffix in turn
            (original, replace(original, id=f"{original.id}~{k // len(chosen)}"))
            for k in range(len(chosen), target)
            for original in [chosen[k % len(chosen)]]
        ]
        travel = self.problem.travel
        if isinstance(travel, MatrixTravel):  # drop legs of dropped orders; copies travel alike
            legs_of: dict[str, list[TravelLeg]] = {}
            for leg in travel.legs:
                legs_of.setdefault(leg.order, []).append(leg)
            extra = sum(len(legs_of.get(original.id, ())) for original, _ in copies)
            if len(travel.legs) + extra > MAX_LEGS:
                total = len(travel.legs) + extra
                raise self.fail(
                    _too_many(
                        N_("%(total)s travel legs in all; the limit is %(limit)s"), total, MAX_LEGS
                    )
                )
            extra_legs = tuple(
                replace(leg, order=copy.id) for original, copy in copies
                for leg in legs_of.get(original.id, [])
            )  # fmt: skip
            kept_ids = {o.id for o in (*others, *kept)}
            legs = tuple(leg for leg in travel.legs if leg.order in kept_ids)
            travel = MatrixTravel(legs=legs + extra_legs)
        orders = others + tuple(kept) + tuple(copy for _, copy in copies)
        self._update(orders=orders, travel=travel)

    def _remove_helpers(self, change: RemoveHelpers) -> None:
        gone = {h.id for h in self.problem.helpers if h.kind == change.kind}
        problem = self.problem
        residents = tuple(
            replace(r, circle=tuple(h for h in r.circle if h not in gone)) if r.circle else r
            for r in problem.residents
        )
        orders = tuple(
            replace(o, pinned=tuple(h for h in o.pinned if h not in gone)) if o.pinned else o
            for o in problem.orders
        )
        travel = problem.travel
        if isinstance(travel, MatrixTravel):
            travel = MatrixTravel(legs=tuple(leg for leg in travel.legs if leg.helper not in gone))
        self._update(
            helpers=tuple(h for h in problem.helpers if h.id not in gone),
            residents=residents, orders=orders, travel=travel,
        )  # fmt: skip


def _recruit(change: AddHelpers, helper_id: str, location: Location) -> Helper:
    return Helper(
        id=helper_id, kind=change.kind, location=location, skills=frozenset(change.skills),
        availability=tuple(change.availability), max_orders=change.max_orders,
        max_minutes=change.max_minutes, radius_km=change.radius_km,
        languages=frozenset(change.languages),
    )  # fmt: skip


def _mean(members: list[tuple[str, Location]]) -> Location:
    lat = sum(loc.lat for _, loc in members) / len(members)
    lon = sum(loc.lon for _, loc in members) / len(members)
    return Location(lat=lat, lon=lon)


def _scatter(rng: random.Random, centre: Location, spread_km: float) -> Location:
    dy, dx = rng.gauss(0, spread_km), rng.gauss(0, spread_km)
    lat = centre.lat + dy / KM_PER_DEG_LAT
    lon = centre.lon + dx / (KM_PER_DEG_LAT * math.cos(math.radians(centre.lat)))
    return Location(lat=round(lat, 6), lon=round(lon, 6))


def _too_many(message: str, total: int, limit: int) -> str:
    """``message`` (an id with ``%(total)s`` and ``%(limit)s``) with both numbers formatted."""
    return _(message, total=format_number(total), limit=format_number(limit))
