"""The deterministic street generator: reproducibility, counts, shares and realism."""

from __future__ import annotations

import itertools
import random
import re
import statistics

import pytest

from matcher.generator import (
    StreetLayout,
    StreetSpec,
    generate_street,
    generate_street_with_layout,
    preset,
    scaled,
)
from matcher.model import HelperKind, Problem
from matcher.travel import great_circle_km


@pytest.fixture(scope="module")
def scarce() -> tuple[Problem, StreetLayout]:
    return generate_street_with_layout(preset("scarce"))


@pytest.fixture(scope="module")
def pastoral() -> tuple[Problem, StreetLayout]:
    return generate_street_with_layout(preset("pastoral"))


def can_be_staffed(problem: Problem, order_index: int) -> bool:
    """Whether enough helpers in the whole street hold the skills (ignoring place and time)."""
    order = problem.orders[order_index]
    item = problem.item_of(order)
    language = problem.resident(order.resident).language
    able = [h for h in problem.helpers if item.required_skills <= h.skills]
    return (
        len(able) >= problem.team_size(order)
        and (item.lead_skill is None or any(item.lead_skill in h.skills for h in able))
        and (language is None or any(language in h.languages for h in able))
    )


def test_same_seed_gives_identical_problem() -> None:
    """Generating the same spec twice gives equal problems, field by field."""
    spec = preset("demo", seed=7)
    assert generate_street(spec).model_dump() == generate_street(spec).model_dump()


def test_global_random_state_does_not_matter() -> None:
    """The generator uses only its own seeded RNG, not the global random module."""
    random.seed(1)
    first = generate_street(preset("tiny")).model_dump()
    random.seed(2)
    assert generate_street(preset("tiny")).model_dump() == first


def test_different_seed_gives_different_problem() -> None:
    """Two seeds give different helpers and orders."""
    first, second = generate_street(preset("tiny", seed=0)), generate_street(preset("tiny", seed=1))
    assert first.helpers != second.helpers
    assert first.orders != second.orders


def test_counts_match_spec(scarce: tuple[Problem, StreetLayout]) -> None:
    """Helpers, residents and orders come in exactly the numbers asked for."""
    problem, _ = scarce
    spec = preset("scarce")
    assert (len(problem.helpers), len(problem.residents), len(problem.orders)) == (
        spec.helpers,
        spec.residents,
        spec.orders,
    )
    assert all(order.date == spec.date == problem.date for order in problem.orders)


def test_helper_kinds_follow_the_mix(scarce: tuple[Problem, StreetLayout]) -> None:
    """Helper kinds match the mix exactly after rounding (e.g. 2 % doctors of 1000 is 20)."""
    problem, _ = scarce
    kinds = [h.kind for h in problem.helpers]
    assert kinds.count(HelperKind.DOCTOR) == 20
    assert kinds.count(HelperKind.WARM_HEARTED_RESIDENT) == 300


def test_team_and_timed_shares(scarce: tuple[Problem, StreetLayout]) -> None:
    """About 10 % of orders need a team, 70 % are timed and half of those start flexibly."""
    problem, _ = scarce
    count = len(problem.orders)
    teams = sum(problem.team_size(o) >= 2 for o in problem.orders) / count
    timed = [o for o in problem.orders if o.window is not None]
    flexible = sum(o.flexible_start for o in timed) / len(timed)
    assert teams == pytest.approx(0.10, abs=0.01)
    assert len(timed) / count == pytest.approx(0.70, abs=0.01)
    assert flexible == pytest.approx(0.5, abs=0.02)


def test_windows_lie_in_the_working_day(scarce: tuple[Problem, StreetLayout]) -> None:
    """Timed windows fall in 08:00-20:00; fixed ones fit the service exactly, flexible 2-4 h."""
    problem, _ = scarce
    for order in problem.orders:
        if order.window is None:
            continue
        assert order.window.start >= 8 * 60 and order.window.end <= 20 * 60
        duration = problem.duration(order)
        if order.flexible_start:
            assert 120 <= order.window.length <= 240
            assert order.window.length >= duration + 60
        else:
            assert order.window.length == duration


def test_every_preset_validates() -> None:
    """Every preset's problem survives a full re-validation from its dump."""
    for name in ("tiny", "demo", "pastoral"):
        problem = generate_street(preset(name))
        assert Problem.model_validate(problem.model_dump()) == problem


def test_orders_can_mostly_be_staffed(scarce: tuple[Problem, StreetLayout]) -> None:
    """At least 97 % of orders have enough helpers with the skills somewhere in the street."""
    problem, _ = scarce
    staffed = sum(can_be_staffed(problem, i) for i in range(len(problem.orders)))
    assert staffed / len(problem.orders) >= 0.97


def test_helper_skills_follow_their_kind(scarce: tuple[Problem, StreetLayout]) -> None:
    """Doctors are physicians, lawyers advise, riders drive, and Mongolian speakers say so."""
    problem, _ = scarce
    for helper in problem.helpers:
        if helper.kind is HelperKind.DOCTOR:
            assert {"physician", "nursing", "blood_pressure_check"} <= helper.skills
        if helper.kind is HelperKind.LAWYER:
            assert {"legal_advice", "mediation"} <= helper.skills
        if helper.kind is HelperKind.DELIVERY_RIDER:
            assert {"driving", "shopping_errands"} <= helper.skills
        assert ("mn" in helper.languages) == ("mongolian_language" in helper.skills)


def test_helper_capacity_is_plausible(scarce: tuple[Problem, StreetLayout]) -> None:
    """Town helpers take 1-4 orders, 60-300 min, reach 1-3 km and fit their availability."""
    problem, _ = scarce
    for helper in problem.helpers:
        assert 1 <= helper.max_orders <= 4
        assert 60 <= helper.max_minutes <= 300
        assert helper.max_minutes <= sum(w.length for w in helper.availability)
        assert helper.committed_minutes <= helper.max_minutes
        assert 1.0 <= helper.radius_km <= 3.0


