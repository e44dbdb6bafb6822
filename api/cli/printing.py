"""What the command line prints: summary tables and unmatched orders, Chinese first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from api.services.matching.explain_text import explain_en, explain_zh
from matcher.explain import REASON_LABELS as REASON_LABELS_ZH_EN
from matcher.metrics import Summary, summarize
from matcher.model import Catalogue, Problem
from matcher.result import Reason, Result

console = Console()

REASON_LABELS = {reason: f"{zh} / {en}" for reason, (zh, en) in REASON_LABELS_ZH_EN.items()}


def print_comparison(problem: Problem, results: list[Result]) -> None:
    print_summaries([(r.solver, summarize(problem, r)) for r in results])


def print_summaries(columns: list[tuple[str, Summary]], differences: bool = False) -> None:
    """One column per (name, summary); with ``differences`` every later column also shows its
    difference against the first, e.g. ``+3.2 %`` or ``−12.0 km``."""
    table = Table(title="匹配结果 / matching summary")
    table.add_column("指标 / figure", no_wrap=True)
    for name, _ in columns:
        table.add_column(name, justify="right")
    first = columns[0][1] if columns else None
    for row in SUMMARY_ROWS:
        cells = []
        for _, summary in columns:
            cell = row.show(summary)
            if differences and first is not None and summary is not first and row.unit is not None:
                cell += f"\n[dim]{row.difference(summary, first)}[/dim]"
            cells.append(cell)
        table.add_row(row.label, *cells)
    console.print(table)


@dataclass(frozen=True)
class SummaryRow:
    label: str
    value: Callable[[Summary], float | str]
    fmt: str  # format of the value, e.g. "{:.1f} %"
    unit: str | None  # unit of the difference; None: no difference shown (status)
    places: int = 1

    def show(self, summary: Summary) -> str:
        return self.fmt.format(self.value(summary))

    def difference(self, summary: Summary, first: Summary) -> str:
        delta = round(float(self.value(summary)) - float(self.value(first)), self.places)
        if delta == 0:
            return f"±0{self.unit}"
        sign = "+" if delta > 0 else "\u2212"  # a real minus sign
        return f"{sign}{abs(delta):.{self.places}f}{self.unit}"


SUMMARY_ROWS = (
    SummaryRow("订单 / orders", lambda s: s.orders_total, "{}", "", 0),
    SummaryRow("已匹配 / covered", lambda s: s.orders_covered, "{}", "", 0),
    SummaryRow(
        "加权覆盖率 / weighted coverage", lambda s: s.weighted_coverage_pct, "{:.1f} %", " %"
    ),
    SummaryRow("总路程 / travel km (total)", lambda s: s.travel_km_total, "{:.1f}", " km"),
    SummaryRow("平均路程 / travel km (mean)", lambda s: s.travel_km_mean, "{:.2f}", " km", 2),
    SummaryRow("最远路程 / travel km (max)", lambda s: s.travel_km_max, "{:.2f}", " km", 2),
    SummaryRow("参与志愿者 / helpers used", lambda s: s.helpers_used, "{}", "", 0),
    SummaryRow("负荷离散 / load spread (sd)", lambda s: s.load_spread, "{:.2f}", "", 2),
    SummaryRow("熟人服务率 / continuity rate", lambda s: 100 * s.continuity_rate, "{:.1f} %", " %"),
    SummaryRow("状态 / status", lambda s: s.status, "{}", None),
    SummaryRow("差距 / gap", lambda s: 100 * s.gap, "{:.2f} %", " %", 2),
    SummaryRow("用时 / runtime", lambda s: s.runtime_s, "{:.1f} s", " s"),
)


def print_unmatched(result: Result, catalogue: Catalogue, examples: int = 2) -> None:
    """Unmatched orders per reason, with a few examples in both languages (the matcher's own
    order ids: the CLI solves scenario and generated problems, whose ids are their names)."""
    if not result.unmatched:
        console.print("全部订单已匹配 / every order is matched")
        return
    table = Table(title=f"未匹配订单 / unmatched orders ({result.solver})", show_lines=True)
    table.add_column("原因 / reason", max_width=24)
    table.add_column("数量 / count", justify="right")
    table.add_column("示例 / example", ratio=1, overflow="fold")
    for reason in Reason:
        rows = [u for u in result.unmatched if u.reason is reason]
        if rows:
            sample = "\n".join(
                f"{u.order}: {explain_zh(u.reason, u.params, catalogue, u.outranked_by)}\n"
                f"  {explain_en(u.reason, u.params, catalogue, u.outranked_by)}"
                for u in rows[:examples]
            )
            table.add_row(REASON_LABELS[reason], str(len(rows)), sample)
    console.print(table)
