"""Service benchmarks on the demo street (1,200 helpers, 1,500 residents, 600 orders):

1. nightly run time (seed a fresh database, then ``run_nightly`` for the orders' date);
2. decline → new offer: helpers decline pending offers over HTTP; the time from sending the
   decline to the replacement offer existing (the decline answers after the re-match wrote it);
3. a helper's "my offers" under 50 concurrent clients on loopback: requests per second and
   latency percentiles.

The server is ``qunbang serve`` (uvicorn, one process) started here on 127.0.0.1. Run by hand:
    .venv/bin/python bench/service_bench.py [--database sqlite|URL] [--seconds 20] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from api.services.accounts.auth import add_user
from api.services.ledger.seed import seed_street
from api.services.matching.nightly import run_nightly
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import HelperRow, OfferRow, Street
from matcher.generator import preset

PASSWORD = "bench-password"
DATE = dt.date.today() + dt.timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite", help="'sqlite' (a temp file) or a URL")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of the load test")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--declines", type=int, default=40)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--time-limit", type=float, default=20.0, help="nightly CP-SAT seconds")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--paced",
        type=float,
        nargs="*",
        default=[1.0, 0.1],
        help="also: each client refreshes every this many seconds (one run per value)",
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator: wrk (Debian package, C) or Python httpx (heavier on the CPU)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database if args.database != "sqlite" else f"sqlite:///{folder}/bench.db"
        settings = Settings(database_url=url, nightly_time_limit_s=args.time_limit, tick_seconds=0)
        helpers = prepare(settings, args.clients)
        server = start_server(settings, args.port, args.workers)
        try:
            base = f"http://127.0.0.1:{args.port}"
            tokens = asyncio.run(login_all(base, helpers))
            print(f"server: {args.workers} worker process(es); load from {args.client}")
            if args.client == "wrk":
                wrk_load_test(base, tokens, args.seconds, args.clients, Path(folder))
            else:
                asyncio.run(load_test(base, tokens, args.seconds, args.clients))
            for interval in args.paced:
                asyncio.run(load_test(base, tokens, args.seconds, args.clients, interval))
            asyncio.run(declines(base, tokens, args.declines))
        finally:
            server.terminate()
            server.wait(timeout=10)


def prepare(settings: Settings, clients: int) -> list[str]:
    """Seed the demo street, time the nightly run, and make accounts for helpers with offers."""
    migrate(settings.database_url)
    sessions = session_factory(make_engine(settings.database_url))
    began = time.perf_counter()
    with sessions() as session:
        seed_street(session, preset("demo", seed=0), order_date=DATE)
        session.commit()
        street_id = session.scalar(select(Street.id))
    print(f"seeded the demo street in {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    run = run_nightly(sessions, settings, street_id, DATE, trigger="bench")
    elapsed = time.perf_counter() - began
    print(f"nightly run: {elapsed:.1f} s wall (figures: {run.figures})")
    with sessions() as session:
        holders = session.execute(
            select(OfferRow.helper_id, func.count())
            .where(OfferRow.status == "pending")
            .group_by(OfferRow.helper_id)
            .order_by(OfferRow.helper_id)
        ).all()
        usernames = []
        for helper_id, _count in holders[: max(clients, 60)]:
            code = session.get_one(HelperRow, helper_id).code
            add_user(session, f"bench-{code}", PASSWORD, "helper", helper_id=helper_id)
            usernames.append(f"bench-{code}")
        session.commit()
    print(f"{len(holders)} helpers hold pending offers; {len(usernames)} accounts made")
    return usernames


def start_server(
    settings: Settings, port: int, workers: int, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """``qunbang serve`` of this checkout's code (its root first on ``PYTHONPATH``: the venv's
    ``qunbang`` script alone would import whichever checkout was installed) on
    127.0.0.1:``port``, waiting up to two minutes for it (on a busy machine a worker's imports
    alone take 10-15 s); its output goes to ``log`` if given."""
    root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, QUNBANG_DATABASE_URL=settings.database_url, QUNBANG_TICK_SECONDS="0",
               PYTHONPATH=path)  # fmt: skip
    qunbang = Path(sys.executable).with_name("qunbang")
    output = log.open("wb") if log else subprocess.DEVNULL
    command = [str(qunbang), "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(command, env=env, stdout=output, stderr=output)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not start")


async def login_all(base: str, usernames: list[str]) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        tokens = []
        for name in usernames:
            response = await client.post(
                "/auth/token", data={"username": name, "password": PASSWORD}
            )
            response.raise_for_status()
            tokens.append(response.json()["access_token"])
        return tokens


def percentiles(samples: list[float]) -> str:
    if not samples:
        return "n=0"
    ordered = sorted(samples)
    # "inclusive": percentiles within the samples (the default extrapolates past the maximum)
    q = (
        statistics.quantiles(ordered, n=100, method="inclusive")
        if len(ordered) > 1
        else ordered * 99
    )
    return (
        f"n={len(ordered)} p50={q[49] * 1000:.1f} ms p95={q[94] * 1000:.1f} ms "
        f"p99={q[98] * 1000:.1f} ms max={ordered[-1] * 1000:.1f} ms"
    )


def wrk_load_test(base: str, tokens: list[str], seconds: float, clients: int, folder: Path) -> None:
    """The same load from wrk: ``clients`` connections on 2 threads, tokens in turn."""
    token_file = folder / "tokens.txt"
    token_file.write_text("\n".join(tokens) + "\n")
    script = Path(__file__).with_name("my_offers.lua")
    command = [
        "wrk",
        "-t2",
        f"-c{clients}",
        f"-d{round(seconds)}s",
        "-s",
        str(script),
        base,
        "--",
        str(token_file),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    summary = next(line for line in output.splitlines() if line.startswith("WRK "))
    print(f"my offers, {clients} concurrent connections (wrk): {summary[4:]} (ms)")


async def load_test(
    base: str, tokens: list[str], seconds: float, clients: int, interval: float = 0.0
) -> None:
    """``clients`` helpers each asking for their offers: flat out (``interval`` 0), or every
    ``interval`` seconds from a random phase — the latency a volunteer sees while that many
    phones use the service at once."""
    latencies: list[float] = []
    errors = 0
    rng = random.Random(1)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        stop = time.perf_counter() + seconds

        async def one(token: str) -> None:
            nonlocal errors
            headers = {"Authorization": f"Bearer {token}"}
            await asyncio.sleep(rng.uniform(0, interval))
            while time.perf_counter() < stop:
                began = time.perf_counter()
                response = await client.get("/me/offers", headers=headers)
                latencies.append(time.perf_counter() - began)
                errors += response.status_code != 200
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - began)))

        began = time.perf_counter()
        await asyncio.gather(*(one(tokens[i % len(tokens)]) for i in range(clients)))
        wall = time.perf_counter() - began
    pace = f"each every {interval:g} s" if interval else "flat out"
    print(
        f"my offers, {clients} clients {pace}, {wall:.1f} s: {len(latencies) / wall:.0f} "
        f"requests/s, errors {errors}; {percentiles(latencies)}"
    )


async def declines(base: str, tokens: list[str], count: int) -> None:
    """Decline one pending offer per helper (sequentially) and time each until the new offer."""
    latencies: list[float] = []
    replaced = 0
    rng = random.Random(0)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for token in tokens[:count]:
            headers = {"Authorization": f"Bearer {token}"}
            offers = (await client.get("/me/offers", headers=headers)).json()["items"]
            pending = [o for o in offers if o["status"] == "pending"]
            if not pending:
                continue
            offer = rng.choice(pending)
            began = time.perf_counter()
            response = await client.post(
                f"/me/offers/{offer['id']}/decline", json={"reason": "bench"}, headers=headers
            )
            latencies.append(time.perf_counter() - began)
            response.raise_for_status()
            replaced += bool(response.json().get("replacement_offers"))
    print(f"decline → new offer: {replaced}/{len(latencies)} replaced; {percentiles(latencies)}")


if __name__ == "__main__":
    main()
