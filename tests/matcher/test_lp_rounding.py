"""Plans rounded from the relaxations (``matcher.lp_guide.rounded_plan``), the coverage
relaxation's cost tie-break (``matcher.bound``) and the search taking those plans
(``Neighbourhoods._replace``): valid plans, pins kept, valid bounds, a plan taken only when
better, and running figures that stay the plan's own."""

from __future__ import annotations

import gc
import time

import pytest
from hypothesis import given

import matcher.lns as lns
from matcher.bound import TIE_BREAK, _Relaxation
from matcher.cpsat.objective import COST_SCALE, pair_cost
from matcher.generator import generate_street, preset
from matcher.heap import freeze_heap, long_lived_heap
from matcher.lns import Neighbourhoods, plan_value
from matcher.lp_guide import cost_guide, coverage_guide, rounded_plan
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Assignment
from matcher.solve import prepare
from matcher.verify import check_plan
from tests.matcher.strategies import problems
from tests.matcher.test_moves import PROPERTY

PARAMS = SolveParams(time_limit_s=3, workers=1, seed=0)


def _violations(prob: Problem, contexts, plans) -> list:  # type: ignore[no-untyped-def]
    assignments = [
        Assignment(
            order=contexts[i].order.id,
            helpers=tuple(prob.helpers[h].id for h in team),
            start=start,
        )
        for i, (team, start) in plans.items()
    ]
    return check_plan(prob, assignments)


def _check_figures(search: Neighbourhoods) -> None:
    """The search's running figures are its plan's own."""
    prob, contexts = search.problem, search.contexts
    value = plan_value(prob, contexts, search.plans, search.params.weights)
    assert list(value) == search.value
    km = sum(lns._km(contexts, search.plans, i) for i in search.plans)
    assert abs(km - search.km) < 1e-6
    assert search.metres == sum(lns._metres(contexts, search.plans, i) for i in search.plans)
    visits: dict[int, set[int]] = {}
    for i, (team, _) in search.plans.items():
        for helper in team:
            visits.setdefault(helper, set()).add(i)
    assert {h: v for h, v in search.visits_of.items() if v} == visits
    cap = search.cap
    if cap is not None and search.plans:
        assert km * cap.orders <= cap.km * len(search.plans) + 1e-6


@PROPERTY
@given(problems())
def test_a_rounded_plan_keeps_every_hard_rule_and_every_pin(prob: Problem) -> None:
    """On random problems (pins, teams, lead skills, languages, matrix travel), the plan rounded
    from the coverage relaxation, and from the cost relaxation at the hand rule's coverage, is
    None or breaks no hard rule and covers every pinned order."""
    _, contexts, greedy = prepare(prob, PARAMS)
    if greedy.pin_errors or any(c.pin_errors for c in contexts):
        return
    guides = [coverage_guide(prob, contexts, None, PARAMS.weights)]
    level = plan_value(prob, contexts, greedy.assignments, PARAMS.weights)[0]
    guides.append(cost_guide(prob, contexts, level, PARAMS))
    for guide in guides:
        if guide is None:
            continue
        plans = rounded_plan(prob, contexts, guide, PARAMS.weights)
        if plans is None:
            continue
        assert _violations(prob, contexts, plans) == []
        assert all(c.index in plans for c in contexts if c.pinned)


def test_a_rounded_plan_stops_at_its_deadline() -> None:
    problem = generate_street(preset("plentiful", seed=0, orders=300))
    _, contexts, _ = prepare(problem, PARAMS)
    guide = coverage_guide(problem, contexts, None, PARAMS.weights)
    assert guide is not None
    assert rounded_plan(problem, contexts, guide, PARAMS.weights, until=time.perf_counter()) is None


