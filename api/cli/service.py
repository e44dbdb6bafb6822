"""The service's commands: ``qunbang demo``, ``nightly``, ``serve``, ``db upgrade``, ``db check``,
``user add``.

Exit codes (cron-friendly): 0 done, 1 failed, 2 bad input. No traceback reaches the user; the
error is one line (details go to the log).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from sqlalchemy import select

from api.cli.printing import console
from api.extras import MissingExtra
from api.i18n import N_, format_day, format_km, format_number, lazy
from api.i18n import gettext as _
from api.logs import configure_cli_logging, server_logging_config
from api.planner import labels
from api.services.errors import ServiceError
from api.settings import Settings, get_settings
from api.store.db import make_engine, migrate, session_factory
from matcher.split import DEFAULT_MAX_ORDERS

log = logging.getLogger("qunbang.cli")
WORKER_HEALTHCHECK_S = 60

user_app = typer.Typer(help=lazy("Accounts."), no_args_is_help=True)
db_app = typer.Typer(help=lazy("The database: upgrade, check."), no_args_is_help=True)

DateOption = Annotated[
    str | None, typer.Option("--date", help=lazy("YYYY-MM-DD; default: tomorrow (street time)"))
]


@contextmanager
def exits() -> Iterator[None]:
    """Bad input → exit 2, a failure → exit 1, each as one red line."""
    from api.services.matching.nightly import NightlyFailed

    try:
        yield
    except typer.Exit:
        raise
    except (NightlyFailed, MissingExtra) as error:
        _fail(str(error), 1)
    except ServiceError as error:
        _fail(error.message, 2)
    except Exception as error:  # anything else is a failure, logged in full
        log.exception("command failed")
        _fail(f"{type(error).__name__}: {error}", 1)


def _fail(message: str, code: int) -> None:
    console.print(
        "[red]" + _("error: %(message)s", message=escape(message)) + "[/red]", soft_wrap=True
    )
    raise typer.Exit(code=code)


def _database(settings: Settings):  # type: ignore[no-untyped-def]
    migrate(settings.database_url)
    return session_factory(make_engine(settings.database_url))


def _parse_date(text: str | None, settings: Settings) -> dt.date:
    from api.services.offers.assign import local_today

    if text is None:
        return local_today(settings) + dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        _fail(_("--date: expected YYYY-MM-DD, got %(text)s", text=repr(text)), 2)
        raise  # unreachable: _fail exits


def nightly(
    date: DateOption = None,
    street: Annotated[
        str | None, typer.Option(help=lazy("street code; default: every street"))
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(min=0.1, help=lazy("CP-SAT seconds; default QUNBANG_NIGHTLY_TIME_LIMIT_S")),
    ] = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help=lazy(
                "every street at once, solved in parallel (on Ray with the cluster extra, "
                "else on this machine's processes)"
            ),
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=4096, help=lazy("with --all: parallel solves; default: this machine's CPUs")
        ),
    ] = None,
    split_orders: Annotated[
        int,
        typer.Option(min=50, help=lazy("with --all: a street with more orders is solved in parts")),
    ] = DEFAULT_MAX_ORDERS,
) -> None:
    """Match the open orders of a date and send the offers (exit 0 done, 1 failed, 2 bad input)."""
    settings = get_settings()
    configure_cli_logging(settings.log_format)
    if time_limit is not None:
        settings = settings.model_copy(update={"nightly_time_limit_s": time_limit})
    day = _parse_date(date, settings)
    if every and street is not None:
        _fail(_("--all and --street exclude each other"), 2)
    one_writer = settings.database_url.startswith("sqlite")
    if hasattr(os, "nice") and settings.nightly_nice > 0 and not one_writer:
        # A batch job: the whole process (reading, solving, writing) yields the CPU to the
        # service's requests on the same machine (threads started later inherit it). Not on
        # SQLite, where the write holds the one writer lock of the whole database: a write
        # starved of CPU there would hold every street's answers up; it runs at the normal
        # priority and ends fast, while the reads and the solve still yield in a thread of
        # their own (``polite.run_politely``).
        os.nice(settings.nightly_nice)
    with exits():
        sessions = _database(settings)
        from api.services.matching.polite import lower_backends

        # Its queries too, in the database server's processes (when it may renice them).
        lower_backends(sessions.kw["bind"], settings.nightly_nice)
        if every:
            from api.cli.city import nightly_city

            streets = _streets(sessions, None)
            workers = workers or os.cpu_count() or 1
            code = nightly_city(sessions, settings, day, streets, workers, split_orders)
            raise typer.Exit(code)
        for street_id, name in _streets(sessions, street):
            run = _run_nightly(sessions, settings, street_id, day, "cli")
            print_run(name, run.date, run.id, run.figures)


def _streets(sessions, code: str | None) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    from api.store.tables import Street

    with sessions() as session:
        query = select(Street.id, Street.name).order_by(Street.id)
        if code is not None:
            query = query.where(Street.code == code)
        streets = [(row.id, row.name) for row in session.execute(query)]
    if code is not None and not streets:
        _fail(_("--street: no street with code %(code)s", code=repr(code)), 2)
    if not streets:
        _fail(_("the database has no street yet (try: qunbang demo)"), 2)
    return streets


def _run_nightly(sessions, settings: Settings, street_id: int, day: dt.date, trigger: str):  # type: ignore[no-untyped-def]
    from api.services.matching.nightly import run_nightly

    with console.status(_("matching %(day)s…", day=day)):
        return run_nightly(sessions, settings, street_id, day, trigger=trigger)


# A run's figures as the command prints them: key, label (a message id), how the value reads.
RUN_FIGURES: tuple[tuple[str, str, Any], ...] = (
    ("orders", N_("Orders"), format_number),
    ("covered", N_("Matched"), format_number),
    ("coverage_ratio", N_("Weighted coverage"), lambda v: format_number(100 * v, 1) + " %"),
    (
        "greedy_coverage_ratio",
        N_("Hand rule's coverage"),
        lambda v: format_number(100 * v, 1) + " %",
    ),
    ("travel_km", N_("Travel"), format_km),
    ("status", N_("Solver status"), labels.solver_status),
    ("runtime_s", N_("Runtime"), lambda v: _("%(seconds)s s", seconds=format_number(v, 1))),
)


def print_run(street: str, date: dt.date, run_id: int, figures: dict[str, Any]) -> None:
    """One run's figures, in the command's language."""
    console.print(
        _(
            "%(street)s, %(date)s · run #%(run)s",
            street=f"[bold]{escape(street)}[/bold]",
            date=format_day(date),
            run=run_id,
        )
    )
    for key, label, show in RUN_FIGURES:
        if figures.get(key) is not None:
            line = _("%(figure)s: %(value)s", figure=_(label), value=show(figures[key]))
            console.print("  " + line)


def serve(
    host: Annotated[str, typer.Option(help=lazy("address to listen on"))] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help=lazy("port"))] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help=lazy("server processes"))] = 1,
) -> None:
    """Run the API under uvicorn (OpenAPI at /docs)."""
    import uvicorn

    from api.http.observe import shared_across_workers

    settings = get_settings()
    with exits():
        migrate(settings.database_url)
    # Each worker process builds its app from the same environment (QUNBANG_*); each starts a
    # ticker, and the ticker lease lets one of them work at a time (api.services.messages.ticker).
    # Workers count their requests' latency in one shared folder (api.http.observe).
    with shared_across_workers(workers):
        uvicorn.run(
            "api.http.app:serving_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=server_logging_config(settings.log_format),
            log_level="info",
            # A starting worker imports the app for seconds on a busy machine and may not
            # answer the supervisor's ping meanwhile; the default 5 s had workers killed and
            # restarted over and over.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )


@db_app.command(
    "upgrade", help=lazy("Bring the database (QUNBANG_DATABASE_URL) to the newest schema.")
)
def db_upgrade() -> None:
    """Bring the database (QUNBANG_DATABASE_URL) to the newest schema."""
    with exits():
        migrate(get_settings().database_url)
    console.print(_("database is up to date"))


@db_app.command(
    "check",
    help=lazy(
        "Check the database's invariants (reads only): exit 0 and one summary line if none "
        "is broken, 1 with one line per violation, 2 on bad input."
    ),
)
def db_check(
    street: Annotated[
        str | None, typer.Option(help=lazy("street code; default: every street"))
    ] = None,
) -> None:
    """Check the database's invariants (reads only): exit 0 and one summary line if none is
    broken, 1 with one line per violation, 2 on bad input."""
    from api.services.matching.invariants import check_database
    from api.services.offers.assign import local_today
    from api.store.tables import Street

    with exits():
        settings = get_settings()
        engine = make_engine(settings.database_url)
        try:
            with session_factory(engine)() as session:
                street_id = None
                if street is not None:
                    street_id = session.scalar(select(Street.id).where(Street.code == street))
                    if street_id is None:
                        _fail(_("--street: no street with code %(code)s", code=repr(street)), 2)
                violations = check_database(session, street_id, local_today(settings))
        finally:
            engine.dispose()
    for violation in violations:
        console.print(escape(str(violation)), soft_wrap=True, highlight=False)
    if violations:
        raise typer.Exit(code=1)
    if street:
        console.print(
            _("no violations (street %(street)s)", street=escape(street)), highlight=False
        )
    else:
        console.print(_("no violations (every street)"), highlight=False)


@user_app.command(
    "add",
    help=lazy("Create an account (the password is asked for, or read from QUNBANG_NEW_PASSWORD)."),
)
def user_add(
    username: Annotated[str, typer.Argument(help=lazy("login name"))],
    role: Annotated[
        str, typer.Option(help=lazy("staff | planner | helper | resident | grid_worker | family"))
    ],
    street: Annotated[str | None, typer.Option(help=lazy("street code (staff, planner)"))] = None,
    community: Annotated[
        str | None, typer.Option(help=lazy("community code: staff of one community"))
    ] = None,
    helper: Annotated[
        str | None, typer.Option(help=lazy("helper ledger code (helper accounts)"))
    ] = None,
    resident: Annotated[
        str | None, typer.Option(help=lazy("resident ledger code (resident accounts)"))
    ] = None,
    grid: Annotated[
        str | None, typer.Option(help=lazy("grid code in the community (grid workers)"))
    ] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=lazy("Password"),
            hide_input=True,
            confirmation_prompt=True,
            envvar="QUNBANG_NEW_PASSWORD",
            help=lazy("the account's password (asked for when not given)"),
        ),
    ] = "",
) -> None:
    """Create an account (the password is asked for, or read from QUNBANG_NEW_PASSWORD)."""
    from api.services.accounts.users import add_account

    with exits():
        sessions = _database(get_settings())
        with sessions() as session:
            add_account(session, username, password, role, street, community, helper, resident,
                        grid)  # fmt: skip
    console.print(
        _("account created: %(username)s (%(role)s)", username=escape(username), role=role)
    )


def demo(
    serve_too: Annotated[
        bool, typer.Option("--serve/--no-serve", help=lazy("start the server after"))
    ] = True,
    host: Annotated[str, typer.Option(help=lazy("address to listen on"))] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help=lazy("port"))] = 8000,
    time_limit: Annotated[float | None, typer.Option(min=0.1, help=lazy("CP-SAT seconds"))] = None,
) -> None:
    """Create the database, load the demo street, match tomorrow's orders and start the server."""
    from api.services.ledger.demo import ensure_demo_helper, ensure_demo_street

    settings = get_settings()
    configure_cli_logging(settings.log_format)
    if time_limit is not None:
        settings = settings.model_copy(update={"nightly_time_limit_s": time_limit})
    with exits():
        sessions = _database(settings)
        with console.status(_("loading the demo street…")):
            street = ensure_demo_street(sessions, settings)
        run = _run_nightly(sessions, settings, street.street_id, street.date, "demo")
        print_run(_("demo street"), run.date, run.id, run.figures)
        helper_name = ensure_demo_helper(sessions, street)
    accounts = street.accounts
    url = f"http://{host}:{port}"
    console.print("\n" + _("Address: %(url)s   API documentation: %(url)s/docs", url=url))
    console.print(_("database: %(database_url)s", database_url=escape(settings.database_url)))
    console.print(_("Demo logins (password: %(password)s)", password=escape(accounts.password)))
    logins = [
        (labels.pgettext("role", "staff"), accounts.staff),
        (_("community staff"), accounts.community_staff),
        (labels.pgettext("role", "planner"), accounts.planner),
    ]
    if helper_name:
        logins.append(
            (labels.pgettext("role", "volunteer"), f"{accounts.helper} ({escape(helper_name)})")
        )
    for role, login in logins:
        console.print("  " + _("%(figure)s: %(value)s", figure=role, value=login))
    if serve_too:
        serve(host=host, port=port, workers=1)
