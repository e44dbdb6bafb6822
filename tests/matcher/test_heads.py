"""Heads of rankings (``Eligibility.ranked_head``): the preparation of a solve walks only the first
helpers of each order's ranking, and gets exactly what a walk over the whole ranking gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import matcher.candidates as candidates_module
from matcher.candidates import Candidate, Eligibility, OrderContext, build_contexts
from matcher.cpsat.objective import pair_cost
from matcher.generator import generate_street, preset
from matcher.greedy import greedy_assign
from matcher.model import Problem
from matcher.params import ObjectiveWeights
from matcher.reserve import LOOK_AT, reserves
from matcher.travel import Leg
from tests.matcher.strategies import problems

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def short_heads(monkeypatch: pytest.MonkeyPatch) -> None:
    """First looks of two helpers: heads are short, so every walk goes past them."""
    monkeypatch.setattr(candidates_module, "HEAD_HELPERS", 2)


def _assert_heads_are_prefixes(problem: Problem, together: bool = False) -> None:
    """Every head, and every longer head after it, is the start of the whole ranking (bit for
    bit), and the last one is the whole ranking; ``ranked_among`` picks from the ranking.
    ``together``: the first heads are found for all orders at once (``prepare_heads``)."""
    eligibility = Eligibility(problem, 0.1)
    reference = Eligibility(problem, 0.1)
    contexts = [eligibility.context(i, o) for i, o in enumerate(problem.orders)]
    if together:
        eligibility.prepare_heads(contexts)
    for index, order in enumerate(problem.orders):
        ctx = contexts[index]
        whole = reference.ranked(reference.context(index, order))
        head = eligibility.ranked_head(ctx)
        while True:
            size = len(head.indices)
            for part, full in zip((head.indices, head.km, head.minutes), whole, strict=True):
                assert part.tolist() == full[:size].tolist()
            if not head.complete:
                assert all(k <= head.km_rt for k in head.km.tolist())
                assert all(k > head.km_rt for k in whole[1][size:].tolist())
            if head.complete:
                assert size == len(whole[0])
                break
            longer = eligibility.ranked_more(ctx)
            assert longer.complete or len(longer.indices) > size
            head = longer
        some = np.arange(0, len(problem.helpers), 3, dtype=np.int64)
        picked = reference.ranked_among(reference.context(index, order), some)
        keep = np.isin(whole[0], some)
        for part, full in zip(picked, whole, strict=True):
            assert part.tolist() == full[keep].tolist()


@PROPERTY
@given(problems())
def test_heads_are_prefixes_of_the_ranking_on_random_problems(
    short_heads: None, problem: Problem
) -> None:
    """On random problems (geo and matrix travel), heads are exact prefixes of the ranking,
    found order by order or all at once."""
    _assert_heads_are_prefixes(problem)
    _assert_heads_are_prefixes(problem, together=True)


@pytest.mark.parametrize("together", [False, True])
@pytest.mark.parametrize(("name", "seed"), [("plentiful", 1), ("pastoral", 2), ("scarce", 3)])
def test_heads_are_prefixes_of_the_ranking_on_generated_streets(
    name: str, seed: int, together: bool
) -> None:
    """On generated streets, with the first look as it adapts (order by order) or from the
    helpers' density (all at once), heads are exact prefixes."""
    _assert_heads_are_prefixes(generate_street(preset(name, seed=seed, orders=200)), together)


def test_heads_found_together_are_short_on_a_dense_street() -> None:
    """On a dense street most orders' first heads are found at once and are not the whole
    ranking (which is what makes them cheap), and each is an exact prefix."""
    problem = generate_street(preset("plentiful", seed=7, orders=1500))
    eligibility = Eligibility(problem, 0.1)
    contexts = [eligibility.context(i, o) for i, o in enumerate(problem.orders)]
    eligibility.prepare_heads(contexts)
    heads = [eligibility._heads.get(c.index) for c in contexts]
    assert sum(h is not None and not h.complete for h in heads) > len(contexts) / 2
    reference = Eligibility(problem, 0.1)
    for ctx, head in zip(contexts[:300], heads[:300], strict=True):
        assert head is not None
        whole = reference.ranked(reference.context(ctx.index, ctx.order))
        assert head.indices.tolist() == whole[0][: len(head.indices)].tolist()
        assert head.km.tolist() == whole[1][: len(head.indices)].tolist()


