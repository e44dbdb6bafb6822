"""Why an order was left unmatched, in a sentence staff understand (Chinese first, then English)."""

from __future__ import annotations

from collections.abc import Mapping

from matcher.candidates import Eligibility, OrderContext
from matcher.model import Problem
from matcher.result import Reason, Unmatched
from matcher.verify import Rule

Plan = tuple[list[int], int | None]  # helper indices and start of a covered order

# Short labels for each reason, (Chinese, English), as tables and charts show them.
REASON_LABELS: dict[Reason, tuple[str, str]] = {
    Reason.NO_SKILL: ("无人具备技能", "no helper has the skill"),
    Reason.OUT_OF_REACH: ("超出服务范围", "none within reach"),
    Reason.NOT_FREE: ("时段内无空闲", "none free in the window"),
    Reason.AT_LIMIT: ("已达当日上限", "all at their limit"),
    Reason.OUTRANKED: ("让位于更高优先级", "lost to higher priority"),
}

# The hard rules a hand-picked team or a claim can break (``matcher.verify.check_plan``), as staff
# and volunteers read them.
RULE_LABELS: dict[Rule, tuple[str, str]] = {
    Rule.UNKNOWN_ID: ("不在本次匹配范围内", "not part of this matching"),
    Rule.DUPLICATE_ORDER: ("订单重复", "order listed twice"),
    Rule.DUPLICATE_HELPER: ("志愿者重复", "helper listed twice"),
    Rule.SKILL: ("缺少所需技能", "lacks a required skill"),
    Rule.LEAD_SKILL: ("团队中没有具备主导技能的人", "nobody in the team holds the lead skill"),
    Rule.LANGUAGE: (
        "团队中没有会说居民语言的人",
        "nobody in the team speaks the resident's language",
    ),
    Rule.BLOCKED: (
        "与该居民不匹配（已拒绝或被屏蔽）",
        "blocked for this resident (declined or barred)",
    ),
    Rule.REACH: ("超出服务范围", "out of reach (radius or the item's distance limit)"),
    Rule.WINDOW: ("不在订单时段内", "outside the order's time window"),
    Rule.AVAILABILITY: ("该时段没有空闲（含路程）", "not available then, travel included"),
    Rule.OVERLAP: ("与其已有的服务时间冲突", "clashes with another of their visits"),
    Rule.MAX_ORDERS: ("超出当日单数上限", "over their daily number of orders"),
    Rule.MAX_MINUTES: ("超出当日服务时长上限", "over their daily minutes"),
    Rule.TEAM_SIZE: ("团队人数不符", "the team has the wrong size"),
    Rule.PINNED: ("漏掉了已接单的成员", "leaves out a member who accepted"),
}


def explain_unmatched(
    eligibility: Eligibility, contexts: list[OrderContext], covered: Mapping[int, Plan]
) -> list[Unmatched]:
    """One ``Unmatched`` per order index missing from ``covered``."""
    by_helper: dict[int, list[int]] = {}
    for order_index, (helpers, _) in covered.items():
        for helper in helpers:
            by_helper.setdefault(helper, []).append(order_index)
    return [
        _explain(eligibility, contexts, ctx, covered, by_helper)
        for ctx in contexts
        if ctx.index not in covered
    ]


def _explain(
    eligibility: Eligibility,
    contexts: list[OrderContext],
    ctx: OrderContext,
    covered: Mapping[int, Plan],
    by_helper: dict[int, list[int]],
) -> Unmatched:
    problem = eligibility.problem
    reason = ctx.blocked_reason
    rival = None
    if reason is None:
        rival = _strongest_rival(contexts, ctx, covered, by_helper)
        if rival is None:
            reason = Reason.NOT_FREE if ctx.timed else Reason.AT_LIMIT
        else:
            reason = Reason.OUTRANKED if rival.weight > ctx.weight else Reason.AT_LIMIT
    zh, en = _sentences(problem, eligibility, ctx, reason, rival)
    return Unmatched(
        order=ctx.order.id,
        reason=reason,
        explanation_zh=zh,
        explanation_en=en,
        outranked_by=rival.order.id if reason is Reason.OUTRANKED and rival else None,
    )


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


def _sentences(
    problem: Problem,
    eligibility: Eligibility,
    ctx: OrderContext,
    reason: Reason,
    rival: OrderContext | None,
) -> tuple[str, str]:
    item = ctx.item
    team_zh = f"（需 {ctx.team} 人同去）" if ctx.team > 1 else ""
    team_en = f" (needs a team of {ctx.team})" if ctx.team > 1 else ""
    if reason is Reason.NO_SKILL:
        skills = sorted(item.required_skills | ({item.lead_skill} if item.lead_skill else set()))
        names = {s.code: s for s in problem.catalogue.skills}
        zh_skills = "、".join(names[s].name_zh for s in skills) or "无"
        en_skills = ", ".join(names[s].name_en for s in skills) or "none"
        language = problem.resident(ctx.order.resident).language
        extra_zh = f"，且会说 {language} 语" if language else ""
        extra_en = f" and speaking {language}" if language else ""
        return (
            f"没有志愿者具备「{item.name_zh}」所需技能（{zh_skills}）{extra_zh}{team_zh}。",
            f"No helper has the skills for {item.name_en} ({en_skills}){extra_en}{team_en}.",
        )
    if reason is Reason.OUT_OF_REACH:
        km = _nearest_skilled_km(eligibility, ctx)
        near_zh = f"最近的一位相距约 {km:.1f} 公里" if km is not None else "没有可用的路程数据"
        near_en = f"the nearest is about {km:.1f} km away" if km is not None else "no travel data"
        return (
            f"具备技能的志愿者都不在服务范围内，{near_zh}{team_zh}。",
            f"Helpers with the skills all live out of reach; {near_en}{team_en}.",
        )
    if reason is Reason.NOT_FREE:
        when_zh, when_en = _window_text(ctx)
        return (
            f"附近合适的志愿者{when_zh}都没有空{team_zh}。",
            f"No suitable helper nearby is free {when_en}{team_en}.",
        )
    if reason is Reason.AT_LIMIT:
        return (
            f"附近合适的志愿者今天的接单数或服务时长已满{team_zh}。",
            "All suitable helpers nearby have reached today's limit of orders or minutes"
            f"{team_en}.",
        )
    other = rival.order.id if rival else "?"
    other_item = rival.item if rival else item
    return (
        f"附近合适的志愿者已被优先级更高的订单 {other}（{other_item.name_zh}）占用{team_zh}。",
        f"Lost to higher-priority order {other} ({other_item.name_en}), "
        f"which took the suitable helpers{team_en}.",
    )


def _nearest_skilled_km(eligibility: Eligibility, ctx: OrderContext) -> float | None:
    km_rt, _, present = eligibility.travel.arrays_for_order(ctx.order)
    mask = eligibility.skill_mask(ctx.item) & present
    return float(km_rt[mask].min() / 2) if mask.any() else None


def _window_text(ctx: OrderContext) -> tuple[str, str]:
    window = ctx.order.window
    if window is None:
        return "今天", "today"
    span = f"{_clock(window.start)}–{_clock(window.end)}"
    return f"在 {span} ", span


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
