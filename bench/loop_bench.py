"""Answering offers under load: 50 helpers accept and decline at once on the demo street.

Seeds the demo street (1,200 helpers, 600 orders) and a second street, runs the demo street's
nightly, makes accounts for the helpers holding pending offers, starts ``qunbang serve`` on
127.0.0.1 and lets ``--clients`` helpers act at the same time: each takes a pending offer of
theirs and accepts or declines it (half each). A decline answers once the re-match has written
the replacement offer, so its latency is "decline → new offer". Two phases: a quiet service, then
the same while the second street's nightly run is in progress (``qunbang nightly --street
east``). Prints p50/p95/p99 per action and phase. Run by hand:
    .venv/bin/python bench/loop_bench.py [--database sqlite|URL] [--actions 300] [--clients 50]

``--service-level N`` measures instead, in this process and one at a time, what N declines and N
accepts cost the service: CPU time of the calling thread, statements and round trips to the
database (statements + BEGIN/COMMIT/ROLLBACK + pool pings), after ``--warmup`` answers of each.
``--prepared`` skips seeding and the nightly: the database was prepared by an earlier run (e.g. a
copy made with ``createdb -T``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import gc
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import aiohttp
import httpx
from argon2 import PasswordHasher
from service_bench import percentiles, start_server  # bench/ is this script's folder
from sqlalchemy import event, func, select

from api.services.accounts import auth
from api.services.accounts.auth import add_user, hash_token
from api.services.ledger.seed import seed_street
from api.services.matching.nightly import run_nightly
from api.services.offers import answers
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import (
    AssignmentRow,
    HelperRow,
    OfferRow,
    OrderRow,
    Street,
    TokenRow,
    utcnow,
)
from matcher.generator import preset

PASSWORD = "bench-password"
DATE = dt.date.today() + dt.timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite", help="'sqlite' (a temp file) or a URL")
    parser.add_argument("--actions", type=int, default=300, help="answers per phase")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--server-log", type=Path, help="write the server's output here")
    parser.add_argument("--time-limit", type=float, default=20.0, help="nightly CP-SAT seconds")
    parser.add_argument(
        "--other-time-limit",
        type=float,
        help="the other street's nightly time limit (default --time-limit; 40 keeps it solving "
        "through a phase of 300 answers at --pause 5)",
    )
    parser.add_argument(
        "--pause", type=float, default=0.0, help="seconds each helper waits between answers"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=0,
        help="answers sent first and reported apart (a worker's first requests fill its caches)",
    )
    parser.add_argument(
        "--service-level", type=int, default=0, help="N declines and N accepts in process"
    )
    parser.add_argument(
        "--other-preset",
        default="demo",
        help="the other street (a matcher.generator preset): 'scarce' (1,500 orders) keeps its "
        "nightly solving through a phase where 'demo' (600) may be proven optimal in seconds",
    )
    parser.add_argument("--prepared", action="store_true", help="the database is seeded already")
    parser.add_argument("--profile", type=Path, help="with --service-level: cProfile the declines")
    args = parser.parse_args()
    # The server and the other street's nightly run this checkout's code, not an installed one.
    root = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as folder:
        url = args.database if args.database != "sqlite" else f"sqlite:///{folder}/bench.db"
        settings = Settings(database_url=url, nightly_time_limit_s=args.time_limit, tick_seconds=0)
        if args.service_level:
            if not args.prepared:
                prepare(settings)
            service_level(settings, args.service_level, args.warmup or 20, args.profile)
            return
        tokens = prepare(settings, args.other_preset)
        os.environ["QUNBANG_METRICS_TOKEN"] = SCRAPE_TOKEN  # the server's own request timings
        server = start_server(settings, args.port, args.workers, args.server_log)
        try:
            base = f"http://127.0.0.1:{args.port}"
            print(f"server: {args.workers} worker(s); {len(tokens)} helper accounts; "
                  f"{args.clients} acting at once")  # fmt: skip
            timed = ServerTimes(base)
            if args.warmup:
                asyncio.run(phase("warm-up", base, tokens, args.clients, args.warmup, args.pause))
                timed.report()
            asyncio.run(phase("quiet", base, tokens, args.clients, args.actions, args.pause))
            timed.report()
            other = {"nightly_time_limit_s": args.other_time_limit or args.time_limit}
            nightly = start_other_nightly(settings.model_copy(update=other))
            try:
                asyncio.run(phase("other street's nightly running", base, tokens, args.clients,
                                  args.actions, args.pause, nightly))  # fmt: skip
                timed.report()
            finally:
                nightly.wait()
        finally:
            server.terminate()
            server.wait(timeout=10)


SCRAPE_TOKEN = secrets.token_urlsafe(16)
ANSWER_ROUTES = {
    "accept": "/me/offers/{offer_id}/accept",
    "decline": "/me/offers/{offer_id}/decline",
}
BUCKET = re.compile(
    r"^qunbang_http_request_duration_seconds_bucket\{(?P<labels>.*)\} (?P<count>[0-9.e+]+)$"
)


class ServerTimes:
    """The server's own time per answer (its request-duration histogram, every worker's, read
    from ``/metrics`` after each phase): what the answers cost inside the server, apart from the
    load generator's own delays. The histogram's buckets make it coarse: the share of answers
    the server finished within each bound."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.before = self._scrape()

    def _scrape(self) -> dict[tuple[str, float], float]:
        headers = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
        text = httpx.get(f"{self.base}/metrics", headers=headers, timeout=30).text
        counts: dict[tuple[str, float], float] = {}
        for line in text.splitlines():
            found = BUCKET.match(line)
            if not found:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', found["labels"]))
            for kind, route in ANSWER_ROUTES.items():
                if labels.get("route") == route and labels.get("status") == "2xx":
                    bound = float(labels["le"])
                    counts[(kind, bound)] = counts.get((kind, bound), 0) + float(found["count"])
        return counts

    def report(self) -> None:
        after = self._scrape()
        for kind in ANSWER_ROUTES:
            bounds = sorted(b for k, b in after if k == kind)
            seen = {b: after[(kind, b)] - self.before.get((kind, b), 0) for b in bounds}
            total = seen.get(float("inf"), 0)
            if not total:
                continue
            shares = ", ".join(
                f"≤{b * 1000:g} ms {seen[b] / total:.0%}" for b in bounds if 0.01 <= b <= 0.25
            )
            print(f"  server's own time, {kind} ({total:g}): {shares}")
        self.before = after


