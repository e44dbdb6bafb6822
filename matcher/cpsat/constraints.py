"""The hard rules as CP-SAT constraints, one function per family.

Skills, reach and each helper's own availability are already enforced by the candidate lists (a
helper who fails them is not a candidate); what remains couples candidates and orders.
"""

from __future__ import annotations

from bisect import bisect_right

from ortools.sat.python import cp_model

from matcher.candidates import OrderContext
from matcher.cpsat.variables import Variables
from matcher.model import Problem


def add_full_teams(model: cp_model.CpModel, contexts: list[OrderContext], v: Variables) -> None:
    """A covered order gets exactly its team size; an uncovered one gets nobody (no partial
    teams). All members share the order's single start variable."""
    for ctx in contexts:
        team = ctx.team if ctx.team_possible(ctx.candidates) else 0
        model.add(_sum(v.assign[ctx.index]) == team * v.covered[ctx.index])
        if team == 0:
            model.add(v.covered[ctx.index] == 0)


def add_lead_and_language(
    model: cp_model.CpModel, contexts: list[OrderContext], v: Variables
) -> None:
    """At least one member holds the item's lead skill / speaks the resident's language."""
    for ctx in contexts:
        assign = v.assign[ctx.index]
        if ctx.needs_lead:
            leads = [assign[k] for k, c in enumerate(ctx.candidates) if c.has_lead]
            model.add(_sum(leads) >= v.covered[ctx.index])
        if ctx.needs_language:
            speakers = [assign[k] for k, c in enumerate(ctx.candidates) if c.speaks]
            model.add(_sum(speakers) >= v.covered[ctx.index])


def add_availability(model: cp_model.CpModel, contexts: list[OrderContext], v: Variables) -> None:
    """A member's visit, travel included, lies inside one of their availability windows: the
    shared start must lie in that member's allowed start ranges."""
    for ctx in contexts:
        start = v.start[ctx.index]
        if start is None or isinstance(start, int):
            continue  # untimed, or a fixed start already checked per candidate
        lo, hi = ctx.start_range or (0, 0)
        for k, candidate in enumerate(ctx.candidates):
            ranges = list(candidate.starts or ())
            if ranges == [(lo, hi)]:
                continue
            domain = cp_model.Domain.from_intervals([list(r) for r in ranges])
            model.add_linear_expression_in_domain(start, domain).only_enforce_if(
                v.assign[ctx.index][k]
            )


def add_no_overlap(
    model: cp_model.CpModel, problem: Problem, contexts: list[OrderContext], v: Variables
) -> None:
    """A helper's timed visits never overlap. Pairs of visits one helper can never do both of
    (no order of the two fits their start ranges, or together they exceed the day's minutes or
    order limit) also get an explicit at-most-one: CP-SAT merges these into cliques, which
    tightens the linear relaxation far more than no-overlap alone."""
    for visits in v.visits.values():
        # Fixed-start visits overlap or not whatever the solution: for them the conflict cliques
        # below say everything no-overlap would, so it is only posted where a start can move.
        if len(visits) >= 2 and any(not isinstance(v.start[o], int) for o, _, _ in visits):
            model.add_no_overlap([interval for _, _, interval in visits])
    for helper, pairs in v.load.items():
        if len(pairs) < 2:
            continue  # nothing to conflict with (most helpers of a neighbourhood's window)
        for clique in conflict_cliques(problem, contexts, helper, pairs):
            model.add_at_most_one(v.assign[o][k] for o, k in clique)


def conflict_cliques(
    problem: Problem, contexts: list[OrderContext], helper: int, pairs: list[tuple[int, int]]
) -> list[list[tuple[int, int]]]:
    """Cover the helper's conflicting pairs with greedily grown cliques (sets of visits of which
    the helper can do at most one)."""
    conflicts = conflicting_pairs(problem, contexts, helper, pairs)
    return cliques_of(pairs, conflicts) if conflicts else []


def cliques_of(
    pairs: list[tuple[int, int]], conflicts: list[tuple[tuple[int, int], ...]]
) -> list[list[tuple[int, int]]]:
    """Cover the ``conflicts`` (pairs of visits) among ``pairs`` with greedily grown cliques."""
    neighbours: dict[tuple[int, int], set[tuple[int, int]]] = {p: set() for p in pairs}
    for a, b in conflicts:
        neighbours[a].add(b)
        neighbours[b].add(a)
    covered: set[frozenset[tuple[int, int]]] = set()
    cliques = []
    for a in pairs:
        for b in sorted(neighbours[a]):
            if frozenset((a, b)) in covered:
                continue
            clique = [a, b]
            for c in sorted(neighbours[a] & neighbours[b]):
                if all(c in neighbours[d] for d in clique):
                    clique.append(c)
            covered.update(frozenset((x, y)) for x in clique for y in clique if x != y)
            cliques.append(clique)
    return cliques


