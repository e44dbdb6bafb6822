"""The report for superiors on a street with a year of history, on SQLite and PostgreSQL.

Builds one street by bulk inserts (no services: a year of the loop would take hours to play):
8 communities of 6 grids, 12,000 residents, 1,200 helpers (the demo street's helpers), and for
each of the 365 days before today ``--per-day`` orders (default 600, the demo street's day: far
above a real 街道's daily orders, so a bound, not a typical load) with their teams (one member,
one in ten two), visits done and confirmed (some after the deadline, some still open and overdue),
ratings for two in five, follow-ups for low scores and a sample, base points per confirmed member,
bonuses and reversals. Then times ``report_by_code`` for the last full month and the last full
quarter, street-wide and for one community (min / median / max of ``--runs``), and the staff page
``/s/report`` (in-process, rendering included).

    .venv/bin/python bench/report_bench.py                        # SQLite (a temp file)
    .venv/bin/python bench/report_bench.py --pg postgresql+psycopg://qunbang@127.0.0.1:55432/qunbang

``--pg`` takes a server URL as ``QUNBANG_TEST_PG_URL`` does: a throw-away database is made from
it and dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk import copy_rows, reset_ids

from api.http.app import create_app
from api.services.accounts import auth
from api.services.accounts.auth import add_user
from api.services.actor import actor_of
from api.services.circles import totals as circle_totals
from api.services.hours import totals as honour_totals
from api.services.ledger.seed import load_catalogue_rows
from api.services.offers.assign import local_today, to_utc
from api.services.reports.monthly import report_by_code, report_for
from api.services.reports.periods import Period, period_of
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import (
    AssignmentRow,
    Community,
    FeedbackRow,
    FollowUpRow,
    Grid,
    HelperRow,
    HoursEntry,
    ItemRow,
    OfferRow,
    OrderRow,
    PointsEntry,
    ResidentRow,
    Street,
    UserRow,
)

COMMUNITIES, GRIDS = 8, 6
RESIDENTS, HELPERS = 12_000, 1_200
DAYS = 365
PASSWORD = "bench-password"
# What the report's points and follow-up queries could search by (see --indexes).
INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_bench_points_created_at ON points_entries (created_at)",
    "CREATE INDEX IF NOT EXISTS ix_bench_follow_ups_due_date ON follow_ups (due_date)",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", help="a PostgreSQL server URL (else SQLite in a temp file)")
    parser.add_argument("--per-day", type=int, default=600, help="orders per day")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each report")
    parser.add_argument(
        "--keep",
        type=Path,
        help="build into this SQLite file (with --pg: database), or time it again if it exists",
    )
    parser.add_argument(
        "--indexes",
        action="store_true",
        help="time again with the indexes the report would use (not in the migrations)",
    )
    args = parser.parse_args()
    kept = args.keep is not None and (args.keep.exists() if args.pg is None else kept_pg(args))
    with database(args.pg, args.keep) as url:
        settings = Settings(database_url=url, tick_seconds=0)
        migrate(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        if not kept:
            started = time.perf_counter()
            counts = build(sessions, settings, args.per_day)
            built = time.perf_counter() - started
            done = ", ".join(f"{n:,} {k}" for k, n in counts.items())
            print(f"{make_url(url).get_backend_name()}: built in {built:.0f} s: {done}")
        measure(sessions, settings, args.runs)
        if args.indexes:
            with engine.begin() as conn:
                for statement in INDEXES:
                    conn.execute(text(statement))
                conn.execute(text("ANALYZE"))
            print("with " + "; ".join(INDEXES))
            measure(sessions, settings, args.runs)
        engine.dispose()


def kept_pg(args: argparse.Namespace) -> bool:
    """Whether the kept PostgreSQL database exists and holds the street already."""
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        known = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": args.keep.name}
        )
    admin.dispose()
    return bool(known)


@contextmanager
def database(pg: str | None, keep: Path | None = None) -> Iterator[str]:
    """A database URL: a temp SQLite file, or a throw-away database on the server; with
    ``keep``, that SQLite file or (with ``pg``) the database of that name, kept afterwards."""
    if pg is None:
        if keep is not None:
            yield f"sqlite:///{keep}"
            return
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'report.db'}"
        return
    name = keep.name if keep is not None else f"qb_report_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        known = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not known:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg).set(database=name).render_as_string(hide_password=False)
    finally:
        if keep is None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ----------------------------------------------------------------------------- the year


def build(sessions: Any, settings: Settings, per_day: int) -> dict[str, int]:
    """Write the street and its year; the number of rows of each kind."""
    rng = random.Random(0)
    with sessions() as session:
        load_catalogue_rows(session)
        items = [(i.code, i.points) for i in session.scalars(select(ItemRow).where(ItemRow.active))]
        street = Street(code="bench", name="基准街道", default_deadline_hours=72)
        session.add(street)
        session.flush()
        grids = places(session, street.id)
        residents = people(session, ResidentRow, street.id, grids, RESIDENTS, rng)
        helpers = people(session, HelperRow, street.id, grids, HELPERS, rng)
        original = auth.HASHER
        auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        add_user(session, "bench_staff", PASSWORD, "staff", street_id=street.id)
        auth.HASHER = original
        session.commit()
        rows = year(settings, street.id, residents, helpers, items, per_day, rng)
        for table, batch in rows.items():
            copy_rows(session, table, batch)
        reset_ids(session, rows)
        circle_totals.rebuild(
            session, street.id
        )  # the circles' running totals of the copied history
        honour_totals.rebuild(
            session, settings.timezone
        )  # the ledgers were copied past the writers
        session.commit()
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            session.execute(text("ANALYZE"))
            session.commit()
    return {table.__tablename__: len(batch) for table, batch in rows.items()}


def places(session: Session, street_id: int) -> list[tuple[int, int]]:
    """(community id, grid id) of every grid."""
    found = []
    for c in range(1, COMMUNITIES + 1):
        community = Community(street_id=street_id, code=f"C{c:02d}", name=f"第{c}社区")
        session.add(community)
        session.flush()
        for g in range(1, GRIDS + 1):
            grid = Grid(community_id=community.id, code=f"G{g:02d}", name=f"第{c}社区第{g}网格")
            session.add(grid)
            session.flush()
            found.append((community.id, grid.id))
    return found


def people(
    session: Session,
    table: Any,
    street_id: int,
    grids: list[tuple[int, int]],
    n: int,
    rng: random.Random,
) -> list[int]:
    """``n`` residents or helpers spread over the grids (one in fifty of no grid); their ids."""
    prefix = "R" if table is ResidentRow else "H"
    rows = []
    for k in range(n):
        community_id, grid_id = rng.choice(grids)
        row = {
            "code": f"{prefix}{k:06d}",
            "street_id": street_id,
            "community_id": community_id,
            "grid_id": None if rng.random() < 0.02 else grid_id,
            "name": f"{prefix}{k}",
            "lat": 40.8 + rng.random() / 50,
            "lon": 111.7 + rng.random() / 50,
        }
        row |= {"category": "elderly"} if table is ResidentRow else {"kind": "volunteer"}
        rows.append(row)
    session.execute(insert(table), rows)
    return list(session.scalars(select(table.id).where(table.street_id == street_id)))


def year(
    settings: Settings,
    street_id: int,
    residents: list[int],
    helpers: list[int],
    items: list[tuple[str, int]],
    per_day: int,
    rng: random.Random,
    ids: dict[Any, int] | None = None,
) -> dict[Any, list[dict[str, Any]]]:
    """The rows of a year of orders before today, ids given here: after ``ids`` (each table's
    largest id so far, updated; default: the tables are empty)."""
    today = local_today(settings)
    rows: dict[Any, list[dict[str, Any]]] = {
        OrderRow: [],
        AssignmentRow: [],
        OfferRow: [],
        FeedbackRow: [],
        FollowUpRow: [],
        PointsEntry: [],
        HoursEntry: [],
    }
    ids = {table: 0 for table in rows} if ids is None else ids

    def add(table: Any, **values: Any) -> int:
        ids[table] += 1
        rows[table].append({"id": ids[table], **values})
        return ids[table]

    for back in range(DAYS, 0, -1):
        day = today - dt.timedelta(days=back)
        morning = to_utc(settings, day, 8 * 60)
        for _ in range(per_day):
            item, points = rng.choice(items)
            placed = morning - dt.timedelta(hours=rng.uniform(2, 48))
            due = placed + dt.timedelta(hours=72)
            fate = rng.random()
            status = (
                "cancelled"
                if fate < 0.03
                else "open"
                if fate < 0.05
                else "done"
                if fate < 0.10
                else "confirmed"
            )
            first = day - dt.timedelta(days=1) if rng.random() < 0.05 else day  # rolled over
            order_id = add(
                OrderRow,
                street_id=street_id,
                resident_id=rng.choice(residents),
                item=item,
                date=day,
                first_date=first,
                status=status,
                placed_at=placed,
                due_at=due,
            )
            if status in ("cancelled", "open"):
                continue
            late = rng.random() < 0.08
            done_at = (
                due + dt.timedelta(hours=rng.uniform(1, 48))
                if late
                else morning + dt.timedelta(hours=rng.uniform(0, 10))
            )
            confirmed_at = done_at + dt.timedelta(hours=2) if status == "confirmed" else None
            assignment = add(
                AssignmentRow,
                order_id=order_id,
                source="nightly",
                status=status,
                created_at=placed,
                done_at=done_at,
                confirmed_at=confirmed_at,
            )
            team = rng.sample(helpers, 2 if rng.random() < 0.1 else 1)
            for helper in team:
                add(
                    OfferRow,
                    assignment_id=assignment,
                    helper_id=helper,
                    status="accepted",
                    offered_at=placed,
                    respond_by=morning,
                    responded_at=placed,
                )
                if confirmed_at is not None:  # the hours ledger's entry of a confirmed visit
                    add(HoursEntry, helper_id=helper, order_id=order_id, served_on=day,
                        minutes=rng.choice((30, 60, 90)), kind="visit", source="planned",
                        reason="", created_at=confirmed_at)  # fmt: skip
                if confirmed_at is not None and points > 0:
                    add(
                        PointsEntry,
                        helper_id=helper,
                        amount=points,
                        kind="base",
                        order_id=order_id,
                        reason="base",
                        created_at=confirmed_at,
                    )
            follow_up(add, order_id, day, done_at, rng)
        bonuses(add, rows, helpers, morning, rng)
    return rows


def follow_up(
    add: Callable[..., int], order_id: int, day: dt.date, done_at: dt.datetime, rng: random.Random
) -> None:
    """Two in five visits are rated; a score of 2 or less, and one in ten others, is followed
    up three days later (four in five of them done)."""
    if rng.random() >= 0.4:
        return
    score = rng.choices([5, 4, 3, 2, 1], weights=[60, 25, 8, 5, 2])[0]
    feedback = add(FeedbackRow, order_id=order_id, score=score, created_at=done_at)
    if score <= 2 or rng.random() < 0.1:
        done = rng.random() < 0.8
        add(
            FollowUpRow,
            order_id=order_id,
            feedback_id=feedback,
            due_date=day + dt.timedelta(days=3),
            status="done" if done else "scheduled",
            done_at=done_at + dt.timedelta(days=2) if done else None,
        )


def bonuses(
    add: Callable[..., int],
    rows: dict[Any, list[dict[str, Any]]],
    helpers: list[int],
    at: dt.datetime,
    rng: random.Random,
) -> None:
    """A few bonuses a day; one in ten of them reversed the next day."""
    for _ in range(5):
        helper = rng.choice(helpers)
        bonus = add(
            PointsEntry, helper_id=helper, amount=20, kind="bonus", reason="bonus", created_at=at
        )
        if rng.random() < 0.1:
            add(
                PointsEntry,
                helper_id=helper,
                amount=-20,
                kind="reversal",
                reverses_id=bonus,
                reason="correction",
                created_at=at + dt.timedelta(days=1),
            )


# ----------------------------------------------------------------------------- timing


def timed(runs: int, action: Callable[[], Any]) -> str:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    ms = [s * 1000 for s in samples]
    return f"min {min(ms):.0f} ms, median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms"


def measure(sessions: Any, settings: Settings, runs: int) -> None:
    today = local_today(settings)
    month: Period = period_of(today).shifted(-1)
    quarter: Period = period_of(today, "quarter").shifted(-1)
    with sessions() as session:
        staff = session.scalars(select(UserRow).where(UserRow.username == "bench_staff")).one()
        community = session.scalar(select(func.min(Community.id)))
        actor = actor_of(staff)
        community_actor = actor.__class__(**{**actor.__dict__, "community_id": community})
        for period in (month, quarter):
            report = report_by_code(session, settings, "bench", period)
            figures = report.top.figures
            print(
                f"{period.code}: {figures.orders:,} orders, {figures.on_time:,} on time, "
                f"{figures.overdue:,} overdue, {figures.rated:,} rated, "
                f"{figures.follow_ups_due:,} follow-ups, {figures.volunteer_hours:,.0f} h, "
                f"{figures.points:,} points; {len(report.rows)} rows"
            )
            street = timed(runs, lambda p=period: report_by_code(session, settings, "bench", p))
            own = timed(runs, lambda p=period: report_for(session, settings, community_actor, p))
            print(f"  street-wide: {street}\n  one community: {own}")
    app = create_app(settings, ticker=False)
    with TestClient(app) as client:
        login = client.post(
            "/login", data={"username": "bench_staff", "password": PASSWORD}, follow_redirects=False
        )
        assert login.status_code == 303, login.text
        for period in (month, quarter):

            def page(p: Period = period) -> None:
                answer = client.get(f"/s/report?period={p.code}")
                assert answer.status_code == 200

            def sheet(p: Period = period) -> None:
                answer = client.get(f"/s/report?period={p.code}&format=xlsx")
                assert answer.status_code == 200

            print(f"page {period.code}: {timed(runs, page)}; xlsx: {timed(runs, sheet)}")


if __name__ == "__main__":
    sys.exit(main())
