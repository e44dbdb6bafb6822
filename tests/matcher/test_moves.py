"""One-order moves (``matcher.moves``): the same rule as the hand rule's booking, the same
optimum as CP-SAT's one-order window, and a search whose running figures stay exact."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings

import matcher.lns as lns
from matcher.generator import generate_street, preset
from matcher.greedy import HelperDay, _free, book, fitting, unbook
from matcher.lns import Neighbourhood, Neighbourhoods, plan_value
from matcher.model import Problem
from matcher.moves import OrderMoves
from matcher.params import SolveParams
from matcher.result import Assignment
from matcher.solve import prepare
from matcher.verify import check_plan
from tests.matcher.strategies import problems

PARAMS = SolveParams(time_limit_s=3, workers=1, seed=0)
ROOMY_ORDERS, ROOMY_MINUTES = 10, 10_000
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _plan(prob: Problem):  # type: ignore[no-untyped-def]
    """The contexts and the hand rule's plan; None when the hand rule breaks a pin."""
    _, contexts, greedy = prepare(prob, PARAMS)
    if greedy.pin_errors or any(c.pin_errors for c in contexts):
        return None
    return contexts, {i: (list(t), s) for i, (t, s) in greedy.assignments.items()}


def _check_fitting(ctx, candidate, day: HelperDay) -> None:  # type: ignore[no-untyped-def]
    fitted = fitting(ctx, candidate, day)
    if candidate.starts is None:
        assert (fitted is not None) == _free(ctx, candidate, day, None)
        return
    allowed = {s for lo, hi in candidate.starts for s in range(lo, hi + 1)}
    free = {s for s in allowed if _free(ctx, candidate, day, s)}
    kept = set()
    if fitted is not None:
        kept = {s for lo, hi in fitted.starts or () for s in range(lo, hi + 1)}
    assert kept == free


STREETS = [(kind, seed) for kind in ("plentiful", "pastoral") for seed in (0, 1)]


@pytest.mark.parametrize(("kind", "seed"), STREETS)
def test_the_properties_on_generated_streets(kind: str, seed: int) -> None:
    """The properties below on small generated streets too, where helpers have many
    timed candidate visits and the hand rule's plan leaves cheaper teams to find."""
    street = generate_street(preset(kind, seed=seed, orders=40))
    for prop in (
        test_fitting_cuts_the_starts_the_booking_rule_refuses,
        test_a_move_is_the_one_order_windows_optimum,
        test_a_two_order_move_saves_what_it_says,
        test_order_moves_keep_the_plan_valid_and_its_figures_exact,
    ):
        prop.hypothesis.inner_test(street)  # type: ignore[attr-defined]


