"""A city-sized PostgreSQL database: every page's and the main API routes' p50/p95, and the time
of a city nightly write.

Builds (once; ``--keep`` reuses it) the city of ``scenarios/city.yaml`` in a database of its own
on the server: each of the 20 streets as ``api.services.ledger.seed.seed_street`` writes a
generated street (its communities, grids, helpers — 115,000 in all — residents and the night's
~20,000 orders for tomorrow), then, by COPY (``bench/bulk.py``), more residents in the same
grids up to ``--residents`` (200,000), an account for every helper, and one year of history
before today made by ``report_bench.year`` (orders, teams, visits, ratings, follow-ups, points,
hours). A year at the scenario's 20,000 orders a night would be 7.3 million orders (about 35
million rows); the default is ``--per-day 2000`` orders a day in the whole city, shared among the
streets by their night's orders (730,000 orders, 3.5 million rows: still ~2.5 times what the
domain notes suggest — 1,900 claimed items a year in one community, ~820 a day for the city's
158 communities); ``--per-day 20000`` builds the scenario's full rate.

Then the city's nightly (``api.services.matching.city.run_city``, the code behind ``qunbang
nightly --all``) for the first date with no run yet (tomorrow's orders are copied to it on a kept
database), with each street's read, solve and write timed apart (the solve on Ray local or this
machine's processes, ``--workers``). Then ``qunbang serve`` (this worktree's code) on
127.0.0.1, and the pages of ``bench/pages_bench.py`` (every GET page, as the big street's staff,
community staff, a grid worker, the volunteer with the most offers, a resident and a family
account) and the main API routes (order lists, offers, a helper's offers, accept, decline, the
report, the runs), ``--requests`` fetches each after one untimed one: p50 / p95 / max, over 300
ms at p95 marked.

    PYTHONPATH=. .venv/bin/python bench/city_db_bench.py --keep citybench            # build, time
    PYTHONPATH=. .venv/bin/python bench/city_db_bench.py --keep citybench --no-nightly  # time again
    PYTHONPATH=. .venv/bin/python bench/city_db_bench.py --keep citybench --nightly-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages_bench
import report_bench
from bulk import copy_rows, reset_ids
from service_bench import start_server

from api.planner.city import load_city, street_scenario
from api.planner.scenario.load import street_spec
from api.services.accounts import auth
from api.services.accounts.auth import add_user
from api.services.circles import totals as circle_totals
from api.services.hours import totals as honour_totals
from api.services.ledger.demo import Accounts
from api.services.ledger.seed import seed_street
from api.services.matching import fanout, nightly
from api.services.matching.city import every_street, run_city
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.statuses import OfferStatus, OrderStatus, RunStatus
from api.store.tables import (
    AssignmentRow,
    FeedbackRow,
    FollowUpRow,
    HelperRow,
    HoursEntry,
    ItemRow,
    OfferRow,
    OrderRow,
    PointsEntry,
    ResidentRow,
    RunRow,
    Street,
    UserRow,
)

REPO = Path(__file__).resolve().parents[1]
SERVER = "postgresql+psycopg://qunbang@127.0.0.1:55432/qunbang"
PASSWORD = "bench-password"
STAFF, COMMUNITY, RESIDENT = "city-staff", "city-community", "city-resident"
TARGET_MS = pages_bench.TARGET_MS
SLOW_S, TIMEOUT_S = 5.0, 120.0  # a page slower than SLOW_S is fetched once; TIMEOUT_S: given up
# The tables ``report_bench.year`` writes.
HISTORY = (OrderRow, AssignmentRow, OfferRow, FeedbackRow, FollowUpRow, PointsEntry, HoursEntry)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=SERVER, help="the PostgreSQL server (a URL)")
    parser.add_argument("--keep", type=Path, help="build into this database and keep it")
    parser.add_argument("--scenario", type=Path, default=REPO / "scenarios/city.yaml")
    parser.add_argument("--residents", type=int, default=200_000, help="residents in the city")
    parser.add_argument("--per-day", type=int, default=2000, help="history: orders a day, city")
    parser.add_argument("--requests", type=int, default=20, help="timed fetches per page/route")
    parser.add_argument("--time-limit", type=float, default=5.0, help="nightly: s per solve")
    parser.add_argument("--workers", type=int, default=2, help="nightly: parallel solves")
    parser.add_argument("--no-ray", action="store_true", help="nightly: processes, not Ray")
    parser.add_argument("--streets", type=int, help="nightly: only the first N streets")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--no-nightly", action="store_true", help="time the pages only")
    parser.add_argument("--nightly-only", action="store_true", help="time the nightly only")
    parser.add_argument("--server-log", type=Path, help="the server's output goes here")
    parser.add_argument(
        "--statements",
        action="store_true",
        help="count each page's SQL statements in process (no server) instead of timing p95",
    )
    parser.add_argument(
        "--only", metavar="PATTERN", help="time only the pages/routes whose path matches (a regex)"
    )
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    kept = args.keep is not None and report_bench.kept_pg(args)
    with report_bench.database(args.pg, args.keep) as url:
        settings = Settings(database_url=url, tick_seconds=0, nightly_time_limit_s=args.time_limit)
        migrate(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        if not kept or not built(sessions, settings, args):
            build(sessions, settings, args)
        if not args.no_nightly:
            city_nightly(sessions, settings, args)
        if not args.nightly_only:
            ids, logins = accounts(sessions, settings)
            if args.statements:
                statement_counts(settings, ids, logins, args.only)
            else:
                measure(settings, ids, logins, args)
        engine.dispose()
    print(f"load average at end: {os.getloadavg()}", flush=True)


# ----------------------------------------------------------------------------- the city


def built(sessions: sessionmaker[Session], settings: Settings, args: argparse.Namespace) -> bool:
    """Whether the kept database holds the whole city: every street, its history, the residents
    and the helpers' accounts (a build cut short, e.g. by a time limit, is resumed)."""
    city = load_city(args.scenario)
    today = local_today(settings)
    with sessions() as session:
        streets = session.scalar(select(func.count()).select_from(Street)) or 0
        with_history = session.scalar(
            select(func.count(func.distinct(OrderRow.street_id))).where(OrderRow.date < today)
        )
        residents = session.scalar(select(func.count()).select_from(ResidentRow)) or 0
        no_login = session.scalar(
            select(func.count())
            .select_from(HelperRow)
            .where(~select(UserRow.id).where(UserRow.helper_id == HelperRow.id).exists())
        )
    return (
        streets >= len(city.city.streets)
        and with_history == streets
        and residents >= args.residents
        and no_login == 0
    )


