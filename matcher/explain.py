"""Why an order was left unmatched, as data: a reason and its facts (``WhyParams``), with the
one next step an office can take (``matcher.advice``, agreeing with the reason); the sentences
and names people read are made from them outside the matcher
(``api.services.matching.explain_text``).

Finding the step is the costly part (a few milliseconds per order on a large street). Under a
``deadline`` (``solve`` gives one on large streets, so the whole solve keeps its time limit), the
orders are advised in the order of their weight, heaviest first, and those left when the deadline
passes get their reason and facts without a step (``WhyParams.step`` None, which readers show as
no next step); without a deadline every order gets its step."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from matcher.advice import CAPACITY_STEPS, STEPS, Day, advise, plan_day
from matcher.candidates import Eligibility, OrderContext
from matcher.result import Reason, Step, StepKind, Unmatched, WhyParams, Window

Plan = tuple[list[int], int | None]  # helper indices and start of a covered order


def explain_unmatched(
    eligibility: Eligibility,
    contexts: list[OrderContext],
    covered: Mapping[int, Plan],
    deadline: float | None = None,
) -> list[Unmatched]:
    """One ``Unmatched`` per order index missing from ``covered`` (in index order), each with its
    next step; with a ``deadline`` (a ``time.perf_counter`` value), only the heaviest orders
    advised before it have one."""
    by_helper: dict[int, list[int]] = {}
    for order_index, (helpers, _) in covered.items():
        for helper in helpers:
            by_helper.setdefault(helper, []).append(order_index)
    day = plan_day(eligibility, contexts, covered)
    left = [ctx for ctx in contexts if ctx.index not in covered]
    explained: dict[int, Unmatched] = {}
    for ctx in sorted(left, key=lambda c: (-c.weight, c.index)):
        advised = deadline is None or time.perf_counter() < deadline
        explained[ctx.index] = _explain(
            eligibility, contexts, ctx, covered, by_helper, day if advised else None
        )
    return [explained[ctx.index] for ctx in left]


def _explain(
    eligibility: Eligibility,
    contexts: list[OrderContext],
    ctx: OrderContext,
    covered: Mapping[int, Plan],
    by_helper: dict[int, list[int]],
    day: Day | None,
) -> Unmatched:
    """The order's reason and facts, with its step unless ``day`` is None (out of time)."""
    reason = ctx.blocked_reason
    rival = None
    if reason is None:
        rival = _strongest_rival(contexts, ctx, covered, by_helper)
        if rival is None:
            reason = Reason.NOT_FREE if ctx.timed else Reason.AT_LIMIT
        else:
            reason = Reason.OUTRANKED if rival.weight > ctx.weight else Reason.AT_LIMIT
    step = None
    if not ctx.pinned and day is not None:  # a pinned order left out means no plan
        kinds = STEPS[reason] if ctx.blocked_reason is not None else CAPACITY_STEPS
        step = advise(eligibility, ctx, day, kinds)
        reason = _agreeing(reason, step)
    outranking = rival if reason is Reason.OUTRANKED else None
    return Unmatched(
        order=ctx.order.id,
        reason=reason,
        params=_params(eligibility, ctx, outranking, step),
        outranked_by=outranking.order.id if outranking else None,
    )


def _agreeing(reason: Reason, step: Step) -> Reason:
    """The reason an order the plan took the helpers of is given, agreeing with its step: a
    raised limit means they were at their limit, a moved window that they were busy then."""
    if reason is Reason.OUTRANKED:
        return reason
    if step.kind is StepKind.RAISE_LIMIT:
        return Reason.AT_LIMIT
    if step.kind is StepKind.MOVE_WINDOW:
        return Reason.NOT_FREE
    return reason


def _strongest_rival(
    contexts: list[OrderContext],
    ctx: OrderContext,
    covered: Mapping[int, Plan],
    by_helper: dict[int, list[int]],
) -> OrderContext | None:
    """The highest-weight covered order that keeps one of this order's candidates busy."""
    rivals = [
        contexts[other]
        for candidate in ctx.candidates
        for other in by_helper.get(candidate.helper, [])
        if _competes(ctx, contexts[other], covered[other][1])
    ]
    return max(rivals, key=lambda r: (r.weight, r.order.id), default=None)


def _competes(ctx: OrderContext, other: OrderContext, other_start: int | None) -> bool:
    """Two orders compete for a helper when both are untimed (day capacity), one is untimed,
    or their possible visit times come within an hour of each other."""
    if ctx.start_range is None or other_start is None:
        return True
    lo, hi = ctx.start_range
    return lo - 60 - other.duration <= other_start <= hi + ctx.duration + 60


def _params(
    eligibility: Eligibility, ctx: OrderContext, rival: OrderContext | None, step: Step | None
) -> WhyParams:
    """The facts a reader's sentence is made of (``api.services.matching.explain_text``)."""
    item, window = ctx.item, ctx.order.window
    # Travel only to the skilled helpers: the same figures as over every helper, for less.
    skilled = np.flatnonzero(eligibility.skill_mask(item))
    km_rt, _, present = eligibility.travel.arrays_for_helpers(ctx.order, skilled)
    in_reach = present & eligibility.reach_mask_at(ctx, skilled, km_rt)
    return WhyParams(
        item=item.code,
        team=ctx.team,
        skills=tuple(
            sorted(item.required_skills | ({item.lead_skill} if item.lead_skill else set()))
        ),
        language=eligibility.problem.resident(ctx.order.resident).language,
        skilled=int(present.sum()),
        in_reach=int(in_reach.sum()),
        nearest_km=float(km_rt[present].min() / 2) if present.any() else None,
        window=Window(start=window.start, end=window.end) if window else None,
        rival_item=rival.item.code if rival else None,
        step=step,
    )
