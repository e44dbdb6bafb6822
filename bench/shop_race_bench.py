"""Redemption races in the points shop (积分兑换超市): bursts of concurrent redemptions of the
last items, each call in its own thread and session, as many requests at once hit the service.

Per round: a fresh item with ``--stock`` left; ``--helpers`` helpers, each granted enough points
for every attempt; ``--attempts`` redemptions released together by a barrier (spread evenly
over the helpers). Reported per database: how many succeeded (must equal the stock), how many
were refused, whether the stock ended at 0 and every balance equals its grant minus what it
won, the invariant checker's findings (must be 0), the burst's wall time and each call's
latency (median, 95th percentile, maximum).

    .venv/bin/python bench/shop_race_bench.py                        # SQLite (a temp file)
    .venv/bin/python bench/shop_race_bench.py --database postgresql+psycopg://u@host/db
    .venv/bin/python bench/shop_race_bench.py --attempts 1000 --stock 100 --rounds 3

With a PostgreSQL URL a throw-away database is created next to the one named, and dropped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.actor import actor_of
from api.services.closing import points
from api.services.errors import Conflict
from api.services.ledger.seed import seed_street
from api.services.matching.invariants import check_database
from api.services.shop import items, redeem
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import HelperRow, ShopItemRow, UserRow
from matcher.generator import preset

PRICE = 10


@dataclass
class Round:
    database: str
    attempts: int
    stock: int
    helpers: int
    succeeded: int
    refused: int
    errors: int
    stock_left: int
    balances_exact: bool
    violations: int
    wall_s: float
    p50_ms: float
    p95_ms: float
    max_ms: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite", help="'sqlite' (a temp file) or a URL")
    parser.add_argument("--attempts", type=int, default=100)
    parser.add_argument("--stock", type=int, default=10)
    parser.add_argument("--helpers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with _database(args.database) as url:
        engine = make_engine(url)
        sessions = session_factory(engine)
        street_id, staff_id = _seed(sessions)
        rounds = [
            _round(sessions, url, street_id, staff_id, args.attempts, args.stock, args.helpers)
            for _ in range(args.rounds)
        ]
        engine.dispose()
    for found in rounds:
        print(json.dumps(asdict(found)))
    ok = all(r.succeeded == r.stock and r.balances_exact and not r.violations for r in rounds)
    print("all rounds exact" if ok else "A ROUND WAS NOT EXACT")


class _database:
    """A migrated throw-away database: a temp SQLite file, or a new PostgreSQL database."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.admin: Engine | None = None
        self.name = ""

    def __enter__(self) -> str:
        if self.kind == "sqlite":
            self.folder = tempfile.TemporaryDirectory()
            url = f"sqlite:///{Path(self.folder.name) / 'shop.db'}"
        else:
            self.name = f"qb_shop_bench_{uuid.uuid4().hex[:8]}"
            self.admin = create_engine(self.kind, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            url = make_url(self.kind).set(database=self.name).render_as_string(False)
        migrate(url)
        return url

    def __exit__(self, *_: object) -> None:
        if self.admin is not None:
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()
        else:
            self.folder.cleanup()


def _seed(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        street = seed_street(session, preset("tiny", seed=1), order_date=dt.date.today()).street
        staff = add_user(session, "bench_staff", "bench-password-1", "staff", street_id=street.id)
        session.commit()
        return street.id, staff.id


def _round(
    sessions: sessionmaker[Session],
    url: str,
    street_id: int,
    staff_id: int,
    attempts: int,
    stock: int,
    helper_count: int,
) -> Round:
    with sessions() as session:
        staff = actor_of(session.get_one(UserRow, staff_id))
        helpers = list(
            session.scalars(
                select(HelperRow.id)
                .where(HelperRow.street_id == street_id, HelperRow.active)
                .order_by(HelperRow.id)
                .limit(helper_count)
            )
        )
        item_id = items.add_item(
            session, staff, f"礼品 {uuid.uuid4().hex[:6]}", "goods", PRICE, stock
        ).id
        per_helper = -(-attempts // len(helpers))
        before = {}
        for helper_id in helpers:
            points.grant_bonus(session, staff, helper_id, PRICE * per_helper, "bench")
            before[helper_id] = points.balance(session, helper_id)
    calls = [helpers[i % len(helpers)] for i in range(attempts)]
    results: list[object] = [None] * attempts
    latencies = [0.0] * attempts
    barrier = threading.Barrier(attempts + 1)

    def run(index: int) -> None:
        with sessions() as session:
            barrier.wait()
            began = time.perf_counter()
            try:
                results[index] = redeem.redeem(session, staff, item_id, helper_id=calls[index])
            except Exception as error:  # counted below: a refusal or an error
                results[index] = error
            latencies[index] = time.perf_counter() - began

    threads = [threading.Thread(target=run, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    won = [r for r in results if isinstance(r, redeem.RedemptionView)]
    refused = sum(1 for r in results if isinstance(r, Conflict))
    with sessions() as session:
        left = session.get_one(ShopItemRow, item_id).stock
        exact = all(
            points.balance(session, h)
            == before[h] - PRICE * sum(1 for r in won if r.helper_id == h)
            for h in helpers
        )
        violations = len(check_database(session, street_id))
    ms = sorted(x * 1000 for x in latencies)
    return Round(
        database=make_url(url).get_backend_name(),
        attempts=attempts,
        stock=stock,
        helpers=len(helpers),
        succeeded=len(won),
        refused=refused,
        errors=attempts - len(won) - refused,
        stock_left=left,
        balances_exact=exact,
        violations=violations,
        wall_s=round(wall, 3),
        p50_ms=round(statistics.median(ms), 1),
        p95_ms=round(ms[int(0.95 * (len(ms) - 1))], 1),
        max_ms=round(ms[-1], 1),
    )


if __name__ == "__main__":
    main()