def build(sessions: sessionmaker[Session], settings: Settings, args: argparse.Namespace) -> None:
    """The city's streets, its extra residents, helper accounts and one year of history. Each
    street, the people and each street's history are committed apart; what a database already
    holds (a build cut short) is kept and the rest written."""
    city = load_city(args.scenario)
    today = local_today(settings)
    tomorrow = today + dt.timedelta(days=1)
    began = time.perf_counter()
    streets: list[tuple[int, int]] = []  # (street id, the night's orders)
    with sessions() as session:
        for number, street in enumerate(city.city.streets, start=1):
            code = f"s{number:02d}"
            have = session.scalars(select(Street).where(Street.code == code)).first()
            if have is not None:
                night = session.scalar(
                    select(func.count())
                    .select_from(OrderRow)
                    .where(OrderRow.street_id == have.id, OrderRow.date >= tomorrow)
                )
                streets.append((have.id, night or 0))
                continue
            spec = street_spec(street_scenario(city, street, args.scenario))
            assert spec is not None
            seeded = seed_street(session, spec, code=code, name=street.name, order_date=tomorrow)
            session.commit()
            streets.append((seeded.street.id, seeded.orders))
            print(
                f"  {street.name}: {seeded.helpers:,} helpers, {seeded.residents:,} residents, "
                f"{seeded.orders:,} orders ({time.perf_counter() - began:.0f} s)",
                flush=True,
            )
        seeded_s = time.perf_counter() - began
        more_residents(session, streets, args.residents)
        helper_accounts(session)
        session.commit()
        people_s = time.perf_counter() - began - seeded_s
        history_s, counts = history(session, settings, streets, args.per_day, today)
        session.execute(text("ANALYZE"))
        session.commit()
    rows = ", ".join(f"{n:,} {k}" for k, n in counts.items())
    print(
        f"built in {time.perf_counter() - began:.0f} s: streets {seeded_s:.0f} s (ORM), people "
        f"and accounts {people_s:.0f} s (COPY), history {history_s:.0f} s (COPY): {rows}",
        flush=True,
    )


