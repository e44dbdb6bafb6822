"""Why an order was left unmatched, as a sentence in the reader's language: made at the edge
from the matcher's reason and facts (``matcher.result.WhyParams``), never parsed again.

Every sentence template is here, as a (中文, English) pair under a message id, so that the move to
gettext catalogs happens in this one place. ``explain_zh`` and ``explain_en`` are the only two
renderers; callers pass the outranking order as the reader knows it (an order number mapped
through ``StreetProblem.keys``, or a scenario's own order id), never the matcher's key.
"""

from __future__ import annotations

from matcher.model import Catalogue
from matcher.result import Reason, WhyParams

ZH, EN = 0, 1

TEMPLATES: dict[str, tuple[str, str]] = {
    "team": ("（需 {team} 人同去）", " (needs a team of {team})"),
    "list": ("、", ", "),
    "no_skills": ("无", "none"),
    "speaking": ("，且会说 {language} 语", " and speaking {language}"),
    Reason.NO_SKILL: (
        "没有志愿者具备「{item}」所需技能（{skills}）{speaking}{team}。",
        "No helper has the skills for {item} ({skills}){speaking}{team}.",
    ),
    "nearest": ("最近的一位相距约 {km:.1f} 公里", "the nearest is about {km:.1f} km away"),
    "no_travel": ("没有可用的路程数据", "no travel data"),
    Reason.OUT_OF_REACH: (
        "具备技能的志愿者都不在服务范围内，{nearest}{team}。",
        "Helpers with the skills all live out of reach; {nearest}{team}.",
    ),
    "today": ("今天", "today"),
    "window": ("在 {start}–{end} ", "{start}–{end}"),
    Reason.NOT_FREE: (
        "附近合适的志愿者{when}都没有空{team}。",
        "No suitable helper nearby is free {when}{team}.",
    ),
    "joining": (
        "除已在团队中的志愿者外，找不到能在同一时间到场补位的人。",
        "No other helper can join the members already on the team at that time.",
    ),
    Reason.AT_LIMIT: (
        "附近合适的志愿者今天的接单数或服务时长已满{team}。",
        "All suitable helpers nearby have reached today's limit of orders or minutes{team}.",
    ),
    Reason.OUTRANKED: (
        "附近合适的志愿者已被优先级更高的订单 {other}（{other_item}）占用{team}。",
        "Lost to higher-priority order {other} ({other_item}), which took the suitable "
        "helpers{team}.",
    ),
}


def explain_zh(
    reason: Reason | str,
    params: WhyParams,
    catalogue: Catalogue,
    outranked_by: int | str | None = None,
) -> str:
    """The Chinese sentence for an unmatched order."""
    return _explain(ZH, Reason(reason), params, catalogue, outranked_by)


def explain_en(
    reason: Reason | str,
    params: WhyParams,
    catalogue: Catalogue,
    outranked_by: int | str | None = None,
) -> str:
    """The English sentence for an unmatched order."""
    return _explain(EN, Reason(reason), params, catalogue, outranked_by)


def _say(key: str, lang: int, **values: object) -> str:
    return TEMPLATES[key][lang].format(**values)


def _explain(
    lang: int,
    reason: Reason,
    params: WhyParams,
    catalogue: Catalogue,
    outranked_by: int | str | None,
) -> str:
    team = _say("team", lang, team=params.team) if params.team > 1 else ""
    item = _item_name(catalogue, params.item, lang)
    if reason is Reason.NO_SKILL:
        skills = _say("list", lang).join(_skill_name(catalogue, s, lang) for s in params.skills)
        speaking = _say("speaking", lang, language=params.language) if params.language else ""
        skills = skills or _say("no_skills", lang)
        return _say(reason, lang, item=item, skills=skills, speaking=speaking, team=team)
    if reason is Reason.OUT_OF_REACH:
        km = params.nearest_km
        nearest = _say("nearest", lang, km=km) if km is not None else _say("no_travel", lang)
        return _say(reason, lang, nearest=nearest, team=team)
    if reason is Reason.NOT_FREE:
        if params.joining:
            return _say("joining", lang)
        window = params.window
        when = (
            _say("window", lang, start=_clock(window.start), end=_clock(window.end))
            if window
            else _say("today", lang)
        )
        return _say(reason, lang, when=when, team=team)
    if reason is Reason.AT_LIMIT:
        return _say(reason, lang, team=team)
    other = "?" if outranked_by is None else outranked_by
    other_item = _item_name(catalogue, params.rival_item or params.item, lang)
    return _say(reason, lang, other=other, other_item=other_item, team=team)


def _item_name(catalogue: Catalogue, code: str, lang: int) -> str:
    item = next((i for i in catalogue.items if i.code == code), None)
    if item is None:  # an item no longer in the catalogue: its code
        return code
    return item.name_en if lang == EN else item.name_zh


def _skill_name(catalogue: Catalogue, code: str, lang: int) -> str:
    skill = next((s for s in catalogue.skills if s.code == code), None)
    if skill is None:
        return code
    return skill.name_en if lang == EN else skill.name_zh


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
