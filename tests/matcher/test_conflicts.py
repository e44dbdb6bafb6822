"""``conflicting_pairs`` (sorted by minutes, then timed pairs) finds exactly the pairs a direct
test of every pair finds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from matcher.candidates import build_contexts
from matcher.cpsat.constraints import _never_apart, conflicting_pairs, visit_span
from matcher.model import Problem
from tests.matcher.strategies import problems


def _every_pair(problem: Problem, contexts, helper: int, pairs) -> list:  # type: ignore[no-untyped-def]
    person = problem.helpers[helper]
    room = person.max_minutes - person.committed_minutes
    if person.max_orders < 2:
        return []
    spans = [visit_span(contexts[o], k) for o, k in pairs]
    return [
        (pairs[a], pairs[b])
        for a in range(len(pairs))
        for b in range(a + 1, len(pairs))
        if pairs[a][0] != pairs[b][0]
        and (spans[a][0] + spans[b][0] > room or _never_apart(spans[a], spans[b]))
    ]


@settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(problems())
def test_conflicting_pairs_match_every_pair_tested(prob: Problem) -> None:
    """For every helper, the quick search returns the very pairs, in the same order, that
    testing all pairs returns."""
    _, contexts = build_contexts(prob, 0.1, None)
    load: dict[int, list[tuple[int, int]]] = {}
    for ctx in contexts:
        for k, candidate in enumerate(ctx.candidates):
            load.setdefault(candidate.helper, []).append((ctx.index, k))
    for helper, pairs in load.items():
        assert conflicting_pairs(prob, contexts, helper, pairs) == _every_pair(
            prob, contexts, helper, pairs
        )