def more_residents(session: Session, streets: list[tuple[int, int]], total: int) -> None:
    """Residents beyond the generated ones, up to ``total``, each street's share by its night's
    orders, each in the grid (and near the place) of a generated resident of its street."""
    have = session.scalar(select(func.count()).select_from(ResidentRow)) or 0
    missing = max(0, total - have)
    night = sum(n for _, n in streets)
    rng = random.Random(1)
    next_id = session.scalar(select(func.max(ResidentRow.id))) or 0
    rows = []
    for street_id, orders in streets:
        like = session.execute(
            select(
                ResidentRow.community_id,
                ResidentRow.grid_id,
                ResidentRow.category,
                ResidentRow.lat,
                ResidentRow.lon,
            ).where(ResidentRow.street_id == street_id)
        ).all()
        for _ in range(round(missing * orders / night)):
            community_id, grid_id, category, lat, lon = rng.choice(like)
            next_id += 1
            rows.append(
                {
                    "id": next_id,
                    "code": f"X{next_id:07d}",
                    "street_id": street_id,
                    "community_id": community_id,
                    "grid_id": grid_id,
                    "name": f"居民{next_id}",
                    "category": category,
                    "lat": lat + rng.uniform(-0.003, 0.003),
                    "lon": lon + rng.uniform(-0.003, 0.003),
                }
            )
    copy_rows(session, ResidentRow, rows)
    reset_ids(session, [ResidentRow])


def helper_accounts(session: Session) -> None:
    """A login for every helper that has none (username: its code; one cheap hash of
    ``PASSWORD`` for all)."""
    hashed = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    next_id = session.scalar(select(func.max(UserRow.id))) or 0
    rows = [
        {
            "id": next_id + k,
            "username": code,
            "password_hash": hashed,
            "role": "helper",
            "street_id": street_id,
            "helper_id": helper_id,
        }
        for k, (helper_id, code, street_id) in enumerate(
            session.execute(
                select(HelperRow.id, HelperRow.code, HelperRow.street_id).where(
                    ~select(UserRow.id).where(UserRow.helper_id == HelperRow.id).exists()
                )
            ),
            start=1,
        )
    ]
    copy_rows(session, UserRow, rows)
    reset_ids(session, [UserRow])


def history(
    session: Session,
    settings: Settings,
    streets: list[tuple[int, int]],
    per_day: int,
    today: dt.date,
) -> tuple[float, dict[str, int]]:
    """A year before today for every street that has none yet (``report_bench.year``),
    ``per_day`` orders a day in the city shared by the night's orders; the seconds it took and
    the rows of each kind."""
    began = time.perf_counter()
    items = [(i.code, i.points) for i in session.scalars(select(ItemRow).where(ItemRow.active))]
    night = sum(n for _, n in streets)
    ids: dict[Any, int] = {}
    counts: dict[str, int] = defaultdict(int)
    for street_id, orders in streets:
        rng = random.Random(street_id)  # a resumed build makes the same street's year
        if session.scalar(
            select(OrderRow.id).where(OrderRow.street_id == street_id, OrderRow.date < today)
        ):
            continue
        residents = list(
            session.scalars(select(ResidentRow.id).where(ResidentRow.street_id == street_id))
        )
        helpers = list(
            session.scalars(select(HelperRow.id).where(HelperRow.street_id == street_id))
        )
        share = max(1, round(per_day * orders / night))
        for table in HISTORY:  # each table's largest id so far
            ids.setdefault(table, session.scalar(select(func.max(table.id))) or 0)
        rows = report_bench.year(settings, street_id, residents, helpers, items, share, rng, ids)
        for table, batch in rows.items():
            copy_rows(session, table, batch)
            counts[table.__tablename__] += len(batch)
        reset_ids(session, ids)
        circle_totals.rebuild(
            session, street_id
        )  # the circles' running totals of the copied history
        session.commit()
        print(
            f"  street {street_id}: {share} a day, {len(rows[OrderRow]):,} orders "
            f"({time.perf_counter() - began:.0f} s)",
            flush=True,
        )
    reset_ids(session, ids)
    if counts:  # the ledgers were copied past their writers: the honour roll's totals again
        honour_totals.rebuild(session, settings.timezone)
    session.commit()
    return time.perf_counter() - began, dict(counts)