def prepare(settings: Settings, other: str = "demo") -> list[str]:
    """Seed, match, and give each helper holding a pending offer an account and a token (made
    here, not by logging in: hundreds of password checks would only slow the bench down).
    ``other``: the preset of the second street (whose nightly runs in the second phase)."""
    migrate(settings.database_url)
    sessions = session_factory(make_engine(settings.database_url))
    with sessions() as session:
        seed_street(session, preset("demo", seed=0), order_date=DATE)
        seed_street(session, preset(other, seed=1), code="east", name="东街道", order_date=DATE)
        session.commit()
        street_id = session.scalar(select(Street.id).where(Street.code == "demo"))
    assert street_id is not None
    began = time.perf_counter()
    run = run_nightly(sessions, settings, street_id, DATE, trigger="bench")
    print(f"demo street nightly: {time.perf_counter() - began:.1f} s; "
          f"{run.figures['covered']}/{run.figures['orders']} orders")  # fmt: skip
    with sessions() as session:
        holders = session.execute(
            select(OfferRow.helper_id, func.count())
            .where(OfferRow.status == "pending")
            .group_by(OfferRow.helper_id)
            .order_by(OfferRow.helper_id)
        ).all()
        tokens = []
        auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        expires = utcnow() + dt.timedelta(days=1)
        for helper_id, _count in holders:
            code = session.get_one(HelperRow, helper_id).code
            user = add_user(session, f"bench-{code}", PASSWORD, "helper", helper_id=helper_id)
            token = secrets.token_urlsafe(32)
            session.add(TokenRow(token_hash=hash_token(token), user_id=user.id, expires_at=expires))
            tokens.append(token)
        session.commit()
    return tokens


