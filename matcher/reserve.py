"""The reserve: per order, the helpers a solve would ask next should a member decline.

A decline's re-match asks the reserve first (``api.services.offers.rematch``): a problem of a few
helpers solves in milliseconds, where one of the whole street's helpers near the order costs
tens. The reserve is ranked by the cost the solve minimises (``pair_cost``: travel, continuity,
preference) among every helper eligible for the order on their own account at solve time
(``Eligibility.ranked``: skills, reach, a free slot, room in the day), the team excluded. It is
a hint, never a decision: the re-match still solves and verifies with each helper's day as it
then is, and falls back to the whole street when nobody in the reserve can come.
"""

from __future__ import annotations

from collections.abc import Mapping

from matcher.candidates import Candidate, Eligibility, OrderContext, ranked_members
from matcher.cpsat.objective import pair_cost
from matcher.model import Problem
from matcher.params import ObjectiveWeights
from matcher.travel import Leg

# Nearest helpers looked at per place kept: cost also counts continuity and preference, so a
# helper a little farther may rank first.
LOOK_AT = 3


def reserves(
    problem: Problem,
    eligibility: Eligibility,
    contexts: list[OrderContext],
    teams: Mapping[int, tuple[int, ...]],
    weights: ObjectiveWeights,
    size: int,
) -> dict[str, tuple[str, ...]]:
    """Per order (matcher id), up to ``size`` helper ids, cheapest first: the nearest
    ``LOOK_AT × size`` eligible helpers and the resident's circle, ranked by ``pair_cost``.
    ``teams``: per order index, the helper indices the plan sends (left out)."""
    if size <= 0:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    helpers = problem.helpers
    for ctx in contexts:
        team = set(teams.get(ctx.index, ())) | set(ctx.pinned)
        circle = {eligibility.helper_index[h] for h in problem.resident(ctx.order.resident).circle}
        # The head of the ranking the nearest places need (``Eligibility.ranked_at_least``),
        # circle members beyond it looked up alone: as over the whole ranking, for less.
        head = eligibility.ranked_at_least(ctx, LOOK_AT * size + len(team))
        nearest = [
            (int(i), Leg(float(k), int(m)))
            for i, k, m in zip(
                head.indices[: LOOK_AT * size + len(team)].tolist(),
                head.km.tolist(),
                head.minutes.tolist(),
                strict=False,
            )
            if i not in team
        ][: LOOK_AT * size]
        chosen = {i for i, _ in nearest}
        in_circle = ranked_members(eligibility, ctx, head, circle - team - chosen)
        # In the ranking's order, as before (ties of cost and km keep it).
        merged = sorted(nearest + in_circle, key=lambda p: (p[1].km_round_trip, p[0]))
        looked: list[Candidate] = [eligibility.candidate(ctx, i, leg) for i, leg in merged]
        looked.sort(key=lambda c: (pair_cost(problem, ctx, c, weights), c.leg.km_round_trip))
        if looked:
            out[ctx.order.id] = tuple(helpers[c.helper].id for c in looked[:size])
    return out
