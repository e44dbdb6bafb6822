"""Care circles feed matching (定效果), each effect shown on a one-order instance.

The resident ``r1`` is at the origin and orders one chat; a helper at ``at(x)`` is ``x`` km east
(a visit costs 2.6 x round-trip km with the default detour; continuity 2 per miss). The circle
the matcher sees is built from each pair's facts by ``matcher.circles`` (the service asks the same
functions), so these tests pin the rule and its effect on the plan together.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.candidates import broken_pins
from matcher.circle_plan import (
    CircleTarget,
    PlanHelper,
    PlanResident,
    plan_circles,
    plan_page,
)
from matcher.circles import (
    PairFacts,
    StaffChoice,
    Standing,
    blocked_helpers,
    continuity_weight,
    resident_circle,
    standing,
)
from matcher.eligible import eligible_helpers
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Assignment, Reason, Status
from matcher.solve import solve, solve_greedy
from matcher.verify import check_plan
from matcher.weights import continuity_units
from tests.factories import at, helper, order, problem, resident

PARAMS = SolveParams(time_limit_s=5, workers=1, seed=0)
SERVED = PairFacts(visits=2)


def chat_with(facts: dict[str, PairFacts], *helpers_at: tuple[str, float]) -> Problem:
    """One chat for ``r1``, whose circle and blocks come from ``facts`` (helper id → facts)."""
    circle, weights = resident_circle(facts)
    blocked = blocked_helpers(facts)
    return problem(
        [
            helper(
                h,
                "companionship",
                where=at(km),
                blocked_residents=frozenset({"r1"}) if h in blocked else frozenset(),
            )
            for h, km in helpers_at
        ],
        [resident("r1", circle=circle, circle_weights=weights)],
        [order("o1", "r1")],
    )


def team(prob: Problem) -> tuple[str, ...] | None:
    result = solve(prob, PARAMS)
    assert result.status is Status.OPTIMAL, result.message
    assignment = result.assignment_of("o1")
    return assignment.helpers if assignment else None


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (PairFacts(), Standing.OUTSIDE),
        (PairFacts(in_ledger=True), Standing.MEMBER),
        (PairFacts(visits=1), Standing.MEMBER),
        (PairFacts(staff=StaffChoice.ADDED), Standing.MEMBER),
        (PairFacts(visits=3, staff=StaffChoice.REMOVED), Standing.REMOVED),
        (PairFacts(visits=3, low_scores=1), Standing.LOW_SCORE),
        (PairFacts(visits=3, low_scores=1, kept_lows=1), Standing.MEMBER),
        (PairFacts(visits=3, low_scores=2, kept_lows=1), Standing.BLOCKED),
        (PairFacts(visits=3, low_scores=2, kept_lows=2, staff=StaffChoice.ADDED), Standing.BLOCKED),
    ],
)
def test_standing_follows_the_rule(facts: PairFacts, expected: Standing) -> None:
    """A low score takes a member out unless kept; a second low score blocks, keep or not."""
    assert standing(facts) is expected


def test_good_scores_raise_the_weight_up_to_a_cap() -> None:
    """Each good score adds half a unit to the pair's continuity multiplier, at most 3."""
    assert [continuity_weight(PairFacts(visits=1, good_scores=n)) for n in (0, 1, 2, 9)] == [
        1.0,
        1.5,
        2.0,
        3.0,
    ]