@pytest.mark.parametrize(("kind", "seed"), [("plentiful", 0), ("pastoral", 1), ("tiny", 2)])
def test_the_tie_break_keeps_the_coverage_and_a_valid_bound(kind: str, seed: int) -> None:
    """With cost as the tie-break, the relaxation's coverage is the plain relaxation's optimum
    (it trades no coverage for cost), its bound is at least that optimum and above it by at most
    the tie-break's share, and its solution costs no more than the plain one's."""
    orders = 400 if kind != "tiny" else None
    problem = generate_street(preset(kind, seed=seed, orders=orders))
    _, contexts, _ = prepare(problem, PARAMS)
    plain = _Relaxation(problem, contexts)
    optimum = plain.solve_coverage()
    cheap = _Relaxation(problem, contexts)
    bound = cheap.solve_coverage_cheaply(PARAMS.weights)
    assert optimum is not None and bound is not None
    covered = sum(c.weight * cheap.covered[c.index].solution_value() for c in contexts)
    assert covered == pytest.approx(optimum, rel=1e-7)
    _, most = cheap._cost_terms(PARAMS.weights)
    assert optimum - 1e-6 <= bound <= optimum + TIE_BREAK * most / COST_SCALE + 1e-6

    def cost(relaxation: _Relaxation) -> float:  # exact: every helper has day plans here
        assert set(relaxation.plan_sizes) == set(relaxation.load)
        total = sum(
            pair_cost(problem, ctx, candidate, PARAMS.weights)
            * relaxation.assign[ctx.index][k].solution_value()
            for ctx in contexts
            for k, candidate in enumerate(ctx.candidates)
        )
        unit = round(COST_SCALE * PARAMS.weights.fairness)
        for sizes in relaxation.plan_sizes.values():
            total += sum(unit * n * (n - 1) // 2 * var.solution_value() for n, var in sizes)
        return total

    assert cost(cheap) <= cost(plain) + 1e-6 * max(1.0, cost(plain))


def _search(kind: str, seed: int, orders: int) -> tuple[Problem, Neighbourhoods, dict]:
    problem = generate_street(preset(kind, seed=seed, orders=orders))
    _, contexts, greedy = prepare(problem, PARAMS)
    search = Neighbourhoods(
        problem, contexts, PARAMS, greedy.assignments, travel_reference=greedy.assignments
    )
    return problem, search, dict(greedy.assignments)


def test_a_better_plan_is_taken_and_a_worse_one_refused() -> None:
    """``_replace`` takes the rounded plan when it covers more (within the cap) and then keeps
    exact figures; it refuses the plan it just took made worse (one order dropped), and, for the
    cost stage (``cheaper``), a plan covering more at a higher cost."""
    problem, search, _ = _search("plentiful", 0, 400)
    guide = coverage_guide(problem, search.contexts, None, PARAMS.weights)
    assert guide is not None
    plans = rounded_plan(problem, search.contexts, guide, PARAMS.weights)
    assert plans is not None
    before = list(search.value)
    taken = search._replace(search._search_from(plans), cheaper=False)
    after = plan_value(problem, search.contexts, plans, PARAMS.weights)
    better = (after[0], -after[1]) > (before[0], -before[1])
    assert taken == (better and search.value == list(after))
    _check_figures(search)
    if not taken:
        return
    fewer = dict(plans)
    fewer.pop(next(iter(fewer)))
    assert not search._replace(search._search_from(fewer), cheaper=False)
    assert not search._replace(search._search_from(plans), cheaper=False)  # as good
    _check_figures(search)


def test_the_cost_stage_takes_only_a_cheaper_plan_covering_as_much() -> None:
    problem, search, _ = _search("plentiful", 1, 400)
    start = list(search.value)
    guide = coverage_guide(problem, search.contexts, None, PARAMS.weights)
    assert guide is not None
    plans = rounded_plan(problem, search.contexts, guide, PARAMS.weights)
    assert plans is not None
    value = plan_value(problem, search.contexts, plans, PARAMS.weights)
    taken = search._replace(search._search_from(plans), cheaper=True)
    assert taken == (value[0] >= start[0] and value[1] < start[1] and search.value == list(value))
    _check_figures(search)


@pytest.mark.parametrize(("kind", "seed"), [("plentiful", 0), ("pastoral", 1)])
def test_the_guided_search_takes_the_rounded_plan_and_keeps_its_figures(
    monkeypatch: pytest.MonkeyPatch, kind: str, seed: int
) -> None:
    """On generated streets of 400 orders whose windows find nothing (so the plan is the hand
    rule's until the relaxations come), the guided search takes the plan rounded from the
    coverage relaxation, and ends with a valid plan covering more than the hand rule's, within
    its km per covered order, below the relaxation's bound, its running figures its own."""
    monkeypatch.setattr(Neighbourhoods, "step", lambda *args, **kwargs: False)
    problem, search, greedy = _search(kind, seed, 400)
    began = time.perf_counter()
    outcome = search.run(began + 6, began, guided=True)
    assert outcome.rounded
    _check_figures(search)
    assert _violations(problem, search.contexts, search.plans) == []
    hand = plan_value(problem, search.contexts, greedy, PARAMS.weights)
    assert search.value[0] > hand[0]
    assert outcome.coverage_bound is not None and search.value[0] <= outcome.coverage_bound


def test_widened_cost_sweeps_end_at_a_local_optimum_of_the_widest_windows() -> None:
    _, search, _ = _search("plentiful", 2, 120)
    search._narrow(lns.COST_WINDOW_ORDERS, lns.COST_DETERMINISTIC_S)
    before = list(search.value)
    order = search._costliest_first()
    search._cost_sweeps(order, time.perf_counter() + 60, None, time.perf_counter(), widen=True)
    assert search.window == lns.WIDEST_COST_WINDOW
    assert search.value[0] >= before[0] and search.value[1] <= before[1]
    _check_figures(search)


def test_the_heap_is_frozen_only_inside_a_block() -> None:
    """``long_lived_heap`` freezes the objects alive and unfreezes them when the last block
    running ends; ``freeze_heap`` freezes more only inside a block."""
    assert gc.get_freeze_count() == 0
    freeze_heap()
    assert gc.get_freeze_count() == 0
    with long_lived_heap():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        kept = [[i] for i in range(1000)]
        freeze_heap()
        assert gc.get_freeze_count() >= frozen + len(kept)
        with long_lived_heap():
            pass
        assert gc.get_freeze_count() > 0  # the outer block still runs
    assert gc.get_freeze_count() == 0


def test_a_rounded_plan_above_the_travel_cap_is_brought_within_it() -> None:
    """With a cap 3 % below the rounded plan's km per covered order, ``_within_cap`` returns a
    valid plan within it (moves first, then the orders dropped that bring the most km down per
    weight), every pinned order kept; a plan within the cap is returned as it is."""
    problem, search, _ = _search("plentiful", 0, 400)
    contexts = search.contexts
    guide = coverage_guide(problem, contexts, None, PARAMS.weights)
    assert guide is not None
    plans = rounded_plan(problem, contexts, guide, PARAMS.weights)
    assert plans is not None
    km = sum(lns._km(contexts, plans, i) for i in plans)
    search.cap = lns.TravelCap(metres=0, km=0.97 * km, orders=len(plans))
    within = search._within_cap(search._search_from(plans), time.perf_counter() + 30)
    _check_figures(within)
    kept = within.plans
    kept_km = sum(lns._km(contexts, kept, i) for i in kept)
    assert kept_km * len(plans) <= 0.97 * km * len(kept) + 1e-6
    assert _violations(problem, contexts, kept) == []
    assert all(c.index in kept for c in contexts if c.pinned)
    assert 0.9 * len(plans) < len(kept) <= len(plans)
    search.cap = lns.TravelCap(metres=0, km=km, orders=len(plans))
    assert search._within_cap(search._search_from(plans), time.perf_counter() + 30).plans == plans
