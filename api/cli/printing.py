"""What the command line prints: summary tables and unmatched orders, in the command's locale
(every label from the catalogs, numbers formatted by Babel). Order ids, variant names and
solver names (``cpsat``, ``greedy``: what ``--solver`` takes) are data and print as they are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.i18n import N_, format_number
from api.i18n import gettext as _
from api.planner import labels
from api.services.matching.explain_text import explain, reason_label
from matcher.metrics import Summary, summarize
from matcher.model import Catalogue, Problem
from matcher.result import Reason, Result, Unmatched

console = Console()
MINUS = "\u2212"  # a real minus sign


def print_comparison(problem: Problem, results: list[Result]) -> None:
    print_summaries([(r.solver, summarize(problem, r)) for r in results])


def print_summaries(columns: list[tuple[str, Summary]], differences: bool = False) -> None:
    """One column per (name, summary); with ``differences`` every later column also shows its
    difference against the first, e.g. ``+3.2 %`` or ``−12 km``."""
    table = Table(title=_("Matching summary"))
    table.add_column(_("Figure"), no_wrap=True)
    for name, _summary in columns:
        table.add_column(escape(name), justify="right")
    first = columns[0][1] if columns else None
    for row in SUMMARY_ROWS:
        cells = []
        for _name, summary in columns:
            cell = row.show(summary)
            if differences and first is not None and summary is not first and row.compared:
                cell += f"\n[dim]{row.difference(summary, first)}[/dim]"
            cells.append(cell)
        table.add_row(_(row.label), *cells)
    console.print(table)


# How a figure of each kind reads: the value (signed for a difference) and its unit.
UNITS: dict[str, Callable[[str], str]] = {
    "count": lambda number: number,
    "percent": lambda number: f"{number} %",
    "km": lambda number: _("%(km)s km", km=number),
    "seconds": lambda number: _("%(seconds)s s", seconds=number),
}


@dataclass(frozen=True)
class SummaryRow:
    label: str  # a message id
    value: Callable[[Summary], float] | None  # None: the solver's status, in words
    unit: str  # a key of UNITS
    places: int = 1
    compared: bool = True  # show the difference against the first column

    def show(self, summary: Summary) -> str:
        if self.value is None:
            return labels.solver_status(summary.status)
        return UNITS[self.unit](format_number(self.value(summary), self.places))

    def difference(self, summary: Summary, first: Summary) -> str:
        assert self.value is not None
        delta = round(self.value(summary) - self.value(first), self.places)
        if delta == 0:
            return UNITS[self.unit]("±0")
        sign = "+" if delta > 0 else MINUS
        return UNITS[self.unit](sign + format_number(abs(delta), self.places))


SUMMARY_ROWS = (
    SummaryRow(N_("Orders"), lambda s: s.orders_total, "count", 0),
    SummaryRow(N_("Covered"), lambda s: s.orders_covered, "count", 0),
    SummaryRow(N_("Weighted coverage"), lambda s: s.weighted_coverage_pct, "percent"),
    SummaryRow(N_("Travel (total)"), lambda s: s.travel_km_total, "km"),
    SummaryRow(N_("Travel (mean per visit)"), lambda s: s.travel_km_mean, "km", 2),
    SummaryRow(N_("Travel (longest visit)"), lambda s: s.travel_km_max, "km", 2),
    SummaryRow(N_("Helpers used"), lambda s: s.helpers_used, "count", 0),
    SummaryRow(N_("Load spread (sd)"), lambda s: s.load_spread, "count", 2),
    SummaryRow(N_("Continuity rate"), lambda s: 100 * s.continuity_rate, "percent"),
    SummaryRow(N_("Solver status"), None, "count", compared=False),
    SummaryRow(N_("Optimality gap"), lambda s: 100 * s.gap, "percent", 2),
    SummaryRow(N_("Runtime"), lambda s: s.runtime_s, "seconds"),
)


def print_unmatched(result: Result, catalogue: Catalogue, examples: int = 2) -> None:
    """Unmatched orders per reason, with a few examples (the matcher's own order ids: the CLI
    solves scenario and generated problems, whose ids are their names)."""
    if not result.unmatched:
        console.print(_("Every order is matched."))
        return
    table = Table(title=_("Unmatched orders"), show_lines=True)
    table.add_column(_("Reason"), max_width=24)
    table.add_column(_("Orders"), justify="right")
    table.add_column(_("Examples"), ratio=1, overflow="fold")
    for reason in Reason:
        rows = [u for u in result.unmatched if u.reason is reason]
        if rows:
            sample = "\n".join(
                f"{escape(u.order)}: {escape(explanation(u, catalogue))}" for u in rows[:examples]
            )
            table.add_row(reason_label(reason), format_number(len(rows)), sample)
    console.print(table)


def explanation(unmatched: Unmatched, catalogue: Catalogue) -> str:
    """Why an order was left unmatched, in the command's language (from the catalogs)."""
    return explain(unmatched.reason, unmatched.params, catalogue, unmatched.outranked_by)