def test_a_blocked_pair_is_never_assigned() -> None:
    """After two low scores the nearest helper, bo, is blocked: CP-SAT and the hand rule send
    ann instead, bo is no eligible helper (claims, candidate lists), a pin of bo breaks a hard
    rule (manual assignment) and the checker rejects a plan sending bo; alone, bo leaves the
    order unmatched."""
    blocked = {"bo": PairFacts(visits=2, low_scores=2)}
    assert team(chat_with({"bo": SERVED}, ("bo", 0.3), ("ann", 0.5))) == ("bo",)
    prob = chat_with(blocked, ("bo", 0.3), ("ann", 0.5))
    assert team(prob) == ("ann",)
    greedy = solve_greedy(prob, PARAMS).assignment_of("o1")
    assert greedy is not None and greedy.helpers == ("ann",)
    (options,) = eligible_helpers(prob)
    assert [e.helper for e in options.helpers] == ["ann"]
    pinned = prob.model_copy(update={"orders": (order("o1", "r1", pinned=("bo",)),)})
    assert broken_pins(pinned) == {"o1": [("bo", Reason.OUT_OF_REACH)]}
    assert [
        v.rule for v in check_plan(prob, [Assignment(order="o1", helpers=("bo",), start=None)])
    ] == ["blocked"]
    assert team(chat_with(blocked, ("bo", 0.3))) is None


def test_a_higher_pair_weight_changes_the_choice() -> None:
    """Two circle members: with equal weights the nearer, ann, serves; after two good scores
    for bo (weight 2) ann costs 2 continuity units more and bo serves."""
    plain = {"ann": SERVED, "bo": SERVED}
    assert team(chat_with(plain, ("ann", 0.5), ("bo", 0.8))) == ("ann",)
    liked = {"ann": SERVED, "bo": PairFacts(visits=2, good_scores=2)}
    prob = chat_with(liked, ("ann", 0.5), ("bo", 0.8))
    assert prob.resident("r1").circle_weights == (1.0, 2.0)
    assert continuity_units(prob.resident("r1"), "ann") == 1.0
    assert continuity_units(prob.resident("r1"), "bo") == 0.0
    assert team(prob) == ("bo",)


def test_a_removed_member_loses_its_continuity_preference() -> None:
    """bo, of the circle, beats the nearer stranger ann; a low score takes bo out and ann serves;
    staff keeping bo brings the preference back; staff removing bo takes it away again."""
    helpers = (("ann", 0.5), ("bo", 1.0), ("cy", 2.5))
    assert team(chat_with({"bo": SERVED, "cy": SERVED}, *helpers)) == ("bo",)
    low = PairFacts(visits=2, low_scores=1)
    assert team(chat_with({"bo": low, "cy": SERVED}, *helpers)) == ("ann",)
    kept = low.model_copy(update={"kept_lows": 1})
    assert team(chat_with({"bo": kept, "cy": SERVED}, *helpers)) == ("bo",)
    removed = PairFacts(visits=2, staff=StaffChoice.REMOVED)
    assert team(chat_with({"bo": removed, "cy": SERVED}, *helpers)) == ("ann",)


def test_the_circle_weights_must_match_the_circle() -> None:
    """A resident's weights are one per circle member (a bad length names the field)."""
    with pytest.raises(ValueError, match="circle_weights"):
        resident("r1", circle=("a", "b"), circle_weights=(1.0,))


# ----------------------------------------------------------------------------- the planner


def test_the_planner_covers_missing_skills_first_and_explains() -> None:
    """A resident living alone with one member (no nursing) gets two more helpers: first the
    nurse (covering nursing) though farther, then the nearest of the rest; a helper blocked from
    the resident and one out of reach are never proposed; a resident of another category is not
    in the target."""
    helpers = [
        PlanHelper(id="m", location=at(0.2), skills=frozenset({"companionship"})),
        PlanHelper(id="near", location=at(0.3), skills=frozenset({"companionship"})),
        PlanHelper(id="nurse", location=at(1.5), skills=frozenset({"nursing"}), load=2),
        PlanHelper(id="blocked", location=at(0.1), skills=frozenset({"nursing"})),
        PlanHelper(id="far", location=at(5.0), skills=frozenset({"nursing"})),
    ]
    residents = [
        PlanResident(
            id="r1",
            category="living_alone",
            location=at(),
            members=("m",),
            usual_skills=frozenset({"companionship", "nursing"}),
            excluded=frozenset({"blocked"}),
        ),
        PlanResident(id="r2", category="veteran", location=at()),
    ]
    (plan,) = plan_circles(residents, helpers, CircleTarget(size=3))
    assert plan.resident == "r1" and not plan.meets and plan.missing_skills == ("nursing",)
    assert [(p.helper, p.covers, p.load) for p in plan.proposals] == [
        ("nurse", ("nursing",), 2),
        ("near", (), 0),
    ]
    assert plan.proposals[0].km_one_way == pytest.approx(1.95, abs=0.01)