class Counted:
    """Statements and round trips to the database, counted by the engine's events."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.counts: Counter[str] = Counter()
        count = self.counts

        def on(kind: str):  # type: ignore[no-untyped-def]
            def listener(*_args, **_kwargs) -> None:  # type: ignore[no-untyped-def]
                count[kind] += 1

            return listener

        event.listen(engine, "before_cursor_execute", on("statements"))
        event.listen(engine, "begin", on("begin"))
        event.listen(engine, "commit", on("commit"))
        event.listen(engine, "rollback", on("rollback"))
        event.listen(engine.pool, "checkout", on("checkout"))

    def round_trips(self, pinged: bool) -> int:
        c = self.counts
        return c["statements"] + c["begin"] + c["commit"] + c["rollback"] + pinged * c["checkout"]


def service_level(settings: Settings, n: int, warmup: int, profile: Path | None) -> None:
    """N declines and N accepts, one at a time in this process (as a server's worker runs them,
    caches warm after ``warmup`` answers of each): per answer the calling thread's CPU ms, wall
    ms, statements and round trips."""
    engine = make_engine(settings.database_url)
    pinged = engine.dialect.name == "postgresql"  # the pool pings each checkout (pre_ping)
    sessions = session_factory(engine)
    counted = Counted(engine)
    rng = random.Random(0)
    with sessions() as session:
        pending = session.execute(
            select(OfferRow.id, OfferRow.helper_id, AssignmentRow.order_id)
            .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
            .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
            .join(Street, OrderRow.street_id == Street.id)
            .where(OfferRow.status == "pending", Street.code == "demo")
            .order_by(OfferRow.id)
        ).all()
    rng.shuffle(pending)
    used: set[int] = set()

    def pick() -> tuple[int, int]:
        while True:  # one answer per order: a fresh offer each time
            offer_id, helper_id, order_id = pending.pop()
            if order_id not in used:
                used.add(order_id)
                return offer_id, helper_id

    def one(kind: str) -> tuple[float, float, int, int, int]:
        offer_id, helper_id = pick()
        with sessions() as session:
            counted.counts.clear()
            wall, cpu = time.perf_counter(), time.thread_time()
            if kind == "decline":
                view = answers.decline(session, settings, helper_id, offer_id, "bench")
                replaced = view.replacement_offers
            else:
                answers.accept(session, settings, helper_id, offer_id)
                replaced = 0
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            return cpu * 1000, wall * 1000, counted.counts["statements"], \
                counted.round_trips(pinged), replaced  # fmt: skip

    for _ in range(warmup):
        one("decline"), one("accept")
    gc.freeze()  # as a server's worker does at its start (api.http.app)
    profiler = cProfile.Profile(time.thread_time) if profile else None
    rows: dict[str, list[tuple[float, float, int, int, int]]] = {"decline": [], "accept": []}
    for _ in range(n):
        if profiler:
            profiler.enable()
        rows["decline"].append(one("decline"))
        if profiler:
            profiler.disable()
        rows["accept"].append(one("accept"))
    if profiler and profile:
        profiler.dump_stats(profile)
    print(f"service level, {n} each after {warmup} of each ({engine.dialect.name}):")
    for kind, samples in rows.items():
        cpu, wall, statements, trips, replaced = zip(*samples, strict=True)
        new = f"; replaced {sum(r > 0 for r in replaced)}" if kind == "decline" else ""
        print(f"  {kind:8} CPU {percentiles([c / 1000 for c in cpu])}\n"
              f"           wall {percentiles([w / 1000 for w in wall])}\n"
              f"           statements {statistics.median(statements):g} (max {max(statements)}), "
              f"round trips {statistics.median(trips):g} (max {max(trips)}){new}")  # fmt: skip


class Nightly:
    """The other street's ``qunbang nightly`` (a separate process) and when its log said it
    started, finished solving and was done (wall-clock seconds), to tell the answers sent while
    it read and solved from those sent while it wrote and those sent after it."""

    def __init__(self, settings: Settings) -> None:
        env = dict(os.environ, QUNBANG_DATABASE_URL=settings.database_url)
        env["QUNBANG_NIGHTLY_TIME_LIMIT_S"] = str(settings.nightly_time_limit_s)
        # ``qunbang nightly`` with its log at INFO (the CLI's default is WARNING)
        cli = (
            "import logging, sys; logging.basicConfig(level=logging.INFO); "
            "from api.cli.main import run; sys.argv[0] = 'qunbang'; run()"
        )
        command = [sys.executable, "-c", cli, "nightly", "--street", "east", "--date", str(DATE)]
        self.marks: dict[str, float] = {"launched": time.time()}
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            for mark, words in (("started", " started for street"), ("solved", "; writing"),
                                ("done", " done (solved in")):  # fmt: skip
                if words in line:
                    self.marks.setdefault(mark, time.time())
        self.marks.setdefault("exited", time.time())  # its stderr closed: the process ended

    def wait(self) -> None:
        self.process.wait(timeout=600)
        self.reader.join(timeout=10)
        self.marks.setdefault("exited", time.time())

    def window(self, sent: float) -> str:
        """Which part of the nightly's life an answer sent at ``sent`` fell in."""
        marks = self.marks
        if sent < marks.get("started", marks["launched"]):
            return "before it read"
        if sent < marks.get("solved", float("inf")):
            return "while it read and solved"
        if sent < marks.get("done", float("inf")):
            return "while it wrote"
        if sent < marks.get("exited", float("inf")):
            return "its deferred re-matches and exit"
        return "after it ended"