# ----------------------------------------------------------------------------- the nightly


def city_nightly(
    sessions: sessionmaker[Session], settings: Settings, args: argparse.Namespace
) -> None:
    """``run_city`` for the first date after today with no run, each street's read, solve and
    write timed apart."""
    date = nightly_date(sessions, settings)
    streets = every_street(sessions)[: args.streets]
    spent: dict[str, list[float]] = defaultdict(list)
    statements = StatementCount(sessions.kw["bind"])
    originals = (nightly.read_snapshot, nightly._write, fanout.StreetSolver.__call__)

    def timing(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*a: Any, **k: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                spent[name].append(time.perf_counter() - began)

        return timed

    nightly.read_snapshot = timing("read", originals[0])  # type: ignore[assignment]
    nightly._write = timing("write", statements.counting(originals[1]))  # type: ignore[assignment]
    fanout.StreetSolver.__call__ = timing("solve", originals[2])  # type: ignore[method-assign]
    print(f"city nightly for {date}: load average {os.getloadavg()}", flush=True)
    try:
        city = run_city(
            sessions,
            settings,
            date,
            workers=args.workers,
            use_ray=False if args.no_ray else None,
            streets=streets,
            trigger="bench",
            progress=lambda event, name, outcome: print(
                f"  {event} {name}" + (f" {outcome.wall_s:.1f} s" if outcome else ""), flush=True
            ),
        )
    finally:
        nightly.read_snapshot, nightly._write = originals[0], originals[1]  # type: ignore[assignment]
        fanout.StreetSolver.__call__ = originals[2]  # type: ignore[method-assign]
    with sessions() as session:
        written = session.execute(
            select(func.count(OfferRow.id)).where(
                OfferRow.offered_at
                >= dt.datetime.now(dt.UTC).replace(tzinfo=None)
                - dt.timedelta(seconds=city.wall_s + 60)
            )
        ).scalar_one()
    walls = [o.wall_s for o in city.outcomes]
    print(
        f"city nightly: {len(city.outcomes)} streets ({len(city.failed)} failed) on {city.pool} "
        f"with {city.workers} workers in {city.wall_s:.1f} s; {written:,} offers written; "
        f"per street wall {min(walls):.1f}–{max(walls):.1f} s",
        flush=True,
    )
    for failed in city.failed:
        print(f"  FAILED {failed.name}: {failed.error}")
    for name in ("read", "solve", "write"):
        times = spent[name]
        print(
            f"  {name}: sum {sum(times):.1f} s over {len(times)} streets, "
            f"median {statistics.median(times):.2f} s, max {max(times):.2f} s"
        )
    for count, in_db in statements.writes:
        print(f"  write: {count:,} SQL statements, {in_db:.1f} s in the database")
    print(f"load average after the nightly: {os.getloadavg()}", flush=True)


class StatementCount:
    """The SQL statements a street's write (or a page) sends (an engine event hook: one per cursor
    execution, an executemany's batch counting once) and the time they take in the driver."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.writes: list[tuple[int, float]] = []
        self.active = False
        self.count, self.in_db, self.began = 0, 0.0, 0.0
        self.slowest: list[tuple[float, str]] = []
        event.listen(self.engine, "before_cursor_execute", self.before)
        event.listen(self.engine, "after_cursor_execute", self.after)

    def before(self, *_args: Any) -> None:
        self.began = time.perf_counter()

    def after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.active:
            self.count += 1
            took = time.perf_counter() - self.began
            self.in_db += took
            self.slowest.append((took, " ".join(statement.split())[:90]))

    def counting(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*a: Any, **k: Any) -> Any:
            self.active, self.count, self.in_db, self.slowest = True, 0, 0.0, []
            try:
                return function(*a, **k)
            finally:
                self.active = False
                self.writes.append((self.count, self.in_db))
                for took, statement in sorted(self.slowest, reverse=True)[:5]:
                    print(f"    {took:.2f} s {statement}", flush=True)

        return counted


def nightly_date(sessions: sessionmaker[Session], settings: Settings) -> dt.date:
    """The first date after today without a run; tomorrow's orders are copied to it if it has
    none (a kept database times the nightly again on fresh orders)."""
    tomorrow = local_today(settings) + dt.timedelta(days=1)
    with sessions() as session:
        ran = set(session.scalars(select(RunRow.date).where(RunRow.date >= tomorrow)))
        date = tomorrow
        while date in ran:
            date += dt.timedelta(days=1)
        if date != tomorrow and not session.scalar(
            select(func.count()).select_from(OrderRow).where(OrderRow.date == date)
        ):
            session.execute(
                text(
                    "INSERT INTO orders (street_id, resident_id, item, date, first_date, "
                    "window_start, window_end, flexible, priority, status, note, placed_at, "
                    "cancel_reason, version, reject_reason) "
                    "SELECT street_id, resident_id, item, :day, :day, window_start, window_end, "
                    "flexible, priority, 'open', '', placed_at, '', 0, '' FROM orders "
                    "WHERE date = :seeded AND series_id IS NULL ORDER BY id"
                ),
                {"day": date, "seeded": tomorrow},
            )
            session.commit()
    return date


# ----------------------------------------------------------------------------- measuring


def accounts(
    sessions: sessionmaker[Session], settings: Settings
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The big street's staff, community staff, volunteer (its helper with the most offers),
    resident (with a planned order), grid worker and family accounts; ids for path parameters."""
    with sessions() as session:
        street = session.scalars(select(Street).order_by(Street.id)).first()
        assert street is not None, "no city in the database"
        run = session.scalars(
            select(RunRow)
            .where(RunRow.street_id == street.id, RunRow.status == RunStatus.DONE)
            .order_by(RunRow.id.desc())
        ).first()
        assert run is not None, "the big street has no done run: run the nightly"
        helper_id, code = session.execute(
            select(HelperRow.id, HelperRow.code)
            .join(OfferRow, OfferRow.helper_id == HelperRow.id)
            .where(HelperRow.street_id == street.id)
            .group_by(HelperRow.id, HelperRow.code)
            .order_by(
                func.count().filter(OfferRow.status == OfferStatus.PENDING).desc(),
                func.count().desc(),
            )
            .limit(1)
        ).one()
        order = session.scalars(
            select(OrderRow)
            .join(ResidentRow, ResidentRow.id == OrderRow.resident_id)
            .where(
                OrderRow.street_id == street.id,
                OrderRow.date == run.date,
                OrderRow.status == OrderStatus.OFFERED,
                ResidentRow.grid_id.is_not(None),
            )
            .order_by(OrderRow.id)
        ).first()
        assert order is not None, "no offered order on the big street"
        first_community = order.resident.community_id
        made = Accounts(password=PASSWORD, staff=STAFF, community_staff=COMMUNITY,
                        planner=STAFF, helper=code)  # fmt: skip
        if session.scalar(select(UserRow.id).where(UserRow.username == STAFF)) is None:
            original = auth.HASHER
            auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
            try:
                add_user(session, STAFF, PASSWORD, "staff", street_id=street.id)
                add_user(session, COMMUNITY, PASSWORD, "staff", street_id=street.id,
                         community_id=first_community)  # fmt: skip
                add_user(session, RESIDENT, PASSWORD, "resident", street_id=street.id,
                         resident_id=order.resident_id)  # fmt: skip
                pages_bench.intake_accounts(session, order.resident, made)
            finally:
                auth.HASHER = original
            session.commit()
        resident_id = session.scalars(
            select(UserRow.resident_id).where(UserRow.username == RESIDENT)
        ).one()
        resident_order = session.scalar(
            select(func.max(OrderRow.id)).where(OrderRow.resident_id == resident_id)
        )
        ids = {
            "helper_id": str(helper_id),
            "resident_id": str(resident_id),
            "order_id": str(resident_order),
            "run_id": str(run.id),
            "offer_id": str(
                session.scalar(select(func.max(OfferRow.id)).where(OfferRow.helper_id == helper_id))
            ),
            "follow_up_id": str(
                session.scalar(
                    select(func.max(FollowUpRow.id))
                    .join(OrderRow, OrderRow.id == FollowUpRow.order_id)
                    .where(OrderRow.street_id == street.id)
                )
            ),
            "kind": "residents",
            "date": run.date.isoformat(),
            "street_id": str(street.id),
        }
    logins = {
        "staff": (STAFF, PASSWORD),
        "community": (COMMUNITY, PASSWORD),
        "volunteer": (code, PASSWORD),
        "resident": (RESIDENT, PASSWORD),
        "gridworker": ("bench-gridworker", PASSWORD),
        "family": ("bench-family", PASSWORD),
    }
    return ids, logins


@contextmanager
def server(
    settings: Settings, port: int, workers: int = 2, log: Path | None = None
) -> Iterator[str]:
    """``qunbang serve`` of this worktree's code on 127.0.0.1:``port`` (its output to ``log``)."""
    process = start_server(settings, port, workers, log)
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(
    settings: Settings,
    ids: dict[str, str],
    logins: dict[str, tuple[str, str]],
    args: argparse.Namespace,
) -> None:
    print(f"pages and routes: load average {os.getloadavg()}", flush=True)
    with server(settings, args.port, log=args.server_log) as base:
        rows = pages(base, logins, ids, args.requests, args.only)
        rows += api_routes(base, settings, ids, logins, args.requests, args.only)
    print(f"{'page or route':62} {'as':10} {'p50':>7} {'p95':>7} {'max':>7}")
    for path, role, times in sorted(rows, key=lambda r: -pages_bench.percentile(r[2], 95)):
        p95 = pages_bench.percentile(times, 95)
        mark = "  OVER" if p95 >= TARGET_MS else ""
        print(
            f"{path[:62]:62} {role:10} {statistics.median(times):7.1f} {p95:7.1f} "
            f"{max(times):7.1f}{mark}"
        )
    if not rows:
        print("no page or route matched")
        return
    worst = max(pages_bench.percentile(t, 95) for _, _, t in rows)
    over = sum(pages_bench.percentile(t, 95) >= TARGET_MS for _, _, t in rows)
    print(f"{len(rows)} pages and routes; worst p95 {worst:.1f} ms; {over} over {TARGET_MS:.0f}")
    print(f"load average after measuring: {os.getloadavg()}", flush=True)


def page_plan(ids: dict[str, str], only: str | None = None) -> list[tuple[str, str]]:
    """Every GET page of ``pages_bench`` with its ids filled, as (path, role); the run page for
    the night's date too (staff and community staff); only those matching ``only``."""
    plan: list[tuple[str, str]] = []
    for route in sorted(set(pages_bench.page_routes())):
        path = None if route in pages_bench.SKIPPED else pages_bench.filled(route, ids)
        if path is None:
            continue
        role = next((r for p, r in pages_bench.PREFIX_ROLE.items() if path.startswith(p)), "nobody")
        plan.append((path, role))
        if role in pages_bench.ALSO_AS:
            plan.append((path, pages_bench.ALSO_AS[role]))
    run_day = f"/s/?date={ids['date']}"
    plan += [(run_day, "staff"), (run_day, "community"), ("/s/", "community")]
    plan.append((f"/g/order?resident_id={ids['resident_id']}", "gridworker"))
    if only is not None:
        plan = [(path, role) for path, role in plan if re.search(only, path)]
    return plan


def pages(
    base: str,
    logins: dict[str, tuple[str, str]],
    ids: dict[str, str],
    requests: int,
    only: str | None = None,
) -> list[tuple[str, str, list[float]]]:
    """``pages_bench.measure``'s pages (every GET page, as its user), with a time limit: a page
    whose second fetch (after the untimed first) takes over ``SLOW_S`` is timed by it alone."""
    plan = page_plan(ids, only)
    clients = {role: pages_bench.client(base, logins.get(role)) for role in {r for _, r in plan}}
    rows = []
    try:
        for path, role in plan:
            http = clients[role]
            began = time.perf_counter()
            try:
                first = http.get(path, timeout=TIMEOUT_S)
            except httpx.TimeoutException:
                print(f"{path} as {role}: over {TIMEOUT_S:.0f} s", flush=True)
                rows.append((f"{path} (timed out)", role, [TIMEOUT_S * 1000]))
                continue
            except httpx.TransportError as failure:  # e.g. a worker gone: say which page
                print(f"{path} as {role}: {failure!r}", flush=True)
                continue
            if first.status_code >= 400:
                print(f"skipped {path} as {role}: {first.status_code}", flush=True)
                continue
            began = time.perf_counter()  # the second fetch: caches warmed by the first
            try:
                http.get(path, timeout=TIMEOUT_S)
            except httpx.TimeoutException:
                rows.append((f"{path} (timed out)", role, [TIMEOUT_S * 1000]))
                continue
            second_ms = (time.perf_counter() - began) * 1000
            if second_ms > SLOW_S * 1000:
                rows.append((f"{path} (one fetch)", role, [second_ms]))
                continue
            times = [second_ms]
            for _ in range(requests):
                began = time.perf_counter()
                answer = http.get(path, timeout=TIMEOUT_S)
                times.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == first.status_code, (path, answer.status_code)
            rows.append((path, role, times))
    finally:
        for http in clients.values():
            http.close()
    return rows


def api_gets(ids: dict[str, str]) -> list[tuple[str, str]]:
    """The main API routes read: (path, role)."""
    date = ids["date"]
    return [
        (f"/orders?date={date}", "staff"),
        ("/orders", "staff"),
        (f"/orders?date={date}&status=open", "staff"),
        ("/orders?overdue=true", "staff"),
        (f"/orders?date={date}", "community"),
        (f"/orders/{ids['order_id']}", "staff"),
        (f"/orders/{ids['order_id']}/candidates", "staff"),
        ("/helpers", "staff"),
        (f"/helpers/{ids['helper_id']}", "staff"),
        (f"/helpers/{ids['helper_id']}/points", "staff"),
        ("/residents", "staff"),
        ("/runs", "staff"),
        (f"/runs/{ids['run_id']}", "staff"),
        ("/follow-ups", "staff"),
        ("/me/offers", "volunteer"),
        ("/me/offers?status=all", "volunteer"),
        (f"/me/offers/{ids['offer_id']}", "volunteer"),
        ("/me/points", "volunteer"),
        (f"/orders?resident_id={ids['resident_id']}", "resident"),
    ]


def api_routes(
    base: str,
    settings: Settings,
    ids: dict[str, str],
    logins: dict[str, tuple[str, str]],
    requests: int,
    only: str | None = None,
) -> list[tuple[str, str, list[float]]]:
    """The main API routes: GETs ``requests`` times after one untimed call; accept and decline
    once each on ``requests`` different pending offers of the night (each as its helper)."""
    gets = api_gets(ids)
    actions: tuple[str, ...] = ("accept", "decline")
    if only is not None:
        gets = [(path, role) for path, role in gets if re.search(only, f"GET {path}")]
        actions = tuple(a for a in actions if re.search(only, f"POST /me/offers/{{id}}/{a}"))
    rows: list[tuple[str, str, list[float]]] = []
    with httpx.Client(base_url=base, timeout=120) as http:
        headers = {role: bearer(http, *logins[role]) for role in {r for _, r in gets}}
        for path, role in gets:
            first = http.get(path, headers=headers[role])
            if first.status_code >= 400:
                print(f"skipped {path} as {role}: {first.status_code} {first.text[:200]}")
                continue
            began = time.perf_counter()  # the second call: caches warmed by the first
            http.get(path, headers=headers[role])
            second_ms = (time.perf_counter() - began) * 1000
            if second_ms > SLOW_S * 1000:
                rows.append((f"GET {path} (one fetch)", role, [second_ms]))
                continue
            times = [second_ms]
            for _ in range(requests - 1):
                began = time.perf_counter()
                answer = http.get(path, headers=headers[role])
                times.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == first.status_code, (path, answer.status_code)
            rows.append((f"GET {path}", role, times))
        for action in actions:
            times = []
            for offer_id, username in pending_offers(settings, int(ids["street_id"]), requests):
                auth_header = bearer(http, username, PASSWORD)
                began = time.perf_counter()
                answer = http.post(f"/me/offers/{offer_id}/{action}", headers=auth_header)
                times.append((time.perf_counter() - began) * 1000)
                if answer.status_code >= 400:
                    print(f"{action} {offer_id}: {answer.status_code} {answer.text[:200]}")
            if times:
                rows.append((f"POST /me/offers/{{id}}/{action}", "helpers", times))
    return rows


def statement_counts(
    settings: Settings, ids: dict[str, str], logins: dict[str, tuple[str, str]], only: str | None
) -> None:
    """Each page and GET route fetched in this process (the app on a test client, no server)
    twice; of the second fetch the SQL statements sent (an engine event hook: an executemany
    counts once), their time in the driver and the fetch's wall time. The count does not
    depend on the machine's load; the times do."""
    from fastapi.testclient import TestClient

    from api.http.app import create_app

    app = create_app(settings, ticker=False)
    counter = StatementCount(app.state.engine)
    plan = page_plan(ids, only) + [
        (f"GET {path}", role)
        for path, role in api_gets(ids)
        if only is None or re.search(only, f"GET {path}")
    ]
    found: list[tuple[str, str, int, float, float, int]] = []
    print(f"statements: load average {os.getloadavg()}", flush=True)
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as http:
        tokens: dict[str, dict[str, str]] = {}
        logged_in = None
        for path, role in sorted(plan, key=lambda p: p[1]):
            headers: dict[str, str] = {}
            url = path.removeprefix("GET ")
            if path.startswith("GET "):
                if role not in tokens:
                    tokens[role] = bearer(http, *logins[role])
                headers = tokens[role]
            elif role != logged_in:
                http.cookies.clear()
                if role in logins:
                    username, password = logins[role]
                    answer = http.post("/login", data={"username": username, "password": password})
                    assert answer.status_code == 303, (username, answer.status_code)
                logged_in = role
            http.get(url, headers=headers)  # warms the caches, as the timed runs' first fetch
            counter.active, counter.count, counter.in_db, counter.slowest = True, 0, 0.0, []
            began = time.perf_counter()
            answer = http.get(url, headers=headers)
            wall = time.perf_counter() - began
            counter.active = False
            found.append((path, role, counter.count, counter.in_db, wall, answer.status_code))
    print(f"{'page or route':62} {'as':10} {'SQL':>5} {'in db ms':>9} {'wall ms':>8} status")
    for path, role, count, in_db, wall, status in sorted(found, key=lambda f: -f[4]):
        print(f"{path[:62]:62} {role:10} {count:5} {in_db * 1000:9.1f} {wall * 1000:8.1f} {status}")
    print(f"load average after counting: {os.getloadavg()}", flush=True)


def pending_offers(settings: Settings, street_id: int, n: int) -> list[tuple[int, str]]:
    """``n`` pending offers of the big street, each of a different helper (offer id, username)."""
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            found = session.execute(
                select(func.min(OfferRow.id), HelperRow.code)
                .join(HelperRow, HelperRow.id == OfferRow.helper_id)
                .where(HelperRow.street_id == street_id, OfferRow.status == OfferStatus.PENDING)
                .group_by(HelperRow.code)
                .order_by(func.min(OfferRow.id))
                .limit(n)
            ).all()
    finally:
        engine.dispose()
    return [(offer_id, code) for offer_id, code in found]


def bearer(http: httpx.Client, username: str, password: str) -> dict[str, str]:
    answer = http.post("/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, (username, answer.status_code, answer.text[:200])
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


if __name__ == "__main__":
    main()
