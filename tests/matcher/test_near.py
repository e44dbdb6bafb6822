"""Candidate lists from the spatial index (``TravelTable.near``) equal the ones computed over every
helper, as the matcher did before it; the index never misses a helper in reach; explanations
under a deadline keep every reason and fact."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from matcher.candidates import (
    Candidate,
    Eligibility,
    OrderContext,
    _check_pins,
    build_contexts,
    start_ranges,
)
from matcher.explain import explain_unmatched
from matcher.generator import generate_street, preset
from matcher.greedy import greedy_assign
from matcher.lns import finish_times
from matcher.model import GeoTravel, Location
from matcher.params import SolveParams
from matcher.result import Reason
from matcher.travel import EARTH_RADIUS_KM, Leg, _HomeIndex, great_circle_km
from tests.matcher.strategies import problems

PROPERTY = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


# ---------------------------------------------------------------- the former code, over all helpers


def _ranked_over_all(
    e: Eligibility, ctx: OrderContext
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    km_rt, minutes, present = e.travel.arrays_for_order(ctx.order)
    mask = e.skill_mask(ctx.item) & e.reach_mask(ctx, km_rt, present)
    _, _, room = e.limits()
    mask &= (e.max_orders >= 1) & (ctx.duration + minutes <= room)
    indices = np.flatnonzero(mask)
    if ctx.start_range is not None and len(indices):
        helpers = e.problem.helpers
        fits = [
            start_ranges(ctx, helpers[i], Leg(float(km_rt[i]), int(minutes[i]))) != ()
            for i in indices.tolist()
        ]
        indices = indices[np.array(fits, dtype=bool)]
    indices = indices[np.argsort(km_rt[indices], kind="stable")]
    return indices, km_rt[indices], minutes[indices]


def _candidates_over_all(e: Eligibility, ctx: OrderContext, limit: int | None) -> None:
    indices, km_rt, minutes = _ranked_over_all(e, ctx)
    resident = e.problem.resident(ctx.order.resident)
    circle = {e.helper_index[h] for h in resident.circle}
    keep: list[Candidate] = []
    leads = speakers = 0
    for position, index in enumerate(indices.tolist()):
        full = limit is not None and len(keep) >= max(limit, ctx.team)
        lacking_lead = ctx.needs_lead and leads < ctx.team
        lacking_speaker = ctx.needs_language and speakers < ctx.team
        if full and not (lacking_lead or lacking_speaker):
            break
        candidate = e.candidate(ctx, index, Leg(float(km_rt[position]), int(minutes[position])))
        wanted = (lacking_lead and candidate.has_lead) or (lacking_speaker and candidate.speaks)
        if full and not wanted:
            continue
        keep.append(candidate)
        leads += candidate.has_lead
        speakers += candidate.speaks
    missing = circle - {c.helper for c in keep}
    for position in np.flatnonzero(np.isin(indices, list(missing))).tolist():
        leg = Leg(float(km_rt[position]), int(minutes[position]))
        keep.append(e.candidate(ctx, int(indices[position]), leg))
    ctx.candidates = keep
    _check_pins(e, ctx)
    if not ctx.team_possible(keep):
        ctx.blocked_reason = _funnel_over_all(e, ctx)


def _funnel_over_all(e: Eligibility, ctx: OrderContext) -> Reason:
    skilled = e.skill_mask(ctx.item)
    if not e.team_possible_among(ctx, skilled):
        return Reason.NO_SKILL
    km_rt, minutes, present = e.travel.arrays_for_order(ctx.order)
    reachable = skilled & e.reach_mask(ctx, km_rt, present)
    if not e.team_possible_among(ctx, reachable):
        return Reason.OUT_OF_REACH
    free = [
        e.candidate(ctx, i, Leg(float(km_rt[i]), int(minutes[i])))
        for i in np.flatnonzero(reachable).tolist()
    ]
    if not ctx.team_possible([c for c in free if c.starts != ()]):
        return Reason.NOT_FREE
    return Reason.AT_LIMIT


def _assert_same_as_over_all(problem, limit: int | None) -> None:  # type: ignore[no-untyped-def]
    eligibility, contexts = build_contexts(problem, 0.1, limit)
    reference = Eligibility(problem, 0.1)
    for ctx in contexts:
        old = reference.context(ctx.index, ctx.order)
        _candidates_over_all(reference, old, limit)
        new_ranked = eligibility.ranked(ctx)
        old_ranked = _ranked_over_all(reference, old)
        for new_array, old_array in zip(new_ranked, old_ranked, strict=True):
            assert new_array.tolist() == old_array.tolist()  # bit for bit, in the same order
        assert ctx.candidates == old.candidates
        assert ctx.blocked_reason == old.blocked_reason
        assert ctx.pin_errors == old.pin_errors


# ---------------------------------------------------------------- the tests


@PROPERTY
@given(problems())
def test_candidates_equal_over_all_helpers_on_random_problems(problem) -> None:  # type: ignore[no-untyped-def]
    """On random problems (geo and matrix travel), ranked helpers, candidate lists, funnel reasons
    and pin errors are those computed over every helper, for the default and no candidate limit."""
    _assert_same_as_over_all(problem, 4)
    _assert_same_as_over_all(problem, None)


@pytest.mark.parametrize(
    ("name", "seed"), [("plentiful", 3), ("pastoral", 4), ("scarce", 5), ("demo", 6)]
)
def test_candidates_equal_over_all_helpers_on_generated_streets(name: str, seed: int) -> None:
    """On generated streets (300 orders), the candidate lists and funnel reasons equal the former
    computation over every helper, and the hand rule's plan is the same from either."""
    problem = generate_street(preset(name, seed=seed, orders=300))
    _assert_same_as_over_all(problem, 4)
    eligibility, contexts = build_contexts(problem, 0.1, 4)
    plan = greedy_assign(problem, eligibility, contexts).assignments
    reference = Eligibility(problem, 0.1)
    old_contexts = []
    for ctx in contexts:
        old = reference.context(ctx.index, ctx.order)
        _candidates_over_all(reference, old, 4)
        old_contexts.append(old)
    reference._ranked = {c.index: _ranked_over_all(reference, c) for c in old_contexts}
    assert greedy_assign(problem, reference, old_contexts).assignments == plan