def test_the_planner_spreads_load_and_respects_the_cap() -> None:
    """Two residents wanting one more member each share the near helpers by load: the second
    resident gets the other helper; a helper at the cap of circles is never proposed."""
    helpers = [
        PlanHelper(id="a", location=at(0.1)),
        PlanHelper(id="b", location=at(0.2)),
        PlanHelper(id="busy", location=at(0.0), load=2),
    ]
    residents = [
        PlanResident(id=f"r{i}", category="living_alone", location=at(), members=("x", "y"))
        for i in (1, 2)
    ]
    target = CircleTarget(size=3, most_circles=2)
    plans = plan_circles(residents, helpers, target)
    assert [[p.helper for p in plan.proposals] for plan in plans] == [["a"], ["b"]]


def test_a_resident_meeting_the_target_gets_no_proposal() -> None:
    """Three members holding every usual skill meet the target: nothing is proposed."""
    helpers = [PlanHelper(id=h, location=at(0.1), skills=frozenset({"nursing"})) for h in "abcd"]
    resident_ = PlanResident(
        id="r1",
        category="living_alone",
        location=at(),
        members=("a", "b", "c"),
        usual_skills=frozenset({"nursing"}),
    )
    (plan,) = plan_circles([resident_], helpers, CircleTarget())
    assert plan.meets and plan.proposals == ()


SKILLS = ("companionship", "nursing", "cleaning", "meals")


def random_street(seed: int) -> tuple[list[PlanResident], list[PlanHelper], CircleTarget]:
    """A street of a few dozen helpers and residents scattered over 4 km, with random skills,
    radii, loads, circles, exclusions and categories (some outside the target)."""
    draw = random.Random(seed)
    helpers = [
        PlanHelper(
            id=f"h{i:02d}",
            location=at(draw.uniform(0, 4), draw.uniform(0, 4)),
            skills=frozenset(draw.sample(SKILLS, draw.randint(0, 2))),
            radius_km=draw.choice((1.5, 3.0, 5.0)),
            load=draw.randint(0, 3),
        )
        for i in range(draw.randint(5, 30))
    ]
    ids = [h.id for h in helpers]
    residents = [
        PlanResident(
            id=f"r{i:02d}",
            category=draw.choice(("living_alone", "living_alone", "veteran")),
            location=at(draw.uniform(0, 4), draw.uniform(0, 4)),
            members=tuple(draw.sample(ids, draw.randint(0, min(3, len(ids))))),
            usual_skills=frozenset(draw.sample(SKILLS, draw.randint(0, 3))),
            excluded=frozenset(draw.sample(ids, draw.randint(0, 2))),
        )
        for i in range(draw.randint(0, 40))
    ]
    target = CircleTarget(size=draw.randint(1, 4), most_circles=draw.randint(1, 5))
    return residents, helpers, target


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), page_size=st.integers(1, 7))
def test_a_page_of_the_plan_is_that_slice_of_the_whole_plan(seed: int, page_size: int) -> None:
    """On random streets, page k of the paged plan (proposals and loads included) equals the
    same slice of the whole street's plan of residents short of the target, for every k; the
    count of those short is the whole plan's, and a page past the last is the last."""
    residents, helpers, target = random_street(seed)
    short = [plan for plan in plan_circles(residents, helpers, target) if not plan.meets]
    pages = max(1, -(-len(short) // page_size))
    for k in range(1, pages + 1):
        found = plan_page(residents, helpers, target, k, page_size)
        assert found.short == len(short) and found.page == k
        assert list(found.residents) == short[(k - 1) * page_size : k * page_size]
    beyond = plan_page(residents, helpers, target, pages + 3, page_size)
    assert beyond.page == pages
    assert list(beyond.residents) == short[(pages - 1) * page_size : pages * page_size]
