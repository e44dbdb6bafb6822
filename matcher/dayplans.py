"""Every helper's feasible day plans: the sets of candidate visits one helper could do together.

A plan respects the helper's order and minute limits and can be sequenced in time (visits in
some order, each starting inside the hull of its allowed start ranges, with travel between). Using
the hull over-approximates when a helper has several availability windows, so a listed plan may
still be impossible, but no possible plan is ever missing: constraints built on the list are valid
relaxations. Plans make each helper's part of the linear relaxation exact up to that hull.
"""

from __future__ import annotations

from itertools import permutations

from matcher.candidates import OrderContext
from matcher.cpsat.constraints import conflicting_pairs, visit_span
from matcher.model import Problem

Visit = tuple[int, int]  # (order index, candidate position)


def day_plans(
    problem: Problem, contexts: list[OrderContext], helper: int, visits: list[Visit], limit: int
) -> list[tuple[Visit, ...]] | None:
    """All non-empty feasible plans of ``helper`` over ``visits``; None if more than ``limit``."""
    person = problem.helpers[helper]
    room = person.max_minutes - person.committed_minutes
    most = min(person.max_orders, len(visits))
    clash = {frozenset(p) for p in conflicting_pairs(problem, contexts, helper, visits)}
    minutes = [
        contexts[o].duration + contexts[o].candidates[k].leg.minutes_round_trip for o, k in visits
    ]
    plans: list[tuple[Visit, ...]] = []
    stack: list[tuple[tuple[int, ...], int]] = [((i,), minutes[i]) for i in range(len(visits))]
    while stack:
        chosen, used = stack.pop()
        plans.append(tuple(visits[i] for i in chosen))
        if len(plans) > limit:
            return None
        if len(chosen) == most:
            continue
        for j in range(chosen[-1] + 1, len(visits)):
            if used + minutes[j] > room or visits[j][0] in {visits[i][0] for i in chosen}:
                continue
            if any(frozenset((visits[i], visits[j])) in clash for i in chosen):
                continue
            extended = (*chosen, j)
            if len(extended) <= 2 or _sequenceable(contexts, [visits[i] for i in extended]):
                stack.append((extended, used + minutes[j]))
    return plans


def _sequenceable(contexts: list[OrderContext], plan: list[Visit]) -> bool:
    """Some order of the timed visits fits them one after another (earliest starts first)."""
    spans = (visit_span(contexts[o], k) for o, k in plan)
    timed = [(first, last, out, rest) for _, first, last, out, rest in spans if first is not None]
    if len(timed) <= 1:
        return True
    for sequence in permutations(timed):
        free_from = None  # earliest minute the helper is back home
        for first, last, out, rest in sequence:
            start = first if free_from is None else max(first, free_from + out)
            if start > last:
                break
            free_from = start + rest
        else:
            return True
    return False
