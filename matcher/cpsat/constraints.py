"""The hard rules as CP-SAT constraints, one function per family.

Skills, reach and each helper's own availability are already enforced by the candidate lists (a
helper who fails them is not a candidate); what remains couples candidates and orders.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from matcher.candidates import OrderContext
from matcher.cpsat.variables import Variables
from matcher.model import Problem


def add_full_teams(model: cp_model.CpModel, contexts: list[OrderContext], v: Variables) -> None:
    """A covered order gets exactly its team size; an uncovered one gets nobody (no partial
    teams). All members share the order's single start variable."""
    for ctx in contexts:
        team = ctx.team if ctx.team_possible(ctx.candidates) else 0
        model.add(sum(v.assign[ctx.index]) == team * v.covered[ctx.index])
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
            model.add(sum(leads) >= v.covered[ctx.index])
        if ctx.needs_language:
            speakers = [assign[k] for k, c in enumerate(ctx.candidates) if c.speaks]
            model.add(sum(speakers) >= v.covered[ctx.index])


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


def add_no_overlap(model: cp_model.CpModel, contexts: list[OrderContext], v: Variables) -> None:
    """A helper's timed visits never overlap. Fixed-time visits that share a moment also get an
    explicit at-most-one, which tightens the linear relaxation."""
    for helper, visits in v.visits.items():
        if len(visits) < 2:
            continue
        model.add_no_overlap([interval for _, _, interval in visits])
        fixed = [(o, k) for o, k, _ in visits if isinstance(v.start[o], int)]
        for clique in overlapping_fixed(contexts, fixed):
            model.add_at_most_one(v.assign[o][k] for o, k in clique)


def overlapping_fixed(
    contexts: list[OrderContext], visits: list[tuple[int, int]]
) -> list[list[tuple[int, int]]]:
    """Maximal sets of fixed-time visits of one helper that all cover a common minute."""
    spans = []
    for o, k in visits:
        ctx = contexts[o]
        leg = ctx.candidates[k].leg
        begin = (ctx.start_range or (0, 0))[0] - leg.minutes_out
        spans.append((begin, begin + ctx.duration + leg.minutes_round_trip, (o, k)))
    cliques, seen = [], set()
    for begin, _, _ in spans:
        clique = tuple(sorted(visit for b, e, visit in spans if b <= begin < e))
        if len(clique) >= 2 and clique not in seen:
            seen.add(clique)
            cliques.append(list(clique))
    return cliques


def add_daily_limits(
    model: cp_model.CpModel, problem: Problem, contexts: list[OrderContext], v: Variables
) -> None:
    """Per helper: at most ``max_orders`` orders and ``max_minutes`` minutes (service plus travel,
    on top of minutes already committed)."""
    for helper_index, pairs in v.load.items():
        helper = problem.helpers[helper_index]
        if len(pairs) > helper.max_orders:
            model.add(sum(v.assign[o][k] for o, k in pairs) <= helper.max_orders)
        minutes = [
            contexts[o].duration + contexts[o].candidates[k].leg.minutes_round_trip
            for o, k in pairs
        ]
        room = helper.max_minutes - helper.committed_minutes
        if sum(minutes) > room:
            model.add(
                sum(m * v.assign[o][k] for m, (o, k) in zip(minutes, pairs, strict=True)) <= room
            )


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