def test_home_index_never_misses_a_helper_within_reach() -> None:
    """Over homes spread on the whole globe (poles and the antimeridian included) and on one town,
    every helper whose great-circle km x detour is within their radius (and a cap) is found."""
    rng = random.Random(7)
    for spread, count in ((180.0, 400), (0.05, 400)):
        lat = [rng.uniform(-90, 90) if spread > 1 else 31.2 + rng.uniform(-spread, spread)
               for _ in range(count)]  # fmt: skip
        lon = [rng.uniform(-180, 180) if spread > 1 else 121.4 + rng.uniform(-spread, spread)
               for _ in range(count)]  # fmt: skip
        radius = np.array([rng.choice([0.5, 1.0, 3.0, 800.0, 5000.0]) for _ in range(count)])
        detour = 1.3
        index = _HomeIndex(np.radians(lat), np.radians(lon), radius, detour)
        homes = [Location(lat=a, lon=b) for a, b in zip(lat, lon, strict=True)]
        for _ in range(150):
            if spread > 1:
                where = Location(lat=rng.uniform(-90, 90), lon=rng.uniform(-180, 180))
            else:
                where = Location(lat=31.2 + rng.uniform(-spread, spread),
                                 lon=121.4 + rng.uniform(-spread, spread))  # fmt: skip
            cap = rng.choice([None, 0.8, 2.0, 1000.0])
            found = set(index.around(where, cap).tolist())
            for i, home in enumerate(homes):
                reach = radius[i] if cap is None else min(radius[i], cap)
                if great_circle_km(home, where) * detour <= reach:
                    assert i in found, (i, home, where, cap)


def test_near_values_equal_arrays_for_order() -> None:
    """``TravelTable.near`` gives, at its helpers, exactly the km and minutes of
    ``arrays_for_order``, and includes every helper within their own radius."""
    problem = generate_street(preset("pastoral", seed=2, orders=200))
    assert isinstance(problem.travel, GeoTravel)
    eligibility = Eligibility(problem, 0.1)
    radius, _, _ = eligibility.limits()
    for order in problem.orders:
        indices, km_rt, minutes = eligibility.travel.near(order)
        all_km, all_minutes, _ = eligibility.travel.arrays_for_order(order)
        assert km_rt.tolist() == all_km[indices].tolist()
        assert minutes.tolist() == all_minutes[indices].tolist()
        within = set(np.flatnonzero(all_km / 2 <= radius + 1e-9).tolist())
        assert within <= set(indices.tolist())
    assert EARTH_RADIUS_KM > 0 and math.isfinite(float(radius.max()))


def test_explanations_under_a_passed_deadline_keep_reasons_and_facts() -> None:
    """With a deadline already passed, every unmatched order is still explained, in the same
    order, with facts equal to the full explanation's except the step (then None)."""
    problem = generate_street(preset("scarce", seed=1, orders=300))
    eligibility, contexts = build_contexts(problem, 0.1, 4)
    plan = greedy_assign(problem, eligibility, contexts).assignments
    full = explain_unmatched(eligibility, contexts, plan)
    cut = explain_unmatched(eligibility, contexts, plan, deadline=0.0)
    assert full and [u.order for u in cut] == [u.order for u in full]
    assert any(u.params.step is not None for u in full)
    for whole, quick in zip(full, cut, strict=True):
        assert quick.params.step is None
        assert quick.params == whole.params.model_copy(update={"step": None})


def test_finish_times_leave_the_explanations_time_within_the_limit() -> None:
    """The search stops before the explanations' steps do, and both before the time limit."""
    for limit in (1.0, 5.0, 20.0, 60.0):
        search_until, explain_until = finish_times(100.0, limit)
        assert 100.0 < search_until < explain_until < 100.0 + limit
    assert SolveParams().time_limit_s > 0
