"""Labels the planner tools and the command line show for the matcher's codes (solver statuses;
unmatched reasons are named by ``api.services.matching.explain_text.reason_label``), from the
catalogs: the same message ids and contexts as the pages' labels
(``api.http.pages.labels``), so one translation serves both; a raw code is never shown."""

from __future__ import annotations

from api.i18n import pgettext
from matcher.result import Status

__all__ = ["pgettext", "solver_status"]  # pgettext: for the command line's role names


def solver_status(status: str) -> str:
    """What the solver's status (``OPTIMAL`` …) reads as."""
    labels: dict[str, str] = {
        Status.OPTIMAL: pgettext("solver_status", "optimal"),
        Status.FEASIBLE: pgettext("solver_status", "feasible (not proven optimal)"),
        Status.INFEASIBLE: pgettext("solver_status", "infeasible"),
        Status.UNKNOWN: pgettext("solver_status", "no plan found in time"),
    }
    return labels.get(status, pgettext("label", "other"))
