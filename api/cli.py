"""The ``qunbang`` command line. What staff read is Chinese first, English second."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from matcher.generator import generate_street, preset
from matcher.metrics import summarize
from matcher.model import Problem
from matcher.params import SolveParams
from matcher.result import Reason, Result
from matcher.solve import solve, solve_greedy

app = typer.Typer(help="群帮 Qunbang — 志愿者匹配 / volunteer matching", no_args_is_help=True)
console = Console()

REASON_LABELS = {
    Reason.NO_SKILL: "无人具备技能 / no helper has the skill",
    Reason.OUT_OF_REACH: "超出服务范围 / none within reach",
    Reason.NOT_FREE: "时段内无空闲 / none free in the window",
    Reason.AT_LIMIT: "已达当日上限 / all at their limit",
    Reason.OUTRANKED: "让位于更高优先级 / lost to higher priority",
}


@app.callback()
def main() -> None:
    """群帮 Qunbang — 志愿者匹配 / volunteer matching."""


@app.command()
def demo(
    time_limit: Annotated[float, typer.Option(help="CP-SAT time limit, seconds")] = 20.0,
    workers: Annotated[int, typer.Option(help="CP-SAT worker threads")] = 2,
    seed: Annotated[int, typer.Option(help="street generator and solver seed")] = 0,
) -> None:
    """Solve the demo street with CP-SAT and the hand rule, and print both summaries."""
    logging.basicConfig(level=logging.WARNING)
    began = time.perf_counter()
    problem = generate_street(preset("demo", seed=seed))
    console.print(
        f"[bold]示范街道 / demo street[/bold] {problem.date}: {len(problem.helpers)} 名志愿者 "
        f"helpers, {len(problem.residents)} 名居民 residents, {len(problem.orders)} 个订单 "
        f"orders (generated in {time.perf_counter() - began:.1f}s)"
    )
    params = SolveParams(time_limit_s=time_limit, workers=workers, seed=seed)
    greedy = solve_greedy(problem, params)
    with console.status("CP-SAT 求解中 / solving…"):
        cpsat = solve(problem, params)
    print_comparison(problem, [greedy, cpsat])
    print_unmatched(cpsat)


def print_comparison(problem: Problem, results: list[Result]) -> None:
    summaries = [summarize(problem, r) for r in results]
    table = Table(title="匹配结果 / matching summary")
    table.add_column("指标 / figure")
    for summary in summaries:
        table.add_column(summary.solver, justify="right")
    for label, value in _rows():
        table.add_row(label, *(value(s) for s in summaries))
    console.print(table)


def _rows() -> list[tuple[str, object]]:
    return [
        ("订单 / orders", lambda s: str(s.orders_total)),
        ("已匹配 / covered", lambda s: str(s.orders_covered)),
        ("加权覆盖率 / weighted coverage", lambda s: f"{s.weighted_coverage_pct:.1f} %"),
        ("总路程 / travel km (total)", lambda s: f"{s.travel_km_total:.1f}"),
        ("平均路程 / travel km (mean)", lambda s: f"{s.travel_km_mean:.2f}"),
        ("最远路程 / travel km (max)", lambda s: f"{s.travel_km_max:.2f}"),
        ("参与志愿者 / helpers used", lambda s: str(s.helpers_used)),
        ("负荷离散 / load spread (sd)", lambda s: f"{s.load_spread:.2f}"),
        ("熟人服务率 / continuity rate", lambda s: f"{100 * s.continuity_rate:.1f} %"),
        ("状态 / status", lambda s: s.status),
        ("差距 / gap", lambda s: f"{100 * s.gap:.2f} %"),
        ("用时 / runtime", lambda s: f"{s.runtime_s:.1f} s"),
    ]


def print_unmatched(result: Result, examples: int = 2) -> None:
    if not result.unmatched:
        console.print("全部订单已匹配 / every order is matched")
        return
    table = Table(title=f"未匹配订单 / unmatched orders ({result.solver})", show_lines=True)
    table.add_column("原因 / reason", max_width=24)
    table.add_column("数量 / count", justify="right")
    table.add_column("示例 / example", ratio=1)
    for reason in Reason:
        rows = [u for u in result.unmatched if u.reason is reason]
        if rows:
            sample = "\n".join(
                f"{u.order}: {u.explanation_zh}\n  {u.explanation_en}" for u in rows[:examples]
            )
            table.add_row(REASON_LABELS[reason], str(len(rows)), sample)
    console.print(table)


if __name__ == "__main__":
    app()
