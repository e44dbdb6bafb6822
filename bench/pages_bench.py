"""Every page's latency on the demo street, as a browser meets it: p50/p95/max per page.

Seeds the demo street (1,200 helpers, 600 orders), runs its nightly, gives a volunteer, a
resident, a grid worker (of that resident's grid, which also holds a few management-type
people), a family account (linked to that resident, approved) and staff accounts, starts
``qunbang serve`` on 127.0.0.1 and, for every GET page of the app (found as the app finds them:
the ``router`` of each ``api.http.pages`` module), logs in as the page's user (``/s/``: street
staff, ``/v/``: the volunteer, ``/r/``: the resident, ``/g/``: the grid worker, the rest:
nobody), fills path parameters with real ids and fetches it ``--requests`` times after one
untimed visit. The resident pages are timed for the family account too, the run page (``/s/``)
with the demo day chosen and for community staff. Pages over 300 ms at p95 are marked. Run by
hand:

    .venv/bin/python bench/pages_bench.py [--database sqlite|URL] [--requests 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import pkgutil
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_bench import start_server

from api.http import pages
from api.services.accounts.auth import add_user
from api.services.actor import actor_of
from api.services.ledger.demo import Accounts, ensure_demo_helper, ensure_demo_street
from api.services.ledger.street_catalogue import street_catalogue
from api.services.matching.nightly import run_nightly
from api.services.programmes import setup
from api.services.programmes.pairs import compute_pairs
from api.services.programmes.setup import ProgrammeSpec
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import (
    FamilyLinkRow,
    FollowUpRow,
    HelperRow,
    ManagedPersonRow,
    OfferRow,
    OrderRow,
    ProgrammeMemberRow,
    ProgrammeRow,
    ResidentRow,
    RunRow,
    UserRow,
)

TARGET_MS = 300.0
PREFIX_ROLE = {"/s/": "staff", "/v/": "volunteer", "/r/": "resident", "/g/": "gridworker"}
ALSO_AS = {"resident": "family"}  # the family account uses the resident pages too
MANAGED_IN_GRID = 12  # management-type people in the grid worker's grid
PROGRAMME_SIDE = 40  # residents and helpers enrolled in the bench's pairing programme
SKIPPED = {"/lang/{code}", "/logout"}  # a redirect, not a page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite", help="'sqlite' (a temp file) or a URL")
    parser.add_argument("--requests", type=int, default=30, help="timed fetches per page")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    args = parser.parse_args()
    url = args.database
    if url == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp()}/pages.db"
    settings = Settings(database_url=url, nightly_time_limit_s=10, tick_seconds=0)
    ids, logins = seed(settings)
    server = start_server(settings, args.port, args.workers)
    try:
        base = f"http://127.0.0.1:{args.port}"
        rows = measure(base, logins, ids, args.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{'page':58} {'as':10} {'p50':>7} {'p95':>7} {'max':>7}")
    for path, role, times in sorted(rows, key=lambda r: -percentile(r[2], 95)):
        p95 = percentile(times, 95)
        mark = "  OVER" if p95 >= TARGET_MS else ""
        print(
            f"{path[:58]:58} {role:10} {statistics.median(times):7.1f} {p95:7.1f} "
            f"{max(times):7.1f}{mark}"
        )
    worst = max(percentile(t, 95) for _, _, t in rows)
    print(f"{len(rows)} pages, {args.requests} fetches each; worst p95 {worst:.1f} ms")


def seed(settings: Settings) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The demo street after its nightly run; ids for path parameters and each role's login."""
    migrate(settings.database_url)
    sessions = session_factory(make_engine(settings.database_url))
    demo = ensure_demo_street(sessions, settings)
    began = time.perf_counter()
    run_nightly(sessions, settings, demo.street_id, demo.date, trigger="bench")
    print(f"demo street nightly: {time.perf_counter() - began:.1f} s", flush=True)
    ensure_demo_helper(sessions, demo)
    accounts = demo.accounts
    with sessions() as session:
        helper_id = session.scalar(
            select(UserRow.helper_id).where(UserRow.username == accounts.helper)
        )
        order = session.scalars(
            select(OrderRow)
            .where(OrderRow.street_id == demo.street_id, OrderRow.date == demo.date)
            .order_by(OrderRow.id)
        ).first()
        assert order is not None, "the demo street has no orders"
        if session.scalar(select(UserRow.id).where(UserRow.username == "bench-resident")) is None:
            add_user(
                session,
                "bench-resident",
                accounts.password,
                "resident",
                street_id=demo.street_id,
                resident_id=order.resident_id,
            )
            intake_accounts(session, session.get_one(ResidentRow, order.resident_id), accounts)
            session.commit()
        ids = {
            "helper_id": str(helper_id),
            "resident_id": str(order.resident_id),
            "order_id": str(order.id),
            "run_id": str(session.scalar(select(func.max(RunRow.id)))),
            "offer_id": str(
                session.scalar(select(OfferRow.id).where(OfferRow.helper_id == helper_id)) or 1
            ),
            "follow_up_id": str(session.scalar(select(func.min(FollowUpRow.id))) or 1),
            **programme(session, demo.street_id, accounts, helper_id),
            "kind": "residents",
            "date": demo.date.isoformat(),
        }
    logins = {
        "staff": (accounts.staff, accounts.password),
        "community": (accounts.community_staff, accounts.password),
        "volunteer": (accounts.helper, accounts.password),
        "resident": ("bench-resident", accounts.password),
        "gridworker": ("bench-gridworker", accounts.password),
        "family": ("bench-family", accounts.password),
    }
    return ids, logins