def _whole_walk(problem: Problem) -> tuple[Eligibility, list[OrderContext]]:
    """Candidate lists made with every order's whole ranking known (its head is the ranking)."""
    eligibility = Eligibility(problem, 0.1)
    contexts = []
    for index, order in enumerate(problem.orders):
        ctx = eligibility.context(index, order)
        eligibility.ranked(ctx)
        candidates_module._fill_candidates(eligibility, ctx, 4)
        contexts.append(ctx)
    return eligibility, contexts


@pytest.mark.parametrize("short", [False, True])
@pytest.mark.parametrize(("name", "seed"), [("plentiful", 4), ("pastoral", 5)])
def test_candidates_and_hand_rule_equal_the_whole_walk(
    monkeypatch: pytest.MonkeyPatch, name: str, seed: int, short: bool
) -> None:
    """Candidate lists (circle members included) and the hand rule's plan are the same from heads
    as from whole rankings, and the heads leave most rankings unmade on a dense street."""
    if short:
        monkeypatch.setattr(candidates_module, "HEAD_HELPERS", 2)
    problem = generate_street(preset(name, seed=seed, orders=400))
    eligibility, contexts = build_contexts(problem, 0.1, 4)
    plan = greedy_assign(problem, eligibility, contexts)
    whole, whole_contexts = _whole_walk(problem)
    whole_plan = greedy_assign(problem, whole, whole_contexts)
    assert [c.candidates for c in contexts] == [c.candidates for c in whole_contexts]
    assert [c.blocked_reason for c in contexts] == [c.blocked_reason for c in whole_contexts]
    assert plan.assignments == whole_plan.assignments
    assert any(c.order.pinned or problem.resident(c.order.resident).circle for c in contexts)
    if name == "plentiful" and not short:
        assert len(eligibility._ranked) < len(contexts) / 2  # most walks stopped in the head


def _reserves_over_whole(
    problem: Problem,
    eligibility: Eligibility,
    contexts: list[OrderContext],
    teams: dict[int, tuple[int, ...]],
    weights: ObjectiveWeights,
    size: int,
) -> dict[str, tuple[str, ...]]:
    """The former reserves: over the whole ranking."""
    out: dict[str, tuple[str, ...]] = {}
    for ctx in contexts:
        indices, km_rt, minutes = eligibility.ranked(ctx)
        team = set(teams.get(ctx.index, ())) | set(ctx.pinned)
        circle = {eligibility.helper_index[h] for h in problem.resident(ctx.order.resident).circle}
        head = indices[: LOOK_AT * size + len(team)].tolist()
        nearest = [p for p, i in enumerate(head) if i not in team][: LOOK_AT * size]
        in_circle = np.flatnonzero(np.isin(indices, list(circle - team))).tolist()
        looked: list[Candidate] = []
        for position in sorted(set(nearest) | set(in_circle)):
            leg = Leg(float(km_rt[position]), int(minutes[position]))
            looked.append(eligibility.candidate(ctx, int(indices[position]), leg))
        looked.sort(key=lambda c: (pair_cost(problem, ctx, c, weights), c.leg.km_round_trip))
        if looked:
            out[ctx.order.id] = tuple(problem.helpers[c.helper].id for c in looked[:size])
    return out


@pytest.mark.parametrize("short", [False, True])
def test_reserves_from_heads_equal_the_whole_ranking(
    monkeypatch: pytest.MonkeyPatch, short: bool
) -> None:
    """Reserves ranked from heads (circle members beyond them looked up alone) are those ranked
    over the whole ranking."""
    if short:
        monkeypatch.setattr(candidates_module, "HEAD_HELPERS", 2)
    problem = generate_street(preset("plentiful", seed=6, orders=300))
    eligibility, contexts = build_contexts(problem, 0.1, 4)
    plan = greedy_assign(problem, eligibility, contexts).assignments
    teams = {i: tuple(team) for i, (team, _) in plan.items()}
    weights = ObjectiveWeights()
    mine = reserves(problem, eligibility, contexts, teams, weights, 3)
    whole = Eligibility(problem, 0.1)
    theirs = _reserves_over_whole(problem, whole, contexts, teams, weights, 3)
    assert mine == theirs and mine
