"""The staff run page (``GET /s/``) on a database made by ``qunbang demo``: p50 and p95 of
``--times`` requests (after one warm-up request), in process through the ASGI app, each uncovered
page in turn; wall time and the process's CPU time per request (on a busy machine the CPU time
is the steadier figure).

Run by hand, e.g.:
    QUNBANG_DATABASE_URL=sqlite:////tmp/demo.db qunbang demo --no-serve
    QUNBANG_DATABASE_URL=sqlite:////tmp/demo.db .venv/bin/python bench/run_page_bench.py \\
        --date 2026-11-27 --user staff --times 30
The demo's logins share the password ``qunbang-demo`` (``--password``).
"""

from __future__ import annotations

import argparse
import statistics
import time

from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", required=True, help="the run's date, YYYY-MM-DD")
    parser.add_argument("--user", default="staff")
    parser.add_argument("--password", default="qunbang-demo")
    parser.add_argument("--times", type=int, default=30)
    parser.add_argument("--pages", type=int, default=1, help="uncovered pages to cycle through")
    args = parser.parse_args()
    app = create_app(get_settings(), ticker=False)
    with TestClient(app) as client:
        login = {"username": args.user, "password": args.password}
        answer = client.post("/login", data=login, follow_redirects=False)
        assert answer.status_code == 303, answer.text
        client.get(f"/s/?date={args.date}").raise_for_status()  # warm-up
        took, cpu = [], []
        for i in range(args.times):
            url = f"/s/?date={args.date}&page={i % args.pages + 1}"
            began, began_cpu = time.perf_counter(), time.process_time()
            answer = client.get(url)
            took.append(1000 * (time.perf_counter() - began))
            cpu.append(1000 * (time.process_time() - began_cpu))
            answer.raise_for_status()
    print(f"GET /s/ as {args.user}: n={len(took)} wall {_spread(took)}; CPU {_spread(cpu)}")


def _spread(values: list[float]) -> str:
    """p50, p95 and max of ``values`` (ms). The CPU time (this process, every thread) is what a
    request costs whatever else the machine runs; the wall time includes waiting for a core."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50={statistics.median(ordered):.1f} ms p95={p95:.1f} ms max={ordered[-1]:.1f} ms"


if __name__ == "__main__":
    main()
