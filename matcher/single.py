"""One order alone: its best team, found exactly by enumeration instead of a CP-SAT model.

A problem of one order (a re-match after a decline or an expiry, a claim's check) is the CP-SAT
model of ``matcher.cpsat`` with one order in it, and with one order that model's rules reduce to
what this module enumerates:

- a covered order gets exactly its team size of its candidates, its pinned members among them
  (``add_full_teams``, ``add_pins``);
- a member holding the item's lead skill and one speaking the resident's language where needed
  (``add_lead_and_language``);
- one start shared by the team, inside every member's allowed start ranges
  (``add_availability``; a member's other visits of the day are already cut out of those ranges,
  which is why ``add_no_overlap`` and ``add_daily_limits`` have nothing left to say about one
  visit per helper: a candidate's own minutes and order limit were checked when it was listed);
- coverage first, then the least cost: the sum of the members' ``pair_cost``, the model's own
  objective terms (its fairness terms start at a helper's second order of the problem, so with
  one order there are none).

So the plan returned is an optimum of the model CP-SAT would solve, over the same candidates; a
test compares the two on random streets (``tests/matcher/test_single.py``) and every plan still
goes through the verifier. It takes well under a millisecond where building and solving the
model took several, and it has no time limit to run out of.

Which optimum, when several teams cost the same: the nearest helpers first (the candidates'
order), at the hand rule's start if the team can come then (a start the hand rule would have
proposed), else at the earliest start the whole team can make.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from matcher.candidates import Candidate, OrderContext
from matcher.cpsat.objective import pair_cost
from matcher.model import Problem
from matcher.params import ObjectiveWeights

Plan = tuple[list[int], int | None]  # helper indices and start (as ``matcher.cpsat.solver.Plan``)


def best_team(
    problem: Problem,
    ctx: OrderContext,
    weights: ObjectiveWeights,
    preferred_start: int | None = None,
    costs: Mapping[int, int] | None = None,
) -> tuple[Plan, int] | None:
    """The order's cheapest full team and its start, with its scaled cost (``pair_cost`` units);
    None when no full team can be formed (or a pinned member is no candidate).
    ``preferred_start``: tried first, kept unless another start gives a cheaper team.
    ``costs``: each candidate helper's scaled cost, when not their ``pair_cost`` (the
    neighbourhood search adds the load penalty of one more order: ``matcher.moves``)."""
    by_helper = {c.helper: c for c in ctx.candidates}
    if any(h not in by_helper for h in ctx.pinned):
        return None
    pinned = [by_helper[h] for h in ctx.pinned]
    pinned_ids = set(ctx.pinned)
    if costs is None:
        costs = {c.helper: pair_cost(problem, ctx, c, weights) for c in ctx.candidates}
    cost = costs
    # Non-pinned candidates, cheapest first; equal costs keep the list's order (nearest first).
    others = sorted(
        (c for c in ctx.candidates if c.helper not in pinned_ids),
        key=lambda c: cost[c.helper],
    )
    places = ctx.team - len(pinned)
    need_lead = ctx.needs_lead and not any(c.has_lead for c in pinned)
    need_speaker = ctx.needs_language and not any(c.speaks for c in pinned)
    if places < 0:
        return None
    best: tuple[Plan, int] | None = None
    for start in _starts(ctx, preferred_start):
        if not all(_can_start(c, start) for c in pinned):
            continue
        pool = [c for c in others if _can_start(c, start)]
        team = _cheapest(pool, places, need_lead, need_speaker, cost)
        if team is None:
            continue
        total = sum(cost[c.helper] for c in pinned) + sum(cost[c.helper] for c in team)
        if best is None or total < best[1]:
            helpers = [*(c.helper for c in pinned), *(c.helper for c in team)]
            best = ((helpers, start), total)
    return best


def _starts(ctx: OrderContext, preferred: int | None) -> Sequence[int | None]:
    """The starts worth trying: every start at which some candidate's range opens (the helpers
    free at any start are all free at the latest such opening before it, so no team is missed),
    the preferred one first. Untimed orders: no start."""
    if ctx.start_range is None:
        return [None]
    lo, hi = ctx.start_range
    if lo == hi:
        return [lo]
    openings = {
        max(first, lo) for c in ctx.candidates for first, last in c.starts or () if last >= lo
    }
    starts = sorted(s for s in openings if s <= hi)
    if preferred is not None and lo <= preferred <= hi:
        starts = [preferred, *(s for s in starts if s != preferred)]
    return starts


def _can_start(candidate: Candidate, start: int | None) -> bool:
    if start is None:
        return True
    return any(first <= start <= last for first, last in candidate.starts or ())


def _cheapest(
    pool: Sequence[Candidate],
    places: int,
    need_lead: bool,
    need_speaker: bool,
    cost: Mapping[int, int],
) -> list[Candidate] | None:
    """The cheapest ``places`` of ``pool`` (sorted cheapest first) that bring a lead-skill holder
    and a speaker where still needed. Exact by exchange: an optimal team holding a member with
    everything still needed costs no less than the cheapest such member plus the cheapest
    others; one without such a member holds a lead holder and a different speaker, and costs
    no less than the cheapest lead holder, the cheapest speaker besides, and the cheapest
    others. The cheaper of those two teams (or of the cheapest ``places`` when nothing is
    needed) is optimal."""
    if places == 0:
        return [] if not (need_lead or need_speaker) else None

    def fits(c: Candidate) -> bool:
        return (c.has_lead or not need_lead) and (c.speaks or not need_speaker)

    def first(want: Callable[[Candidate], bool], taken: list[Candidate]) -> Candidate | None:
        return next((c for c in pool if want(c) and c not in taken), None)

    def fill(chosen: list[Candidate]) -> list[Candidate] | None:
        rest = [c for c in pool if c not in chosen][: places - len(chosen)]
        team = [*chosen, *rest]
        return team if len(team) == places else None

    options: list[list[Candidate] | None] = []
    whole = first(fits, [])
    if whole is not None:  # one member brings all that is needed (anyone, if nothing is)
        options.append(fill([whole]))
    if need_lead and need_speaker and places >= 2:
        lead = first(lambda c: c.has_lead, [])
        speaker = first(lambda c: c.speaks, [lead] if lead else [])
        if lead is not None and speaker is not None:
            options.append(fill([lead, speaker]))
    teams = [t for t in options if t is not None]
    if not teams:
        return None
    return min(teams, key=lambda t: sum(cost[c.helper] for c in t))
