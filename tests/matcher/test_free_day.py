"""``free_day``: the helpers who could decide an order with their whole day free are all a problem
of any day needs to find each order's eligible helpers and reason, once the orders no day can
staff bring the reason found with every helper present (``settled``)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.eligible import OrderOptions, eligible_helpers, free_day
from matcher.generator import generate_street, preset
from matcher.model import Helper, MatrixTravel, Problem, TimeWindow
from matcher.result import Reason
from tests.matcher.strategies import problems

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _taken(helper: Helper, rng: random.Random) -> Helper:
    """The helper with some of their day taken: visits that hold a stretch of their availability,
    an order of their limit and minutes (what ``api.services.matching.problem`` applies)."""
    if rng.random() < 0.4:
        return helper
    windows = [(w.start, w.end) for w in helper.availability]
    visits = rng.randint(1, 3)
    for _ in range(visits):
        if not windows:
            break
        start, end = windows.pop(rng.randrange(len(windows)))
        a = rng.randint(start, end)
        b = rng.randint(a, end)
        windows += [(lo, hi) for lo, hi in ((start, a), (b, end)) if hi > lo]
    return helper.model_copy(
        update={
            "availability": tuple(TimeWindow(start=a, end=b) for a, b in sorted(windows)),
            "max_orders": max(0, helper.max_orders - visits),
            "committed_minutes": helper.committed_minutes + rng.randint(0, 90 * visits),
        }
    )


def _day_of(problem: Problem, rng: random.Random) -> Problem:
    return problem.model_copy(update={"helpers": tuple(_taken(h, rng) for h in problem.helpers)})


def _only(problem: Problem, keep: set[str]) -> Problem:
    """``problem`` with only the helpers in ``keep`` (and the orders' pinned members), circles
    cut to them, as ``api.services.matching.problem`` builds a problem of a few helpers."""
    keep = keep | {h for order in problem.orders for h in order.pinned}
    helpers = tuple(h for h in problem.helpers if h.id in keep)
    residents = []
    for r in problem.residents:
        weights = r.circle_weights or (1.0,) * len(r.circle)
        pairs = [(h, w) for h, w in zip(r.circle, weights, strict=True) if h in keep]
        cut: dict[str, object] = {"circle": tuple(h for h, _ in pairs)}
        if r.circle_weights:
            cut["circle_weights"] = tuple(w for _, w in pairs)
        residents.append(r.model_copy(update=cut))
    update: dict[str, object] = {"helpers": helpers, "residents": tuple(residents)}
    if isinstance(problem.travel, MatrixTravel):
        legs = tuple(leg for leg in problem.travel.legs if leg.helper in keep)
        update["travel"] = MatrixTravel(legs=legs)
    return Problem.model_validate(problem.model_copy(update=update).model_dump())


def _same_answers(problem: Problem, rng: random.Random) -> list[OrderOptions]:
    answer = free_day(problem)
    for reason in answer.settled.values():
        assert reason in (Reason.NO_SKILL, Reason.OUT_OF_REACH, Reason.NOT_FREE)
    day = _day_of(problem, rng)
    whole = eligible_helpers(day)
    cut = eligible_helpers(_only(day, set(answer.deciders)), settled=answer.settled)
    assert cut == whole
    for options in whole:  # a settled order is blocked on every day, for the settled reason
        if options.order in answer.settled:
            assert options.blocked_reason == answer.settled[options.order]
    return whole


@PROPERTY
@given(problems(), st.integers(0, 2**32 - 1))
def test_the_deciders_find_what_every_helper_finds_on_any_day(problem: Problem, seed: int) -> None:
    _same_answers(problem, random.Random(seed))


def test_the_deciders_find_what_every_helper_finds_on_generated_streets() -> None:
    """Streets of a few hundred helpers with days partly taken: every order's eligible helpers,
    distances and reason are the whole street's, for orders no day can staff too."""
    reasons: set[Reason | None] = set()
    settled = 0
    for name, seed in [("tiny", 5), ("scarce", 3), ("pastoral", 1), ("plentiful", 8)]:
        problem = generate_street(preset(name, seed=seed, orders=60))
        settled += len(free_day(problem).settled)
        for round in range(3):
            whole = _same_answers(problem, random.Random(seed * 10 + round))
            reasons |= {o.blocked_reason for o in whole}
    # Both kinds of orders were compared: those a team can serve, and blocked ones.
    assert None in reasons and len(reasons) >= 3
    assert settled >= 1
