"""What pages show for a stored code: one table of display labels per locale, so that a Chinese
page never shows "OPTIMAL", "zh", "male" or "pending", and an English page no Chinese label.

This is the one place the pages look labels up (``label(group, code)`` in every template); it is
written to become the gettext catalog later: each entry's id is ``group.code``.
"""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from api.http.pages.render import templates
from matcher.explain import REASON_LABELS

LOCALES = ("zh", "en")

# group -> code -> (Chinese, English)
PAIRS: dict[str, dict[str, tuple[str, str]]] = {
    "order_status": {
        "open": ("未匹配", "open"),
        "offered": ("已派单，待回复", "offered"),
        "assigned": ("已接单", "assigned"),
        "done": ("已完成", "done"),
        "confirmed": ("已确认", "confirmed"),
        "cancelled": ("已取消", "cancelled"),
    },
    "offer_status": {
        "pending": ("待回复", "pending"),
        "accepted": ("已接受", "accepted"),
        "declined": ("已拒绝", "declined"),
        "expired": ("已过期", "expired"),
        "withdrawn": ("已撤回", "withdrawn"),
    },
    "assignment_status": {
        "active": ("进行中", "active"),
        "done": ("已完成", "done"),
        "confirmed": ("已确认", "confirmed"),
        "withdrawn": ("已撤回", "withdrawn"),
    },
    "run_status": {
        "running": ("运行中", "running"),
        "done": ("完成", "done"),
        "failed": ("失败", "failed"),
    },
    "run_kind": {"nightly": ("夜间匹配", "nightly run"), "rematch": ("重新匹配", "re-match")},
    "solver_status": {
        "OPTIMAL": ("最优", "optimal"),
        "FEASIBLE": ("可行（未证明最优）", "feasible (not proven optimal)"),
        "INFEASIBLE": ("无可行方案", "infeasible"),
        "UNKNOWN": ("时限内未找到方案", "no plan found in time"),
    },
    "reason": {str(code): pair for code, pair in REASON_LABELS.items()},
    "language": {
        "zh": ("汉语", "Chinese"),
        "mn": ("蒙古语", "Mongolian"),
        "en": ("英语", "English"),
    },
    "gender": {"male": ("男", "male"), "female": ("女", "female")},
    "role": {
        "staff": ("工作人员", "staff"),
        "planner": ("规划人员", "planner"),
        "helper": ("志愿者", "volunteer"),
        "resident": ("居民", "resident"),
    },
    "points_kind": {
        "base": ("服务积分", "Visit points"),
        "bonus": ("组织赠分", "Bonus from the organisation"),
        "reversal": ("更正", "Correction"),
    },
    "notification_kind": {
        "offer": ("派单", "offer"),
        "reminder": ("回复提醒", "reminder"),
        "change": ("变更", "change"),
        "cancellation": ("取消", "cancellation"),
    },
    "notification_status": {
        "pending": ("待发送", "pending"),
        "sent": ("已发送", "sent"),
        "failed": ("发送失败", "failed"),
    },
    "decline_reason": {
        "busy": ("那个时间没空", "Busy at that time"),
        "unwell": ("身体不适", "Not feeling well"),
        "far": ("距离太远", "Too far away"),
        "unable": ("做不了这项服务", "Cannot do this service"),
        "other": ("其他原因", "Another reason"),
    },
    "weekday": {
        "0": ("周一", "Mon"),
        "1": ("周二", "Tue"),
        "2": ("周三", "Wed"),
        "3": ("周四", "Thu"),
        "4": ("周五", "Fri"),
        "5": ("周六", "Sat"),
        "6": ("周日", "Sun"),
    },
}
# What a code nobody labelled yet shows (never the code itself on a page).
UNKNOWN: dict[str, tuple[str, str]] = {
    "reason": ("其他原因", "another reason"),
    "language": ("其他语言", "another language"),
}
FALLBACK = ("其他", "other")

# The tables per locale: locale -> "group.code" -> text (the gettext catalogs to be).
CATALOGS: dict[str, dict[str, str]] = {
    locale: {
        f"{group}.{code}": pair[index]
        for group, codes in PAIRS.items()
        for code, pair in codes.items()
    }
    for index, locale in enumerate(LOCALES)
}


def display(lang: str, group: str, code: Any) -> str:
    """The label of ``code`` in ``group`` for the page's language; an unknown code shows the
    group's "other" label, so that a raw code never reaches a page. None shows "—"."""
    if code is None or code == "":
        return "—"
    locale = lang if lang in CATALOGS else LOCALES[0]
    found = CATALOGS[locale].get(f"{group}.{code}")
    if found is not None:
        return found
    return UNKNOWN.get(group, FALLBACK)[LOCALES.index(locale)]


def options(lang: str, group: str) -> list[tuple[str, str]]:
    """Every code of ``group`` with its label, in table order (for a form's choices)."""
    return [(code, display(lang, group, code)) for code in PAIRS[group]]


@pass_context
def _label(context: Context, group: str, code: Any) -> str:
    return display(context.get("lang", LOCALES[0]), group, code)


templates.env.globals["label"] = _label
