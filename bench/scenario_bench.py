"""CP-SAT against the hand rule on the shipped scenarios, then the GAP benchmark.

    python bench/scenario_bench.py                          # every scenarios/*.yaml, 20 s each
    python bench/scenario_bench.py --time-limit 10 --variants --gap-time-limit 5
    python bench/scenario_bench.py --scenarios scenarios/pastoral.yaml --no-gap

Each scenario's base (``--variants``: and every variant) is solved by ``api.planner.run`` with
``greedy`` and ``cpsat``, the very code behind ``qunbang scenario run``, and both plans are
checked with the independent verifier. Then ``bench/gap_bench.py`` runs with a short time limit.
Figures go to the terminal and to ``bench/out/scenarios.csv``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from api.planner.run import Overrides, Run, load, run_scenario
from api.planner.scenario import variant_names
from matcher.verify import verify

REPO = Path(__file__).resolve().parents[1]
console = Console(width=None if sys.stdout.isatty() else 160)


@dataclass
class Row:
    scenario: str
    variant: str
    helpers: int
    orders: int
    greedy_coverage: int
    cpsat_coverage: int
    demand: int
    gain_pct: float
    greedy_covered: int
    cpsat_covered: int
    greedy_km: float
    cpsat_km: float
    cpsat_status: str
    cpsat_gap: float
    cpsat_runtime_s: float
    violations: int


def bench_scenario(path: Path, variants: bool, overrides: Overrides) -> list[Row]:
    scenario = load(path)
    rows = []
    for variant in [None, *(variant_names(scenario) if variants else [])]:
        greedy = run_scenario(path, scenario, variant, "greedy", overrides)
        cpsat = run_scenario(path, scenario, variant, "cpsat", overrides)
        rows.append(_row(path, variant, greedy, cpsat))
        console.print(
            f"{path.stem} / {variant or 'base'}: greedy {greedy.result.weighted_coverage:,} "
            f"cpsat {cpsat.result.weighted_coverage:,} ({cpsat.result.status}, "
            f"{cpsat.result.runtime_s:.1f} s)"
        )
    return rows


def _row(path: Path, variant: str | None, greedy: Run, cpsat: Run) -> Row:
    base = greedy.result.weighted_coverage
    gain = 100 * (cpsat.result.weighted_coverage - base) / base if base else 0.0
    violations = sum(
        len(verify(run.problem, run.result, run.params.wait_boost)) for run in (greedy, cpsat)
    )
    return Row(
        scenario=path.stem,
        variant=variant or "base",
        helpers=len(cpsat.problem.helpers),
        orders=len(cpsat.problem.orders),
        greedy_coverage=base,
        cpsat_coverage=cpsat.result.weighted_coverage,
        demand=cpsat.result.weighted_demand,
        gain_pct=gain,
        greedy_covered=greedy.summary.orders_covered,
        cpsat_covered=cpsat.summary.orders_covered,
        greedy_km=greedy.summary.travel_km_total,
        cpsat_km=cpsat.summary.travel_km_total,
        cpsat_status=str(cpsat.result.status),
        cpsat_gap=cpsat.result.gap,
        cpsat_runtime_s=cpsat.result.runtime_s,
        violations=violations,
    )


def show(rows: list[Row]) -> None:
    table = Table(title="CP-SAT vs greedy on the shipped scenarios (weighted coverage)")
    for name in ("scenario", "variant", "helpers / orders", "greedy", "CP-SAT", "gain",
                 "covered g / c", "km g / c", "status (gap)", "time", "violations"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("scenario", "variant") else "right")
    for r in rows:
        table.add_row(
            r.scenario,
            r.variant,
            f"{r.helpers:,} / {r.orders:,}",
            f"{r.greedy_coverage:,}",
            f"{r.cpsat_coverage:,}",
            f"{r.gain_pct:+.1f} %",
            f"{r.greedy_covered} / {r.cpsat_covered}",
            f"{r.greedy_km:,.0f} / {r.cpsat_km:,.0f}",
            f"{r.cpsat_status} ({100 * r.cpsat_gap:.2f} %)",
            f"{r.cpsat_runtime_s:.1f} s",
            str(r.violations),
        )
    console.print(table)


def write_csv(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Row.__dataclass_fields__))
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", nargs="*", type=Path, help="default: scenarios/*.yaml")
    parser.add_argument("--time-limit", type=float, default=20.0, help="CP-SAT seconds per solve")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variants", action="store_true", help="also solve every variant")
    parser.add_argument("--gap-time-limit", type=float, default=10.0, help="seconds per instance")
    parser.add_argument("--gap-families", default="gap1-12,a,b,c")
    parser.add_argument("--no-gap", action="store_true", help="skip the GAP benchmark")
    parser.add_argument("--out", type=Path, default=Path("bench/out/scenarios.csv"))
    args = parser.parse_args(argv)

    paths = args.scenarios or sorted(
        p for p in (REPO / "scenarios").glob("*.yaml") if not p.name.startswith("city")
    )  # city files: bench/city_bench.py
    overrides = Overrides(time_limit_s=args.time_limit, workers=args.workers)
    rows = [row for path in paths for row in bench_scenario(path, args.variants, overrides)]
    show(rows)
    write_csv(rows, args.out)
    console.print(f"wrote {args.out}")
    if args.no_gap:
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import gap_bench  # bench/ is not a package

    gap_args = ["--families", args.gap_families, "--time-limit", str(args.gap_time_limit)]
    return gap_bench.main([*gap_args, "--workers", str(args.workers)])


if __name__ == "__main__":
    sys.exit(main())