@PROPERTY
@given(problems())
def test_fitting_cuts_the_starts_the_booking_rule_refuses(prob: Problem) -> None:
    """A candidate's starts cut by ``fitting`` are exactly those of its allowed starts at which
    ``_free`` (the hand rule's booking rule) lets the visit in, None when none is; an untimed
    candidate fits exactly when its day has room. Checked on the days of the hand rule's plan
    and on roomy days holding one other visit of the helper at nine starts across its range;
    unbooking that visit restores the day."""
    found = _plan(prob)
    if found is None:
        return
    contexts, plans = found
    moves = OrderMoves(prob, contexts, plans, PARAMS.weights)
    visits = [(ctx, c) for ctx in contexts for c in ctx.candidates]
    for ctx, candidate in visits:
        _check_fitting(ctx, candidate, moves.days[candidate.helper])
    for ctx, candidate in visits:
        if not candidate.starts:
            continue
        lo, hi = candidate.starts[0]
        for start in range(lo, hi + 1, max(1, (hi - lo) // 8)):
            day = HelperDay(ROOMY_ORDERS, ROOMY_MINUTES)  # the time cut alone
            empty = HelperDay(day.orders_left, day.minutes_left)
            book(day, ctx, candidate, start)
            for other_ctx, other in visits:
                if other.helper == candidate.helper and other_ctx is not ctx:
                    _check_fitting(other_ctx, other, day)
            unbook(day, ctx, candidate, start)
            assert day == empty


@PROPERTY
@given(problems())
def test_a_move_is_the_one_order_windows_optimum(prob: Problem) -> None:
    """For every order of the hand rule's plan, with every other visit held: the move's best
    team costs what CP-SAT's window of that one order proves cheapest (or, when CP-SAT finds
    nothing cheaper, no less than the order's plan); an unplanned order gets a team exactly
    when CP-SAT's window can cover it."""
    found = _plan(prob)
    if found is None:
        return
    contexts, plans = found
    moves = OrderMoves(prob, contexts, plans, PARAMS.weights)
    for ctx in contexts:
        order = ctx.index
        old = plans.get(order)
        best = moves.best(order, old)
        window = Neighbourhood(prob, contexts, plans, [order], PARAMS.weights)
        objective = "cost" if old is not None else "coverage"
        exact = window.solve(PARAMS, time.perf_counter() + 5.0, 1.0, objective)
        if old is None:
            assert (best is None) == (exact is None)
            continue
        full_old = plan_value(prob, contexts, plans, PARAMS.weights)[1]
        if exact is None:
            assert best is None or best[1] >= moves.cost(order, old)
            continue
        assert best is not None
        by_cpsat = plan_value(prob, contexts, plans | exact, PARAMS.weights)[1]
        by_move = plan_value(prob, contexts, plans | {order: best[0]}, PARAMS.weights)[1]
        assert by_move == by_cpsat < full_old
        assert full_old - by_move == moves.cost(order, old) - best[1]


@PROPERTY
@given(problems())
def test_a_two_order_move_saves_what_it_says(prob: Problem) -> None:
    """For every order of the hand rule's plan, a two-order move (another order moved off a
    cheaper helper, then the order's cheapest team) changes only those two orders, keeps
    every other plan and the coverage, and lowers the plan's cost by exactly the saving it
    reports, which is positive."""
    found = _plan(prob)
    if found is None:
        return
    contexts, plans = found
    visits_of: dict[int, set[int]] = {}
    for order, (team, _) in plans.items():
        for helper in team:
            visits_of.setdefault(helper, set()).add(order)
    moves = OrderMoves(prob, contexts, plans, PARAMS.weights)
    before = plan_value(prob, contexts, plans, PARAMS.weights)
    for order in plans:
        paired = moves.cheaper_by_moving(order, plans, visits_of)
        if paired is None:
            continue
        changes, saving = paired
        assert [o for o, _, _ in changes][1] == order and len(changes) == 2
        assert all(plans[o] == old for o, old, _ in changes)
        trial = plans | {o: new for o, _, new in changes}
        after = plan_value(prob, contexts, trial, PARAMS.weights)
        assert saving > 0 and after == (before[0], before[1] - saving)


@PROPERTY
@given(problems())
def test_order_moves_keep_the_plan_valid_and_its_figures_exact(prob: Problem) -> None:
    """Sweeps of one-order moves (inserting open orders too), then with two-order moves (one
    order taking a cheaper helper another order moves off), from the hand rule's plan give a
    plan that breaks no hard rule, covers at least as much, costs no more, keeps within the hand
    rule's km per covered order, and whose running coverage, cost, km and metres are the
    plan's own."""
    found = _plan(prob)
    if found is None:
        return
    contexts, plans = found
    search = Neighbourhoods(prob, contexts, PARAMS, plans, travel_reference=plans)
    before = list(search.value)
    orders = [c.index for c in contexts]
    for _ in range(3):
        search.order_moves(orders, time.perf_counter() + 5.0, insert=True)
    inserted = plan_value(prob, contexts, search.plans, PARAMS.weights)
    assert list(inserted) == search.value
    for _ in range(2):
        search.order_moves(orders, time.perf_counter() + 5.0, pairs=True)
        now = plan_value(prob, contexts, search.plans, PARAMS.weights)
        assert list(now) == search.value
        assert now[0] == inserted[0] and now[1] <= inserted[1]  # two-order moves: only cheaper
    after = plan_value(prob, contexts, search.plans, PARAMS.weights)
    assert after[0] >= before[0] and (after[0] > before[0] or after[1] <= before[1])
    assert search.metres == sum(lns._metres(contexts, search.plans, i) for i in search.plans)
    km = sum(lns._km(contexts, search.plans, i) for i in search.plans)
    assert abs(km - search.km) < 1e-6
    cap = search.cap
    if cap is not None and search.plans:
        assert km * cap.orders <= cap.km * len(search.plans) + 1e-6
    assignments = [
        Assignment(
            order=contexts[i].order.id,
            helpers=tuple(prob.helpers[h].id for h in team),
            start=start,
        )
        for i, (team, start) in search.plans.items()
    ]
    assert check_plan(prob, assignments) == []
