"""``qunbang nightly --all``: every street for one date, solved in parallel
(``api.services.matching.city``). Prints where the solves run, one line per street as it starts
and ends, each street's figures, and the city's total; exit 0 when every street is done, 1 when
one failed (the others are still written)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from api.cli.printing import console
from api.cli.service import print_run
from api.i18n import format_day, format_km, format_number
from api.i18n import gettext as _
from api.planner.city import CityResult
from api.planner.run import Overrides
from api.services.matching.city import CityRun, Event, StreetOutcome, run_city
from api.settings import Settings


def nightly_city(
    sessions: sessionmaker[Session],
    settings: Settings,
    day: dt.date,
    streets: list[tuple[int, str]],
    workers: int,
    split_orders: int,
) -> int:
    """Run the city; print as it goes. Returns the exit code."""
    console.print(where_line(workers))
    city = run_city(
        sessions,
        settings,
        day,
        workers=workers,
        max_orders=split_orders,
        streets=streets,
        progress=_progress,
    )
    for outcome in city.outcomes:
        if outcome.run is not None:
            print_run(outcome.name, outcome.run.date, outcome.run.id, outcome.run.figures)
    console.print(total_line(city))
    return 1 if city.failed else 0


def where_line(workers: int) -> str:
    """Where the solves run, said before they start."""
    from api.services.matching.fanout import ray_installed

    if ray_installed():
        if os.environ.get("RAY_ADDRESS"):
            return _(
                "Solving on the Ray cluster at %(address)s.",
                address=escape(os.environ["RAY_ADDRESS"]),
            )
        return _("Solving on Ray on this machine, %(workers)s workers.", workers=workers)
    if workers > 1:
        return _(
            "Ray is not installed (pip install 'qunbang[cluster]'): solving on this machine, "
            "%(workers)s processes.",
            workers=workers,
        )
    return _(
        "Ray is not installed (pip install 'qunbang[cluster]'): solving on this machine, one "
        "street after another."
    )


def _progress(event: Event, name: str, outcome: StreetOutcome | None) -> None:
    street = f"[bold]{escape(name)}[/bold]"
    if event == "started":
        console.print(_("%(street)s: matching…", street=street))
        return
    assert outcome is not None
    seconds = format_number(outcome.wall_s, 1)
    if outcome.error is not None:
        line = _(
            "%(street)s: failed after %(seconds)s s: %(message)s",
            street=street,
            seconds=seconds,
            message=escape(outcome.error),
        )
        console.print(f"[red]{line}[/red]", soft_wrap=True)
        return
    figures = outcome.run.figures if outcome.run is not None else {}
    line = _(
        "%(street)s: done in %(seconds)s s, %(covered)s of %(orders)s orders matched",
        street=street,
        seconds=seconds,
        covered=format_number(figures.get("covered", 0)),
        orders=format_number(figures.get("orders", 0)),
    )
    split = figures.get("split")
    if split:
        line += " " + _("(solved in %(parts)s parts)", parts=len(split["parts"]))
    console.print(line)


def total_line(city: CityRun) -> str:
    """The city's total: streets done and failed, orders matched, wall time."""
    runs = [o.run for o in city.outcomes if o.run is not None]
    covered = sum(r.figures.get("covered", 0) for r in runs)
    orders = sum(r.figures.get("orders", 0) for r in runs)
    return _(
        "City, %(date)s: %(done)s street(s) done, %(failed)s failed; %(covered)s of %(orders)s "
        "orders matched in %(seconds)s s",
        date=format_day(city.date),
        done=len(runs),
        failed=len(city.failed),
        covered=format_number(covered),
        orders=format_number(orders),
        seconds=format_number(city.wall_s, 1),
    )


def scenario_city(file: Path, overrides: Overrides, workers: int, json_path: Path | None) -> None:
    """``qunbang scenario run`` on a city file: every street on the fan-out, a row per street
    and the city's total."""
    from api.planner import city as planner_city
    from api.services.matching.fanout import Politeness, open_pool

    city = planner_city.load_city(file)
    console.print(where_line(workers))
    pool = open_pool(workers, Politeness(nice=0, idle=False))
    try:
        with console.status(_("solving %(streets)s streets…", streets=len(city.city.streets))):
            result = planner_city.run_city(file, city, pool, overrides)
    finally:
        pool.close()
    console.print(city_table(result))
    console.print(
        _(
            "%(name)s: %(streets)s streets solved in %(seconds)s s (%(pool)s, %(workers)s workers)",
            name=f"[bold]{escape(result.name)}[/bold]",
            streets=len(result.streets),
            seconds=format_number(result.wall_s, 1),
            pool=result.pool,
            workers=result.workers,
        )
    )
    if json_path is not None:
        planner_city.write_city_json(result, json_path)
        console.print(_("JSON written to %(path)s", path=escape(str(json_path))), soft_wrap=True)


def city_table(result: CityResult) -> Table:
    """A row per street and the city's total."""
    table = Table(title=_("City summary"))
    for label in (_("Street"), _("Orders"), _("Covered"), _("Weighted coverage"), _("Travel"),
                  _("Parts"), _("Runtime")):  # fmt: skip
        table.add_column(label, justify="left" if label == _("Street") else "right")

    def row(name: str, orders: int, covered: int, ratio: float, km: float, parts: str,
            seconds: float) -> None:  # fmt: skip
        table.add_row(
            name,
            format_number(orders),
            format_number(covered),
            format_number(100 * ratio, 1) + " %",
            format_km(km),
            parts,
            _("%(seconds)s s", seconds=format_number(seconds, 1)),
        )

    for street in result.streets:
        parts = len(street.split["parts"]) if street.split else 1
        summary = street.summary
        ratio, km = street.result.coverage_ratio, summary.travel_km_total
        row(escape(street.name), summary.orders_total, summary.orders_covered, ratio, km,
            str(parts), street.wall_s)  # fmt: skip
    row(f"[bold]{escape(_('City'))}[/bold]", result.orders, result.covered, result.coverage_ratio,
        result.travel_km, "", result.wall_s)  # fmt: skip
    return table
