"""Who could serve each order on their own account, for people choosing by hand: a helper
listing orders to claim, staff picking a team from a ranked list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from matcher.candidates import Eligibility, before_limits, build_contexts
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Reason


@dataclass(frozen=True)
class Eligible:
    """One helper able to serve one order (skills, reach, a free slot, room in their day)."""

    helper: str
    km_one_way: float
    minutes_round_trip: int
    in_circle: bool
    has_lead: bool
    speaks: bool
    gender_mismatch: bool


@dataclass(frozen=True)
class OrderOptions:
    order: str
    team: int
    helpers: tuple[Eligible, ...]  # nearest first (circle members included wherever they are)
    blocked_reason: Reason | None  # why no team can be formed, if none can


def eligible_helpers(
    problem: Problem,
    params: SolveParams | None = None,
    settled: Mapping[str, Reason] | None = None,
) -> list[OrderOptions]:
    """For every order of ``problem``, every helper who could serve it, nearest first.

    ``settled``: orders a ``FreeDay`` answer found no day can staff, with its reason, when
    ``problem`` holds only that answer's ``deciders`` (and maybe more): the orders' helpers are
    all there, but why no team can be formed was decided with every helper present."""
    params = params or SolveParams()
    settled = settled or {}
    _, contexts = build_contexts(problem, params.wait_boost, limit=None)
    options = []
    for ctx in contexts:
        helpers = tuple(
            Eligible(
                helper=problem.helpers[c.helper].id,
                km_one_way=c.leg.km_one_way,
                minutes_round_trip=c.leg.minutes_round_trip,
                in_circle=c.in_circle,
                has_lead=c.has_lead,
                speaks=c.speaks,
                gender_mismatch=c.gender_mismatch,
            )
            for c in sorted(ctx.candidates, key=lambda c: c.leg.km_round_trip)
        )
        reason = ctx.blocked_reason
        if reason is not None:  # a settled order can't be staffed by its deciders either
            reason = settled.get(ctx.order.id, reason)
        options.append(OrderOptions(ctx.order.id, ctx.team, helpers, reason))
    return options


@dataclass(frozen=True)
class FreeDay:
    """What a problem whose helpers have their whole day free (nothing taken yet) tells of the
    same orders on any day: a day's visits only take time and orders away, so a helper can serve
    an order, or decide why no team can, only if they pass the funnel's stages before the limits
    with a free day (``before_limits``: skills, reach, time).

    - ``deciders``: the helper ids who pass those stages for one of the orders. A problem of the
      same orders holding the deciders (and any helper more) on a real day finds each order the
      same eligible helpers as one holding every helper; and the same reason, for an order some
      team of deciders could still serve with a free day.
    - ``settled``: the orders no team of deciders could serve even with a free day, each with
      the reason that then holds on every day (skills, reach or time: a stage a taken day cannot
      pass again)."""

    deciders: frozenset[str]
    settled: dict[str, Reason]


def free_day(problem: Problem, params: SolveParams | None = None) -> FreeDay:
    """``FreeDay`` of ``problem``, whose helpers have their whole day free."""
    params = params or SolveParams()
    eligibility = Eligibility(problem, params.wait_boost)  # no candidate lists: the funnel's masks
    deciding = np.zeros(len(problem.helpers), dtype=bool)
    settled = {}
    for index, order in enumerate(problem.orders):
        ctx = eligibility.context(index, order)
        reason, passing = before_limits(eligibility, ctx)
        deciding |= passing
        if not eligibility.team_possible_among(ctx, passing):
            settled[ctx.order.id] = reason
    ids = frozenset(problem.helpers[int(i)].id for i in np.flatnonzero(deciding))
    return FreeDay(ids, settled)