def test_residents_are_weighted_and_have_small_circles(
    scarce: tuple[Problem, StreetLayout],
) -> None:
    """Priority weights lie in 1-3; about 40 % of residents have a circle of 1-3 helpers who
    can reach them."""
    problem, _ = scarce
    assert all(1.0 <= r.priority_weight <= 3.0 for r in problem.residents)
    with_circle = [r for r in problem.residents if r.circle]
    assert len(with_circle) / len(problem.residents) == pytest.approx(0.4, abs=0.05)
    detour = problem.travel.detour_factor  # type: ignore[union-attr]
    for resident in with_circle:
        assert 1 <= len(resident.circle) <= 3
        for helper in map(problem.helper, resident.circle):
            assert great_circle_km(helper.location, resident.location) * detour <= helper.radius_km


def test_town_is_compact(scarce: tuple[Problem, StreetLayout]) -> None:
    """Town communities sit 1-2 km from their nearest neighbour inside a street a few km wide."""
    _, layout = scarce
    centres = [c.centre for c in layout.communities]
    nearest = [min(great_circle_km(a, b) for b in centres if b is not a) for a in centres]
    assert all(0.8 <= km <= 2.2 for km in nearest)
    assert max(great_circle_km(a, b) for a, b in itertools.combinations(centres, 2)) <= 6.0


def test_pastoral_distances_are_tens_of_km(pastoral: tuple[Problem, StreetLayout]) -> None:
    """Pastoral villages are 10+ km apart (median tens of km) and helpers drive far."""
    problem, layout = pastoral
    centres = [c.centre for c in layout.communities]
    distances = [great_circle_km(a, b) for a, b in itertools.combinations(centres, 2)]
    assert min(distances) >= 10.0
    assert statistics.median(distances) >= 20.0
    for helper in problem.helpers:
        assert helper.speed_kmh is not None and 30 <= helper.speed_kmh <= 50
        assert 15 <= helper.radius_km <= 50


def test_pastoral_street_speaks_mongolian(pastoral: tuple[Problem, StreetLayout]) -> None:
    """About a third of pastoral residents need a Mongolian speaker, and many helpers are one."""
    problem, _ = pastoral
    residents = sum(r.language == "mn" for r in problem.residents) / len(problem.residents)
    helpers = sum("mn" in h.languages for h in problem.helpers) / len(problem.helpers)
    assert residents == pytest.approx(0.35, abs=0.07)
    assert helpers == pytest.approx(0.45, abs=0.07)


def test_pastoral_items_reach_further(pastoral: tuple[Problem, StreetLayout]) -> None:
    """The pastoral street stretches the items' distance limits tenfold."""
    problem, _ = pastoral
    assert problem.catalogue.item("H01").max_distance_km == pytest.approx(20.0)


def test_layout_places_everyone(scarce: tuple[Problem, StreetLayout]) -> None:
    """Every helper and resident has a community and a grid named like 第3网格."""
    problem, layout = scarce
    ids = [h.id for h in problem.helpers] + [r.id for r in problem.residents]
    assert set(layout.places) == set(ids)
    names = {c.name for c in layout.communities}
    assert len(names) == 8
    for entity in ids:
        assert layout.community_of(entity) in names
        assert re.fullmatch(r".+社区第\d+网格", layout.grid_of(entity))


def test_presets_have_their_sizes() -> None:
    """Scarce has 1000 helpers, plentiful 3000, both 1500 orders; tiny is small."""
    assert (preset("scarce").helpers, preset("scarce").orders) == (1000, 1500)
    assert (preset("plentiful").helpers, preset("plentiful").orders) == (3000, 1500)
    assert preset("tiny").orders <= 50
    assert preset("pastoral").geography == "pastoral"


def test_scaled_keeps_the_ratios() -> None:
    """Scaling to 300 or 5000 orders keeps helpers, residents and communities in proportion."""
    small = preset("plentiful", orders=300)
    assert (small.orders, small.helpers, small.residents, small.communities) == (300, 600, 240, 2)
    large = scaled(preset("scarce"), 5000)
    assert (large.orders, large.helpers, large.communities) == (5000, 3333, 27)
    assert large.team_share == preset("scarce").team_share


def test_unknown_preset_and_bad_mix_are_rejected() -> None:
    """An unknown preset name or a mix of zero shares is a ValueError."""
    with pytest.raises(ValueError, match="unknown preset"):
        preset("crowded")
    with pytest.raises(ValueError, match="positive sum"):
        StreetSpec(helper_mix={HelperKind.DOCTOR: 0.0})


def test_skill_boost_adds_the_skill_to_that_share_of_helpers() -> None:
    """skill_boost gives about the asked share of extra holders and leaves other streets alone."""
    base = StreetSpec(helpers=400, residents=100, orders=50)
    boosted = base.model_copy(update={"skill_boost": {"legal_advice": 0.5}})
    plain, more = generate_street(base), generate_street(boosted)
    holders = [sum("legal_advice" in h.skills for h in p.helpers) for p in (plain, more)]
    assert holders[1] - holders[0] == pytest.approx(0.5 * 400, abs=40)
    assert generate_street(base).model_dump() == plain.model_dump()


def test_skill_boost_rejects_unknown_skills() -> None:
    """An unknown skill in skill_boost is named."""
    with pytest.raises(ValueError, match="field 'skill_boost': unknown skill 'juggling'"):
        generate_street(StreetSpec(helpers=5, residents=5, orders=2, skill_boost={"juggling": 0.1}))
