"""Schemathesis against the API for every role, all checks, thousands of requests.

    python bench/api_fuzz_bench.py                    # SQLite in a temporary folder
    python bench/api_fuzz_bench.py --examples 40      # more cases per operation
    python bench/api_fuzz_bench.py --database-url postgresql+psycopg://…/empty_db

Seeds a tiny street with one account per role, then runs ``tests/api/fuzz_support.fuzz``: every
operation × role (anonymous, staff, community staff, planner, helper, resident) × mode (valid and
invalid data), ``--examples`` derandomized cases each, every response through all of
schemathesis' checks. Prints the request count, server errors, check failures and one example
of each finding; exits 1 if there is any finding or fewer than ``--min-requests`` requests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.http.app import create_app
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from tests.api.fuzz_support import fuzz, role_headers, seed_fuzz_world


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=12, help="cases per operation, role, mode")
    parser.add_argument("--database-url", help="an empty database (default: SQLite, temporary)")
    parser.add_argument("--min-requests", type=int, default=5000)
    args = parser.parse_args()
    logging.getLogger("qunbang").setLevel(logging.CRITICAL)  # 500s are counted, not printed
    logging.getLogger("python_multipart").setLevel(logging.ERROR)  # fuzzed multipart headers
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'fuzz.db'}"
        migrate(url)
        settings = Settings(database_url=url, tick_seconds=0, nightly_time_limit_s=5)
        engine = make_engine(url)
        tomorrow = local_today(settings) + dt.timedelta(days=1)
        seed_fuzz_world(session_factory(engine), settings, tomorrow)
        engine.dispose()
        started = time.perf_counter()
        with TestClient(
            create_app(settings, ticker=False), raise_server_exceptions=False
        ) as client:
            report = fuzz(client, role_headers(client), examples=args.examples)
        seconds = time.perf_counter() - started
    print(f"database        {url.split(':')[0]}")
    print(
        f"requests        {report.requests}  ({report.requests / seconds:.0f}/s, {seconds:.0f} s)"
    )
    print(f"server errors   {report.server_errors}")
    print(f"check failures  {report.check_failures}")
    print("statuses        " + ", ".join(f"{s}: {n}" for s, n in sorted(report.statuses.items())))
    for key, example in sorted(report.findings.items()):
        print(f"\n== {key}\n{example}")
    clean = report.server_errors == 0 and report.check_failures == 0
    return 0 if clean and report.requests >= args.min_requests else 1


if __name__ == "__main__":
    sys.exit(main())
