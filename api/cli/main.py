"""The ``qunbang`` command line. What a command prints, its help included, is in one language,
from the catalogs: ``--lang``, else ``QUNBANG_LANG``, else the system's locale, else Chinese
(``api.cli.language``). Help texts are ``i18n.lazy`` messages, read when Typer builds the
command line: ``run`` chooses the language before that.

Commands stay thin: they check options, call a service (``api.planner.run``,
``api.planner.report``) and
print (``api.cli.printing``). Input errors print one red message and exit with code 2, never a
traceback.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from api.cli import service as cli_service
from api.cli.circles import circles_app
from api.cli.language import UnknownLanguage, cli_locale, offered
from api.cli.printing import console, print_comparison, print_summaries, print_unmatched
from api.cli.report import report as report_command
from api.cli.street import street_app
from api.extras import MissingExtra, require
from api.i18n import current, format_day, format_number, lazy, use_locale
from api.i18n import gettext as _
from api.logs import configure_cli_logging
from api.planner import run as scenario_run
from api.planner.run import OptionError, Overrides
from api.planner.scenario import ScenarioError, scenario_json_schema
from api.planner.scenario.messages import pydantic_message
from api.settings import Settings, get_settings
from matcher.generator import generate_street, preset
from matcher.params import SolveParams
from matcher.solve import solve, solve_greedy

app = typer.Typer(
    help=lazy("Qunbang: volunteer matching for street offices."), no_args_is_help=True
)
scenario_app = typer.Typer(help=lazy("Scenario files: run, compare, report."), no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(cli_service.user_app, name="user")
app.add_typer(cli_service.db_app, name="db")
app.add_typer(street_app, name="street")
app.add_typer(circles_app, name="circles")
app.command(
    "demo",
    help=lazy(
        "Create the database, load the demo street, match tomorrow's orders and start the server."
    ),
)(cli_service.demo)
app.command(
    "nightly",
    help=lazy(
        "Match the open orders of a date and send the offers (exit 0 done, 1 failed, 2 bad input)."
    ),
)(cli_service.nightly)
app.command("serve", help=lazy("Run the API under uvicorn (OpenAPI at /docs)."))(cli_service.serve)
app.command(
    "report",
    help=lazy("Print a street's figures for a month or a quarter (and write them as XLSX)."),
)(report_command)

ScenarioFile = Annotated[
    Path, typer.Argument(help=lazy("scenario file (YAML)"), show_default=False)
]
TimeLimit = Annotated[
    float | None,
    typer.Option(help=lazy("seconds per solve (> 0); default: the file's setting")),
]
Workers = Annotated[
    int | None,
    typer.Option(min=1, max=64, help=lazy("CP-SAT threads; default: the file's setting")),
]
OPTION_NAMES = {"time_limit_s": "--time-limit", "workers": "--workers", "seed": "--seed"}
Seed = Annotated[
    int | None, typer.Option(min=0, help=lazy("CP-SAT seed; default: the file's setting"))
]


Lang = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help=lazy(
            "language of what the command prints: zh_CN or en; default: QUNBANG_LANG, "
            "then LC_ALL / LC_MESSAGES / LANG, then zh_CN"
        ),
        show_default=False,
    ),
]


@app.callback(help=lazy("Qunbang: volunteer matching for street offices."))
def main(ctx: typer.Context, lang: Lang = None) -> None:
    """Qunbang: volunteer matching for street offices."""
    settings = _settings()
    try:
        locale = cli_locale(lang, settings)
    except UnknownLanguage as error:  # said in the language the system asks for
        with use_locale(_system_locale(settings)):
            _fail(_unknown_language(str(error), settings))
    ctx.with_resource(use_locale(locale))  # the command's locale, given back when it ends


def run() -> None:
    """The ``qunbang`` command. Its help texts are read when shown, so they too speak the
    command's language: chosen here before any option is parsed (``--lang`` wherever it
    stands, else the setting and the system's), as ``main`` chooses it for the command."""
    wish = _lang_option(sys.argv[1:])
    settings = _settings()
    try:
        locale = cli_locale(wish, settings)
    except UnknownLanguage:  # main says so, in the system's language
        locale = _system_locale(settings)
    with use_locale(locale):
        app()


def _system_locale(settings: Settings) -> str:
    """The locale the system's variables ask for (an unknown ``--lang`` or setting left out)."""
    return cli_locale(None, settings.model_copy(update={"lang": ""}))


