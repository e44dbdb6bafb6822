"""Labels the planner tools and the command line show for the matcher's codes (solver statuses,
unmatched reasons), from the catalogs: the same message ids and contexts as the pages' labels
(``api.http.pages.labels``), so one translation serves both; a raw code is never shown."""

from __future__ import annotations

from api import i18n
from matcher.result import Reason, Status


def pgettext(context: str, message: str, /) -> str:
    """``message`` with its context ``context``, in the current locale."""
    return i18n.translations(i18n.current()).upgettext(context, message)


def solver_status(status: str) -> str:
    """What the solver's status (``OPTIMAL`` …) reads as."""
    labels: dict[str, str] = {
        Status.OPTIMAL: pgettext("solver_status", "optimal"),
        Status.FEASIBLE: pgettext("solver_status", "feasible (not proven optimal)"),
        Status.INFEASIBLE: pgettext("solver_status", "infeasible"),
        Status.UNKNOWN: pgettext("solver_status", "no plan found in time"),
    }
    return labels.get(status, pgettext("label", "other"))


def reason(code: str) -> str:
    """What an unmatched order's reason (``no_skill`` …) reads as."""
    labels: dict[str, str] = {
        Reason.NO_SKILL: pgettext("reason", "no helper has the skill"),
        Reason.OUT_OF_REACH: pgettext("reason", "none within reach"),
        Reason.NOT_FREE: pgettext("reason", "none free in the window"),
        Reason.AT_LIMIT: pgettext("reason", "all at their limit"),
        Reason.OUTRANKED: pgettext("reason", "lost to higher priority"),
    }
    return labels.get(code, pgettext("reason", "another reason"))