def programme(
    session: Session, street_id: int, accounts: Accounts, helper_id: int | None
) -> dict[str, str]:
    """A pairing programme of the street (its first one-helper item, twice a week for 90 days) with
    ``PROGRAMME_SIDE`` residents and helpers enrolled (the demo volunteer among them) and its
    pairs computed: ids for the programme pages."""
    staff = actor_of(
        session.scalars(select(UserRow).where(UserRow.username == accounts.staff)).one()
    )
    existing = session.scalar(select(ProgrammeRow.id).where(ProgrammeRow.street_id == street_id))
    if existing is None:
        items = street_catalogue(session, street_id).items
        item = min((c for c, i in items.items() if i.active and i.team_size == 1), default=None)
        if item is None:
            raise SystemExit("the demo street has no one-helper item: no programme to measure")
        today = dt.date.today()
        spec = ProgrammeSpec(name="结对帮扶（测速）", item=item, start_date=today,
                             end_date=today + dt.timedelta(days=90), weekdays=(1, 4))  # fmt: skip
        existing = setup.create_programme(session, staff, spec).id
        residents = session.scalars(
            select(ResidentRow.code).where(ResidentRow.street_id == street_id)
            .order_by(ResidentRow.id).limit(PROGRAMME_SIDE)
        ).all()  # fmt: skip
        helpers = session.scalars(
            select(HelperRow.code).where(HelperRow.street_id == street_id, HelperRow.active)
            .order_by(HelperRow.id != helper_id, HelperRow.id).limit(PROGRAMME_SIDE)
        ).all()  # fmt: skip
        setup.enrol(session, staff, existing, "resident", residents)
        setup.enrol(session, staff, existing, "helper", helpers)
        compute_pairs(session, staff, existing)
    member = session.scalar(
        select(func.min(ProgrammeMemberRow.id)).where(ProgrammeMemberRow.programme_id == existing)
    )
    return {"programme_id": str(existing), "member_id": str(member)}


def intake_accounts(session: Session, resident: ResidentRow, accounts: Accounts) -> None:
    """A grid worker of the resident's grid (with a few management-type people in it) and a
    family account linked to the resident, the link approved by the demo's staff."""
    if resident.grid_id is None:
        raise SystemExit("the demo resident has no grid: no grid worker to measure")
    add_user(session, "bench-gridworker", accounts.password, "grid_worker",
             street_id=resident.street_id, community_id=resident.community_id,
             grid_id=resident.grid_id)  # fmt: skip
    family = add_user(session, "bench-family", accounts.password, "family",
                      street_id=resident.street_id)  # fmt: skip
    staff = session.scalars(select(UserRow.id).where(UserRow.username == accounts.staff)).one()
    session.add(FamilyLinkRow(user_id=family.id, resident_id=resident.id, relation="女儿",
                              status="approved", decided_by=staff))  # fmt: skip
    session.add_all(
        ManagedPersonRow(code=f"BENCH-M{n}", name=f"管理对象{n}", street_id=resident.street_id,
                         community_id=resident.community_id, grid_id=resident.grid_id,
                         phone=f"135000000{n:02d}", address=f"{n}号楼", note="每月走访")
        for n in range(1, MANAGED_IN_GRID + 1)
    )  # fmt: skip


def page_routes() -> Iterator[str]:
    """The path of every GET page route (``api.http.pages.*.router``)."""
    for module in pkgutil.iter_modules(pages.__path__):
        router = getattr(importlib.import_module(f"api.http.pages.{module.name}"), "router", None)
        for route in router.routes if router is not None else []:
            if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
                yield route.path


def filled(path: str, ids: dict[str, str]) -> str | None:
    """The path with its parameters filled; None if one has no known value."""
    for name in re.findall(r"{(\w+)(?::\w+)?}", path):
        if name not in ids:
            print(f"skipped {path}: no value for {{{name}}}", flush=True)
            return None
        path = re.sub(rf"{{{name}(?::\w+)?}}", ids[name], path)
    return path


def measure(
    base: str, logins: dict[str, tuple[str, str]], ids: dict[str, str], requests: int
) -> list[tuple[str, str, list[float]]]:
    plan: list[tuple[str, str]] = []
    for route in sorted(set(page_routes())):
        if route in SKIPPED:
            continue
        path = filled(route, ids)
        if path is None:
            continue
        role = next((r for p, r in PREFIX_ROLE.items() if path.startswith(p)), "nobody")
        plan.append((path, role))
        if role in ALSO_AS:
            plan.append((path, ALSO_AS[role]))
    run_day = f"/s/?date={ids['date']}"
    plan += [(run_day, "staff"), (run_day, "community"), ("/s/", "community")]
    plan.append((f"/g/order?resident_id={ids['resident_id']}", "gridworker"))
    clients = {role: client(base, logins.get(role)) for role in {r for _, r in plan}}
    rows = []
    try:
        for path, role in plan:
            http = clients[role]
            first = http.get(path)
            if first.status_code >= 400:
                print(f"skipped {path} as {role}: {first.status_code}", flush=True)
                continue
            times = []
            for _ in range(requests):
                began = time.perf_counter()
                response = http.get(path)
                times.append((time.perf_counter() - began) * 1000)
                assert response.status_code == first.status_code, (path, response.status_code)
            rows.append((path, role, times))
    finally:
        for http in clients.values():
            http.close()
    return rows


def client(base: str, login: tuple[str, str] | None) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    if login is not None:
        username, password = login
        response = http.post("/login", data={"username": username, "password": password})
        assert response.status_code == 303, (username, response.status_code, response.text[:200])
    return http


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