def conflicting_pairs(
    problem: Problem, contexts: list[OrderContext], helper: int, pairs: list[tuple[int, int]]
) -> list[tuple[tuple[int, int], ...]]:
    """Pairs of (order, candidate position) that ``helper`` can never serve both of."""
    room = problem.helpers[helper].max_minutes - problem.helpers[helper].committed_minutes
    if problem.helpers[helper].max_orders < 2:
        return []  # the order limit alone already allows at most one
    spans = [visit_span(contexts[o], k) for o, k in pairs]
    found: set[tuple[int, int]] = set()
    # Too long together: with the visits sorted by minutes, each one's partners are a suffix
    # (quick even for thousands of untimed visits, where testing every pair is not).
    by_minutes = sorted(range(len(pairs)), key=lambda i: spans[i][0])
    minutes = [spans[i][0] for i in by_minutes]
    for position, a in enumerate(by_minutes):
        first = bisect_right(minutes, room - spans[a][0], lo=position + 1)
        found.update((min(a, b), max(a, b)) for b in by_minutes[first:])
    found.update(_never_apart_pairs(spans, found))
    return [(pairs[a], pairs[b]) for a, b in sorted(found) if pairs[a][0] != pairs[b][0]]


def never_apart_pairs(
    contexts: list[OrderContext], pairs: list[tuple[int, int]]
) -> list[tuple[tuple[int, int], ...]]:
    """Pairs of (order, candidate position) of one helper that no order of the two fits their
    start ranges: the timing part of ``conflicting_pairs``."""
    spans = [visit_span(contexts[o], k) for o, k in pairs]
    found = _never_apart_pairs(spans, set())
    return [(pairs[a], pairs[b]) for a, b in sorted(found) if pairs[a][0] != pairs[b][0]]


def _never_apart_pairs(spans: list[Span], known: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Never apart: only timed visits have start ranges to compare (pairs in ``known`` skipped)."""
    found: set[tuple[int, int]] = set()
    timed = [i for i, span in enumerate(spans) if span[1] is not None]
    for x, a in enumerate(timed):
        for b in timed[x + 1 :]:
            if (a, b) not in known and _never_apart(spans[a], spans[b]):
                found.add((a, b))
    return found


Span = tuple[int, int | None, int, int, int]  # minutes, first start, last start, before, after


def visit_span(ctx: OrderContext, k: int) -> Span:
    """A candidate visit's minutes of the day and, if timed, the hull of its start ranges with
    the minutes before the start (travel out) and after it (service and travel back)."""
    candidate = ctx.candidates[k]
    leg = candidate.leg
    minutes = ctx.duration + leg.minutes_round_trip
    if candidate.starts is None:
        return (minutes, None, 0, 0, 0)
    first = min(lo for lo, _ in candidate.starts)
    last = max(hi for _, hi in candidate.starts)
    return (minutes, first, last, leg.minutes_out, ctx.duration + leg.minutes_back)


def _never_apart(a: Span, b: Span) -> bool:
    """Two timed visits cannot be ordered either way within their start ranges."""
    if a[1] is None or b[1] is None:
        return False
    a_then_b = a[1] + a[4] + b[3] <= b[2]
    b_then_a = b[1] + b[4] + a[3] <= a[2]
    return not (a_then_b or b_then_a)


def add_daily_limits(
    model: cp_model.CpModel, problem: Problem, contexts: list[OrderContext], v: Variables
) -> None:
    """Per helper: at most ``max_orders`` orders and ``max_minutes`` minutes (service plus travel,
    on top of minutes already committed)."""
    for helper_index, pairs in v.load.items():
        helper = problem.helpers[helper_index]
        if len(pairs) > helper.max_orders:
            model.add(_sum([v.assign[o][k] for o, k in pairs]) <= helper.max_orders)
        minutes = [
            contexts[o].duration + contexts[o].candidates[k].leg.minutes_round_trip
            for o, k in pairs
        ]
        room = helper.max_minutes - helper.committed_minutes
        if sum(minutes) > room:
            assign = [v.assign[o][k] for o, k in pairs]
            model.add(cp_model.LinearExpr.weighted_sum(assign, minutes) <= room)


def _sum(variables: list[cp_model.IntVar]) -> cp_model.LinearExprT:
    """``sum(variables)`` as one expression (the same constraint, built in fewer steps)."""
    return cp_model.LinearExpr.sum(variables) if variables else 0


def add_pins(model: cp_model.CpModel, contexts: list[OrderContext], v: Variables) -> None:
    """Already-accepted helpers stay on their order, which stays covered."""
    for ctx in contexts:
        if not ctx.pinned:
            continue
        model.add(v.covered[ctx.index] == 1)
        positions = {c.helper: k for k, c in enumerate(ctx.candidates)}
        for helper in ctx.pinned:
            if helper in positions:
                model.add(v.assign[ctx.index][positions[helper]] == 1)
            else:
                model.add_bool_or([])  # a pin that is no candidate: the model is infeasible
