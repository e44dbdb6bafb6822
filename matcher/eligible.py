"""Who could serve each order on their own account, for people choosing by hand: a helper
listing orders to claim, staff picking a team from a ranked list."""

from __future__ import annotations

from dataclasses import dataclass

from matcher.candidates import build_contexts
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


def eligible_helpers(problem: Problem, params: SolveParams | None = None) -> list[OrderOptions]:
    """For every order of ``problem``, every helper who could serve it, nearest first."""
    params = params or SolveParams()
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
        options.append(OrderOptions(ctx.order.id, ctx.team, helpers, ctx.blocked_reason))
    return options
