"""Two-way pairing (``matcher.pairing``): shortlists keep the matcher's hard rules and the
programme's filters; the matching is stable, respects capacities, and is optimal for the chosen
side (or for travel) among all stable matchings, found here by brute force over every matching."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.model import Gender
from matcher.pairing import (
    Favour,
    Market,
    Option,
    PairingRules,
    Participant,
    blocking_pairs,
    preference_list,
    shortlists,
    stable_matching,
)
from matcher.result import Assignment
from matcher.verify import check_plan
from tests import factories as f

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------- brute force
# Written from the definition of stability only (no code shared with matcher.pairing).


def _is_stable(market: Market, chosen: frozenset[tuple[str, str]]) -> bool:
    residents = {r.id: r for r in market.residents}
    helpers = {h.id: h for h in market.helpers}
    for r in residents.values():
        for h in r.prefs:
            if (r.id, h) in chosen or r.id not in helpers[h].prefs:
                continue
            mine = [x for x in r.prefs if (r.id, x) in chosen]
            theirs = [y for y in helpers[h].prefs if (y, h) in chosen]
            r_wants = len(mine) < r.capacity or any(
                r.prefs.index(x) > r.prefs.index(h) for x in mine
            )
            h_prefs = helpers[h].prefs
            h_wants = len(theirs) < helpers[h].capacity or any(
                h_prefs.index(y) > h_prefs.index(r.id) for y in theirs
            )
            if r_wants and h_wants:
                return False
    return True


def all_stable(market: Market) -> list[frozenset[tuple[str, str]]]:
    """Every stable matching: every set of mutually acceptable pairs within capacities that no
    pair blocks."""
    helpers = {h.id: h for h in market.helpers}
    pairs = [(r.id, h) for r in market.residents for h in r.prefs if r.id in helpers[h].prefs]
    cap = {r.id: r.capacity for r in market.residents} | {h.id: h.capacity for h in market.helpers}
    found = []
    for size in range(len(pairs) + 1):
        for subset in itertools.combinations(pairs, size):
            load: dict[str, int] = {}
            for r, h in subset:
                load[r] = load.get(r, 0) + 1
                load[h] = load.get(h, 0) + 1
            if all(n <= cap[who] for who, n in load.items()):
                chosen = frozenset(subset)
                if _is_stable(market, chosen):
                    found.append(chosen)
    return found


def _ranks(people: tuple[Participant, ...], chosen: frozenset[tuple[str, str]], side: int):
    """Per participant, the sorted ranks of their partners (padded with "nobody" = len+1)."""
    out = {}
    for person in people:
        got = sorted(
            person.prefs.index(pair[1 - side]) for pair in chosen if pair[side] == person.id
        )
        out[person.id] = got + [len(person.prefs)] * (person.capacity - len(got))
    return out


@st.composite
def markets(draw: st.DrawFn, resident_capacity: int = 1) -> Market:
    """Up to 4 residents × 3 helpers, random acceptable pairs, strict random preferences,
    helper capacities 0–2, residents up to ``resident_capacity``, km 0–9."""
    n_r = draw(st.integers(1, 4))
    n_h = draw(st.integers(1, 3))
    rs, hs = [f"r{i}" for i in range(n_r)], [f"h{j}" for j in range(n_h)]
    acceptable = {
        (r, h) for r in rs for h in hs if draw(st.booleans(), label=f"{r}-{h}") or n_h == 1
    }
    # One-sided entries (a helper listing a resident who does not list them) are allowed.
    extra = {(r, h) for r in rs for h in hs if draw(st.integers(0, 4)) == 0}
    residents = tuple(
        Participant(
            r,
            draw(st.integers(1, resident_capacity)),
            tuple(draw(st.permutations(sorted(h for rr, h in acceptable if rr == r)))),
        )
        for r in rs
    )
    helpers = tuple(
        Participant(
            h,
            draw(st.integers(0, 2)),
            tuple(draw(st.permutations(sorted(r for r, hh in acceptable | extra if hh == h)))),
        )
        for h in hs
    )
    km = {(r, h): float(draw(st.integers(0, 9))) for r in rs for h in hs}
    return Market(residents, helpers, km)


# ----------------------------------------------------------------------------- stability


@PROPERTY
@given(markets(resident_capacity=2), st.sampled_from(list(Favour)))
def test_every_result_is_stable_within_capacities(market: Market, favour: Favour) -> None:
    """Whatever side is favoured, the pairs are mutually acceptable, within both sides'
    capacities, and no pair blocks them (brute-force definition and the module's checker)."""
    result = stable_matching(market, favour)
    chosen = frozenset((p.resident, p.helper) for p in result.pairs)
    assert _is_stable(market, chosen)
    assert blocking_pairs(market, chosen) == []
    acceptable = set(market.acceptable())
    assert chosen <= acceptable
    cap = {r.id: r.capacity for r in market.residents} | {h.id: h.capacity for h in market.helpers}
    for who, limit in cap.items():
        assert sum(who in pair for pair in chosen) <= limit


@PROPERTY
@given(markets(resident_capacity=2), st.sampled_from(list(Favour)))
def test_same_number_of_pairs_as_every_stable_matching(market: Market, favour: Favour) -> None:
    """Rural hospitals: every stable matching has as many pairs as the one returned, so "more
    pairs" is already the most."""
    result = stable_matching(market, favour)
    for stable in all_stable(market):
        assert len(stable) == len(result.pairs)


@PROPERTY
@given(markets())
def test_residents_get_their_best_stable_partner(market: Market) -> None:
    """Favouring residents, each resident's partner is at least as good as in any stable
    matching (brute force over all matchings)."""
    result = stable_matching(market, Favour.RESIDENTS)
    mine = _ranks(market.residents, frozenset((p.resident, p.helper) for p in result.pairs), 0)
    for stable in all_stable(market):
        theirs = _ranks(market.residents, stable, 0)
        for r in mine:
            assert mine[r] <= theirs[r], (r, result.pairs, stable)


@PROPERTY
@given(markets())
def test_helpers_get_their_best_stable_partners(market: Market) -> None:
    """Favouring helpers, each helper's k-th best partner is at least as good as their k-th best
    in any stable matching, for every k (brute force)."""
    result = stable_matching(market, Favour.HELPERS)
    chosen = frozenset((p.resident, p.helper) for p in result.pairs)
    mine = _ranks(market.helpers, chosen, 1)
    for stable in all_stable(market):
        theirs = _ranks(market.helpers, stable, 1)
        for h in mine:
            assert all(a <= b for a, b in zip(mine[h], theirs[h], strict=True)), (h, stable)


@PROPERTY
@given(markets(resident_capacity=2))
def test_travel_is_the_shortest_among_stable_matchings(market: Market) -> None:
    """Favouring travel, the total km is the least of any stable matching (brute force)."""
    result = stable_matching(market, Favour.TRAVEL, time_limit_s=5)
    assert result.optimal
    least = min(sum(market.km[p] for p in stable) for stable in all_stable(market))
    assert result.total_km == pytest.approx(least)


def test_residents_and_helpers_optimal_differ_on_the_textbook_example() -> None:
    """Two residents and two helpers with crossed preferences: residents favoured, each gets
    their first choice; helpers favoured, each helper gets theirs."""
    market = Market(
        residents=(Participant("r1", 1, ("h1", "h2")), Participant("r2", 1, ("h2", "h1"))),
        helpers=(Participant("h1", 1, ("r2", "r1")), Participant("h2", 1, ("r1", "r2"))),
        km={("r1", "h1"): 5.0, ("r2", "h2"): 5.0, ("r1", "h2"): 1.0, ("r2", "h1"): 1.0},
    )
    by_residents = stable_matching(market, Favour.RESIDENTS)
    by_helpers = stable_matching(market, Favour.HELPERS)
    by_travel = stable_matching(market, Favour.TRAVEL)
    assert {(p.resident, p.helper) for p in by_residents.pairs} == {("r1", "h1"), ("r2", "h2")}
    assert {(p.resident, p.helper) for p in by_helpers.pairs} == {("r1", "h2"), ("r2", "h1")}
    assert by_travel.total_km == 2.0
    assert [p.resident_rank for p in by_residents.pairs] == [1, 1]


def test_blocking_pair_is_reported() -> None:
    """The checker names the pair that both sides prefer to what they got."""
    market = Market(
        residents=(Participant("r1", 1, ("h1", "h2")),),
        helpers=(Participant("h1", 1, ("r1",)), Participant("h2", 1, ("r1",))),
    )
    assert blocking_pairs(market, [("r1", "h2")]) == [("r1", "h1")]
    assert blocking_pairs(market, [("r1", "h1")]) == []


def test_market_refuses_bad_input() -> None:
    """Unknown partners, duplicates and negative capacities are ValueErrors naming the index."""
    with pytest.raises(ValueError, match=r"resident 0 .*unknown 'h9'"):
        Market((Participant("r1", 1, ("h9",)),), (Participant("h1", 1, ()),))
    with pytest.raises(ValueError, match=r"helper 1 .*duplicate id"):
        Market((), (Participant("h1", 1, ()), Participant("h1", 1, ())))
    with pytest.raises(ValueError, match="negative capacity"):
        Market((Participant("r1", -1, ()),), ())


# ----------------------------------------------------------------------------- preference lists


def test_preference_list_ranked_first_then_nearest_without_refused() -> None:
    """Ranked entries keep the participant's order, unranked ones follow nearest first, refused
    and unknown entries are dropped."""
    shortlist = [Option("a", 3.0), Option("b", 1.0), Option("c", 2.0), Option("d", 0.5)]
    assert preference_list(shortlist, ranking=["c", "zz", "a"], refused=["d"]) == ("c", "a", "b")
    assert preference_list(shortlist) == ("d", "b", "c", "a")


# ----------------------------------------------------------------------------- shortlists


@st.composite
def programmes(draw: st.DrawFn):
    """Small geo problems: helpers with random skills, radius, languages and gender; residents
    with language and gender preferences; one untimed companionship visit per resident."""
    n_h, n_r = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    place = st.floats(-4, 4, allow_nan=False)
    helpers = [
        f.helper(
            f"h{i}",
            *draw(st.sampled_from([("companionship",), (), ("companionship", "nursing")])),
            where=f.at(draw(place), draw(place)),
            radius_km=draw(st.sampled_from([1.0, 3.0, 8.0])),
            languages=frozenset(draw(st.sampled_from([{"zh"}, {"zh", "mn"}]))),
            gender=draw(st.sampled_from([Gender.FEMALE, Gender.MALE, None])),
            blocked_residents=frozenset({"r0"}) if draw(st.integers(0, 5)) == 0 else frozenset(),
        )
        for i in range(n_h)
    ]
    residents = [
        f.resident(
            f"r{i}",
            where=f.at(draw(place), draw(place)),
            language=draw(st.sampled_from([None, "mn"])),
            preferred_gender=draw(st.sampled_from([None, Gender.FEMALE])),
        )
        for i in range(n_r)
    ]
    orders = [f.order(f"o{i}", f"r{i}", "CHAT") for i in range(n_r)]
    rules = PairingRules(
        size=draw(st.integers(1, 3)),
        gender_preference=draw(st.booleans()),
        max_km=draw(st.sampled_from([None, 2.0, 5.0])),
    )
    return f.problem(helpers, residents, orders), rules


@PROPERTY
@given(programmes())
def test_shortlists_keep_hard_rules_and_programme_filters(drawn) -> None:
    """Every shortlisted pair passes the matcher's own checker for the resident's visit (skills,
    reach, blocks, language) and the programme's gender and distance filters; both sides see the
    same pairs."""
    problem, rules = drawn
    lists = shortlists(problem, rules)
    order_of = {o.resident: o.id for o in problem.orders}
    from_residents = {(r, o.other) for r, opts in lists.residents.items() for o in opts}
    from_helpers = {(o.other, h) for h, opts in lists.helpers.items() for o in opts}
    assert from_residents == from_helpers
    for r, h in from_residents:
        planned = Assignment(order=order_of[r], helpers=(h,), start=None)
        assert check_plan(problem, [planned]) == []
        resident, helper = problem.resident(r), problem.helper(h)
        if resident.language:
            assert resident.language in helper.languages
        if rules.gender_preference and resident.preferred_gender:
            assert helper.gender == resident.preferred_gender
    for opts in lists.residents.values():
        if rules.max_km is not None:
            assert all(o.km <= rules.max_km + 1e-9 for o in opts)


@PROPERTY
@given(programmes())
def test_shortlists_hold_each_sides_nearest(drawn) -> None:
    """A resident with a shortlist shorter than ``size`` has every helper on it who passes the
    matcher's checker and the programme's filters (nobody eligible is left out)."""
    problem, rules = drawn
    lists = shortlists(problem, rules)
    order_of = {o.resident: o.id for o in problem.orders}
    for r, opts in lists.residents.items():
        listed = {o.other for o in opts}
        if len(listed) < rules.size:
            # fewer than size: nobody eligible was left out
            for helper in problem.helpers:
                planned = Assignment(order=order_of[r], helpers=(helper.id,), start=None)
                ok = check_plan(problem, [planned]) == []
                resident = problem.resident(r)
                if resident.language:
                    ok = ok and resident.language in helper.languages
                if rules.gender_preference and resident.preferred_gender:
                    ok = ok and helper.gender == resident.preferred_gender
                if ok and rules.max_km is None:
                    assert helper.id in listed, (r, helper.id)


def test_time_window_excludes_a_busy_helper() -> None:
    """A helper not free in the programme's time window is on nobody's shortlist."""
    problem = f.problem(
        [
            f.helper("free", "companionship"),
            f.helper("busy", "companionship", availability=(f.window(14, 18),)),
        ],
        [f.resident("r1")],
        [f.order("o1", "r1", window=f.window(9, 11))],
    )
    lists = shortlists(problem, PairingRules())
    assert [o.other for o in lists.residents["r1"]] == ["free"]
    assert lists.helpers["busy"] == ()