def start_other_nightly(settings: Settings) -> Nightly:
    nightly = Nightly(settings)
    time.sleep(3)  # let it get past seeding the run record and into its read and solve
    return nightly


async def phase(
    name: str,
    base: str,
    tokens: list[str],
    clients: int,
    actions: int,
    pause: float,
    nightly: Nightly | None = None,
) -> None:
    """``clients`` helpers answering at once until ``actions`` answers were sent, each waiting
    ``pause`` seconds (from a random phase) between answers; 0 = flat out."""
    latency: dict[str, list[float]] = {"accept": [], "decline": []}
    sent: list[tuple[float, str, float]] = []  # (wall-clock time sent, action, seconds)
    errors: list[int] = []
    replaced = 0
    rng = random.Random(len(name))
    pool = tokens[:]
    rng.shuffle(pool)
    left = actions
    # aiohttp (C-accelerated) rather than httpx: on a 2-core machine the load generator shares
    # the CPU with the server, and httpx spent most of a core on 50 clients.
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def act() -> None:
            nonlocal left, replaced
            await asyncio.sleep(rng.uniform(0, pause))
            while left > 0 and pool:
                token = pool.pop()
                headers = {"Authorization": f"Bearer {token}"}
                async with client.get("/me/offers?status=pending", headers=headers) as listed:
                    items = (await listed.json())["items"]
                pending = [o for o in items if o["status"] == "pending"]
                if not pending:
                    continue
                left -= 1
                kind = rng.choice(("accept", "decline"))
                path = f"/me/offers/{rng.choice(pending)['id']}/{kind}"
                began, at = time.perf_counter(), time.time()
                body = {"reason": "bench"} if kind == "decline" else None
                async with client.post(path, json=body, headers=headers) as response:
                    answer = await response.json()
                    latency[kind].append(time.perf_counter() - began)
                    sent.append((at, kind, latency[kind][-1]))
                    if response.status != 200:
                        errors.append(response.status)
                    elif kind == "decline":
                        replaced += bool(answer.get("replacement_offers"))
                pool.insert(0, token)
                await asyncio.sleep(pause)

        began = time.perf_counter()
        await asyncio.gather(*(act() for _ in range(clients)))
        wall = time.perf_counter() - began
    during = ""
    if nightly is not None:
        during = " (nightly still running at the end)" if nightly.process.poll() is None else ""
    print(f"\n{name}: {actions - left} answers in {wall:.1f} s{during}; non-200: {errors}")
    print(f"  accept:            {percentiles(latency['accept'])}")
    print(f"  decline→new offer: {percentiles(latency['decline'])} "
          f"({replaced} replaced)")  # fmt: skip
    if nightly is not None:
        nightly.wait()
        marks = nightly.marks
        first = marks["launched"]
        print("  the nightly: " + ", ".join(f"{k} at {v - first:.1f} s" for k, v in marks.items()))
        windows: dict[str, dict[str, list[float]]] = {}
        for at, kind, seconds in sent:
            windows.setdefault(nightly.window(at), {"accept": [], "decline": []})[kind].append(
                seconds
            )
        for window, by_kind in windows.items():
            print(f"  {window}:")
            print(f"    accept:            {percentiles(by_kind['accept'])}")
            print(f"    decline→new offer: {percentiles(by_kind['decline'])}")


if __name__ == "__main__":
    main()
