"""What pages show for a stored code: a label from the catalogs (``pgettext(group, English)``),
so that a Chinese page never shows "OPTIMAL", "zh", "male" or "pending", and an English page no
Chinese label.

This is the one place the pages look labels up (``label(group, code)`` in every template). Each
label's message id is its English text with the group as context; ``label_id`` marks them for
``make i18n``'s extraction."""

from __future__ import annotations

from typing import Any

from api import i18n
from api.http.pages.render import templates


def label_id(group: str, text: str) -> str:
    """``text`` (English) as the message id of a label of ``group`` (a marker for extraction;
    translated where shown)."""
    return text


# group -> code -> English label (the message id; its context is the group)
LABELS: dict[str, dict[str, str]] = {
    "order_status": {
        "open": label_id("order_status", "open"),
        "offered": label_id("order_status", "offered"),
        "assigned": label_id("order_status", "assigned"),
        "done": label_id("order_status", "done"),
        "confirmed": label_id("order_status", "confirmed"),
        "cancelled": label_id("order_status", "cancelled"),
        "review": label_id("order_status", "waiting for review"),
        "rejected": label_id("order_status", "rejected"),
    },
    "family_link_status": {
        "pending": label_id("family_link_status", "waiting for approval"),
        "approved": label_id("family_link_status", "approved"),
        "rejected": label_id("family_link_status", "rejected"),
    },
    "follow_up_status": {
        "scheduled": label_id("follow_up_status", "to do"),
        "done": label_id("follow_up_status", "done"),
    },
    "follow_up_filter": {
        "scheduled": label_id("follow_up_filter", "To do"),
        "overdue": label_id("follow_up_filter", "Overdue"),
        "mine": label_id("follow_up_filter", "Mine to do"),
        "done": label_id("follow_up_filter", "Done"),
        "all": label_id("follow_up_filter", "All"),
    },
    "follow_up_reason": {
        "low_score": label_id("follow_up_reason", "low score"),
        "category": label_id("follow_up_reason", "resident's category"),
        "sample": label_id("follow_up_reason", "sample"),
    },
    "offer_status": {
        "pending": label_id("offer_status", "pending"),
        "accepted": label_id("offer_status", "accepted"),
        "declined": label_id("offer_status", "declined"),
        "expired": label_id("offer_status", "expired"),
        "withdrawn": label_id("offer_status", "withdrawn"),
    },
    "assignment_status": {
        "active": label_id("assignment_status", "active"),
        "done": label_id("assignment_status", "done"),
        "confirmed": label_id("assignment_status", "confirmed"),
        "withdrawn": label_id("assignment_status", "withdrawn"),
    },
    "run_status": {
        "running": label_id("run_status", "running"),
        "done": label_id("run_status", "done"),
        "failed": label_id("run_status", "failed"),
    },
    "run_kind": {
        "nightly": label_id("run_kind", "nightly run"),
        "rematch": label_id("run_kind", "re-match"),
    },
    "solver_status": {
        "OPTIMAL": label_id("solver_status", "optimal"),
        "FEASIBLE": label_id("solver_status", "feasible (not proven optimal)"),
        "INFEASIBLE": label_id("solver_status", "infeasible"),
        "UNKNOWN": label_id("solver_status", "no plan found in time"),
    },
    "language": {
        "zh": label_id("language", "Chinese"),
        "mn": label_id("language", "Mongolian"),
        "en": label_id("language", "English"),
    },
    "gender": {
        "male": label_id("gender", "male"),
        "female": label_id("gender", "female"),
    },
    "role": {
        "staff": label_id("role", "staff"),
        "planner": label_id("role", "planner"),
        "helper": label_id("role", "volunteer"),
        "resident": label_id("role", "resident"),
        "grid_worker": label_id("role", "grid worker"),
        "family": label_id("role", "family member"),
    },
    "points_kind": {
        "base": label_id("points_kind", "Visit points"),
        "bonus": label_id("points_kind", "Bonus from the organisation"),
        "reversal": label_id("points_kind", "Correction"),
        "wish": label_id("points_kind", "Micro-wish fulfilled"),
        "redemption": label_id("points_kind", "Points shop"),
    },
    # Micro-wishes and the points shop (``api.services.wishes``, ``api.services.shop``).
    "wish_kind": {
        "thing": label_id("wish_kind", "a thing"),
        "service": label_id("wish_kind", "a service"),
    },
    "wish_status": {
        "open": label_id("wish_status", "open"),
        "claimed": label_id("wish_status", "claimed"),
        "confirmed": label_id("wish_status", "fulfilled"),
        "cancelled": label_id("wish_status", "cancelled"),
    },
    "partner_kind": {
        "company": label_id("partner_kind", "company"),
        "party_branch": label_id("partner_kind", "party branch"),
    },
    "shop_item_kind": {
        "goods": label_id("shop_item_kind", "goods"),
        "service": label_id("shop_item_kind", "service"),
    },
    "redemption_status": {
        "issued": label_id("redemption_status", "not used yet"),
        "used": label_id("redemption_status", "used"),
        "cancelled": label_id("redemption_status", "cancelled"),
    },
    "notification_kind": {
        "offer": label_id("notification_kind", "offer"),
        "reminder": label_id("notification_kind", "reminder"),
        "change": label_id("notification_kind", "change"),
        "cancellation": label_id("notification_kind", "cancellation"),
        "matched": label_id("notification_kind", "helper found"),
        "completed": label_id("notification_kind", "done"),
        "not_done": label_id("notification_kind", "cannot be done"),
        "order_at_risk": label_id("notification_kind", "order at risk"),
        "order_overdue": label_id("notification_kind", "order overdue"),
        "follow_up_overdue": label_id("notification_kind", "follow-up overdue"),
    },
    "notification_status": {
        "pending": label_id("notification_status", "pending"),
        "sent": label_id("notification_status", "sent"),
        "failed": label_id("notification_status", "failed"),
    },
    "decline_reason": {
        "busy": label_id("decline_reason", "Busy at that time"),
        "unwell": label_id("decline_reason", "Not feeling well"),
        "far": label_id("decline_reason", "Too far away"),
        "unable": label_id("decline_reason", "Cannot do this service"),
        "other": label_id("decline_reason", "Another reason"),
    },
    "pair_status": {
        "proposed": label_id("pair_status", "proposed"),
        "confirmed": label_id("pair_status", "confirmed"),
        "ended": label_id("pair_status", "ended"),
    },
    "programme_favour": {
        "residents": label_id("programme_favour", "Residents' choices first"),
        "helpers": label_id("programme_favour", "Helpers' choices first"),
        "travel": label_id("programme_favour", "Shortest travel"),
    },
    "weekday": {
        "0": label_id("weekday", "Mon"),
        "1": label_id("weekday", "Tue"),
        "2": label_id("weekday", "Wed"),
        "3": label_id("weekday", "Thu"),
        "4": label_id("weekday", "Fri"),
        "5": label_id("weekday", "Sat"),
        "6": label_id("weekday", "Sun"),
    },
    # The matcher's reasons (``matcher.explain.Reason``); a test checks none is missing.
    "reason": {
        "no_skill": label_id("reason", "no helper has the skill"),
        "out_of_reach": label_id("reason", "none within reach"),
        "not_free": label_id("reason", "none free in the window"),
        "at_limit": label_id("reason", "all at their limit"),
        "outranked": label_id("reason", "lost to higher priority"),
    },
}
# What a code nobody labelled yet shows (never the code itself on a page).
UNKNOWN: dict[str, str] = {
    "reason": label_id("reason", "another reason"),
    "language": label_id("language", "another language"),
}
FALLBACK = label_id("label", "other")


def display(group: str, code: Any) -> str:
    """The label of ``code`` in ``group`` in the current locale; an unknown code shows the
    group's "other" label, so that a raw code never reaches a page. None shows "—"."""
    if code is None or code == "":
        return "—"
    found = LABELS.get(group, {}).get(str(code))
    if found is None:
        group, found = ("label", FALLBACK) if group not in UNKNOWN else (group, UNKNOWN[group])
    return i18n.translations(i18n.current()).upgettext(group, found)


def display_in(locale: str, group: str, code: Any) -> str:
    """The label in ``locale`` (e.g. a text stored for readers of every language)."""
    with i18n.use_locale(locale):
        return display(group, code)


def options(group: str) -> list[tuple[str, str]]:
    """Every code of ``group`` with its label, in table order (for a form's choices)."""
    return [(code, display(group, code)) for code in LABELS[group]]


templates.env.globals["label"] = display