def _lang_option(args: list[str]) -> str | None:
    for index, arg in enumerate(args):
        if arg == "--lang" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError:  # a bad QUNBANG_* value: the commands that read it say so
        return Settings.model_construct()


def _unknown_language(wish: str, settings: Settings) -> str:
    choices = ", ".join(offered(settings))
    return _(
        "unknown language %(lang)s; choose one of: %(choices)s", lang=repr(wish), choices=choices
    )


@app.command(
    "match-demo",
    help=lazy(
        "Solve the generated demo street in memory with CP-SAT and the hand rule; print both."
    ),
)
def match_demo(
    time_limit: Annotated[float, typer.Option(help=lazy("CP-SAT time limit, seconds"))] = 20.0,
    workers: Annotated[int, typer.Option(help=lazy("CP-SAT worker threads"))] = 2,
    seed: Annotated[int, typer.Option(help=lazy("street generator and solver seed"))] = 0,
) -> None:
    """Solve the generated demo street in memory with CP-SAT and the hand rule; print both."""
    configure_cli_logging(get_settings().log_format)
    began = time.perf_counter()
    problem = generate_street(preset("demo", seed=seed))
    console.print(
        _(
            "Demo street, %(date)s: %(helpers)s helpers, %(residents)s residents, %(orders)s "
            "orders (generated in %(seconds)s s)",
            date=format_day(problem.date),
            helpers=format_number(len(problem.helpers)),
            residents=format_number(len(problem.residents)),
            orders=format_number(len(problem.orders)),
            seconds=format_number(time.perf_counter() - began, 1),
        )
    )
    params = SolveParams(time_limit_s=time_limit, workers=workers, seed=seed)
    greedy = solve_greedy(problem, params)
    with console.status(_("solving…")):
        cpsat = solve(problem, params)
    print_comparison(problem, [greedy, cpsat])
    print_unmatched(cpsat, problem.catalogue)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn input errors into a red message and exit code 2 (no traceback); a missing extra
    into one with exit code 1."""
    try:
        yield
    except (ScenarioError, OptionError) as error:
        _fail(str(error))
    except MissingExtra as error:  # a failure (exit 1), not bad input
        _fail(str(error), code=1)
    except ValidationError as error:
        lines = [f"{_option_name(e['loc'])}: {pydantic_message(e)}" for e in error.errors()]
        _fail("\n".join(lines))
    except OSError as error:  # e.g. --json or --out in a folder that cannot be created
        _fail(f"{error.filename or ''}: {error.strerror or error}")


def _option_name(loc: tuple[int | str, ...]) -> str:
    """The command-line option behind a solver setting that failed validation."""
    path = ".".join(str(part) for part in loc)
    return OPTION_NAMES.get(path, path or "value")


def _fail(message: str, code: int = 2) -> None:
    console.print(
        "[red]" + _("error: %(message)s", message=escape(message)) + "[/red]", soft_wrap=True
    )  # paths intact
    raise typer.Exit(code=code)


@scenario_app.command(
    "schema", help=lazy("Print the JSON Schema of scenario files (editors validate with it).")
)
def scenario_schema() -> None:
    """Print the JSON Schema of scenario files (editors validate with it)."""
    print(json.dumps(scenario_json_schema(), ensure_ascii=False, indent=2))


@scenario_app.command(
    "run", help=lazy("Solve one variant of a scenario and print its summary and unmatched orders.")
)
def scenario_run_command(
    file: ScenarioFile,
    variant: Annotated[
        str | None, typer.Option(help=lazy("variant to solve; default: base"))
    ] = None,
    solver: Annotated[str, typer.Option(help=lazy("cpsat | greedy"))] = "cpsat",
    time_limit: TimeLimit = None,
    workers: Workers = None,
    seed: Seed = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help=lazy("also write the result as JSON here"))
    ] = None,
) -> None:
    """Solve one variant of a scenario and print its summary and unmatched orders.

    --json writes an object with: scenario, variant (null: base), label, solver, status, message,
    orders_total, orders_covered, weighted_coverage (ratio 0..1), weighted_coverage_units,
    weighted_demand_units, travel_km (total round-trip km), travel_km_mean, travel_km_max,
    helpers_used, load_max, load_spread, continuity_rate, gap, runtime_s, stages (list of
    {name, status, objective, bound, gap, runtime_s}), assignments (list of {order, helpers,
    start: "HH:MM" or null}) and unmatched (list of {order, reason, params (the reason's facts),
    explanation (Chinese), explanation_en, outranked_by}).
    """
    overrides = Overrides(time_limit_s=time_limit, workers=workers, seed=seed)
    with user_errors():
        scenario = scenario_run.load(file)
        with console.status(_("solving… (%(solver)s)", solver=solver)) as status:
            run = scenario_run.run_scenario(
                file, scenario, variant, solver, overrides, _progress_line(status.update)
            )
    console.print(f"[bold]{escape(scenario.name)}[/bold] · {escape(run.label)} · {run.solver}")
    print_summaries([(run.column, run.summary)])
    if run.result.message:
        console.print(_("note: %(message)s", message=escape(run.result.message)))
    print_unmatched(run.result, run.problem.catalogue)
    if json_path is not None:
        with user_errors():
            scenario_run.write_json(run, json_path)
        console.print(_("JSON written to %(path)s", path=escape(str(json_path))), soft_wrap=True)


def _progress_line(update: Callable[[str], None]) -> scenario_run.Progress:
    def progress(stage: str, objective: float, bound: float, elapsed_s: float) -> None:
        update(
            _(
                "CP-SAT, stage %(stage)s: best %(best)s · bound %(bound)s · %(seconds)s s",
                stage=stage,
                best=format_number(objective, 1),
                bound=format_number(bound, 1),
                seconds=format_number(elapsed_s, 1),
            )
        )

    return progress


@scenario_app.command(
    "compare", help=lazy("Solve several variants and solvers and print them side by side.")
)
def scenario_compare(
    file: ScenarioFile,
    variants: Annotated[
        str | None,
        typer.Option(help=lazy("comma-separated; 'base' is the file unchanged; default: all")),
    ] = None,
    solvers: Annotated[str, typer.Option(help=lazy("comma-separated: cpsat, greedy"))] = "cpsat",
    time_limit: TimeLimit = None,
    workers: Workers = None,
) -> None:
    """Solve several variants and solvers and print them side by side.

    Under every figure of a later column: its difference against the first column.
    """
    overrides = Overrides(time_limit_s=time_limit, workers=workers)
    runs = []
    with user_errors():
        scenario = scenario_run.load(file)
        columns = scenario_run.compare_columns(
            scenario, file, scenario_run.split_list(variants), scenario_run.split_list(solvers)
        )
        for variant, solver in columns:
            name = f"{variant or scenario_run.BASE} · {solver}"
            with console.status(_("solving… (%(name)s)", name=name)) as status:
                runs.append(
                    scenario_run.run_scenario(
                        file, scenario, variant, solver, overrides, _progress_line(status.update)
                    )
                )
    print_summaries([(run.column, run.summary) for run in runs], differences=True)


@scenario_app.command(
    "report",
    help=lazy("Write a self-contained HTML report (charts, map, variants) and print its path."),
)
def scenario_report(
    file: ScenarioFile,
    out: Annotated[Path, typer.Option(help=lazy("folder for the HTML report"))],
    variants: Annotated[
        str | None, typer.Option(help=lazy("comma-separated; default: all"))
    ] = None,
    solver: Annotated[str, typer.Option(help=lazy("cpsat | greedy"))] = "cpsat",
    time_limit: TimeLimit = None,
    lang: Annotated[
        str | None,
        typer.Option(
            help=lazy("language of the report (zh_CN, en); default: the command's language")
        ),
    ] = None,
) -> None:
    """Write a self-contained HTML report (charts, map, variants) and print its path.

    The base scenario is always in the report; --variants picks the variants beside it.
    """
    names = [v for v in scenario_run.split_list(variants) if v != scenario_run.BASE]
    with user_errors():
        require("report")  # without matplotlib: one line naming the extra to install
        from api.planner.report import write_report  # matplotlib: only for a report

        scenario_run.check_solver(solver)
        if time_limit is not None and time_limit <= 0:
            raise OptionError(_("--time-limit: must be greater than 0"))
        locale = _report_locale(lang)
        with console.status(_("writing the report…")):
            html = write_report(file, names or None, out, solver, time_limit, locale)
    console.print(_("report: %(html)s", html=html))


def _report_locale(lang: str | None) -> str:
    """The report's locale: ``--lang`` of the report command, else the command's own."""
    if lang is None:
        return current()
    settings = get_settings()
    try:
        return cli_locale(lang, settings)
    except UnknownLanguage as error:
        raise OptionError("--lang: " + _unknown_language(str(error), settings)) from None


if __name__ == "__main__":
    app()
