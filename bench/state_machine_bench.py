"""The loop's state machine (``tests/api/test_loop_state_machine.py``) for many more steps than CI
runs: prints the steps run per operation, the refusals, every broken invariant (with the first
message of each kind) and any unexpected exception. Broken invariants are tallied, not fatal.

    python bench/state_machine_bench.py --examples 40 --steps 50            # SQLite
    python bench/state_machine_bench.py --database postgresql --examples 20  # QUNBANG_TEST_PG_URL
    python bench/state_machine_bench.py --ci      # the CI run's sequences, violations tallied

Exit 1 when anything was found, 0 otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.services.accounts import auth
from api.store.db import migrate
from tests.api.test_loop_state_machine import (
    CI_EXAMPLES,
    CI_STEPS,
    Databases,
    Tally,
    fresh_migrated_sqlite,
    machine_for,
    postgresql_databases,
    sqlite_databases,
)


def databases(kind: str, folder: Path) -> tuple[Databases, object]:
    if kind == "sqlite":
        return sqlite_databases(folder, fresh_migrated_sqlite(folder)), None
    server = os.environ.get("QUNBANG_TEST_PG_URL")
    if not server:
        raise SystemExit("set QUNBANG_TEST_PG_URL to run on PostgreSQL")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    migrated = f"qb_benchtpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{migrated}"'))
    migrate(make_url(server).set(database=migrated).render_as_string(False))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{migrated}" WITH (FORCE)'))
        admin.dispose()

    return postgresql_databases(server, migrated), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--examples", type=int, default=40, help="random sequences")
    parser.add_argument("--steps", type=int, default=50, help="at most this many steps each")
    parser.add_argument(
        "--ci", action="store_true", help="the CI run's sequences (derandomized; its sizes)"
    )
    args = parser.parse_args()
    if args.ci:
        args.examples, args.steps = CI_EXAMPLES, CI_STEPS
    logging.basicConfig(level=logging.CRITICAL)
    from argon2 import PasswordHasher

    auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    tally = Tally()
    with tempfile.TemporaryDirectory() as folder:
        found, drop_template = databases(args.database, Path(folder))
        began = time.perf_counter()
        try:
            run_state_machine_as_test(
                machine_for(found, tally, collect=True),
                settings=settings(
                    max_examples=args.examples,
                    stateful_step_count=args.steps,
                    deadline=None,
                    derandomize=args.ci,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                ),
            )
        finally:
            wall = time.perf_counter() - began
            found.close()
            if callable(drop_template):
                drop_template()
    _print(tally, args, wall)
    return 1 if tally.violations or tally.errors else 0


def _print(tally: Tally, args: argparse.Namespace, wall: float) -> None:
    steps = sum(tally.steps.values())
    print(f"database: {args.database}  examples: {args.examples}  max steps each: {args.steps}")
    print(f"steps run: {steps} in {wall:.1f} s ({wall / max(steps, 1) * 1000:.0f} ms a step)")
    for name, count in sorted(tally.steps.items()):
        refused = sum(n for k, n in tally.refusals.items() if k.startswith(f"{name}:"))
        seconds = tally.seconds[name]
        print(f"  {name:13} {count:5}  refused {refused:4}  {seconds:6.1f} s")
    for name in ("check", "new database"):
        print(f"  {name:13} {'':5}  {'':12}  {tally.seconds[name]:6.1f} s")
    print("refusals:")
    for code, count in tally.refusals.most_common():
        print(f"  {count:5} x {code}   first: {tally.first[code]}")
    print(f"violations found: {sum(tally.violations.values())}")
    for code, count in sorted(tally.violations.items()):
        print(f"  {count:5} x {code}   first: {tally.first[code]}")
    print(f"unexpected exceptions: {sum(tally.errors.values())}")
    for code, count in sorted(tally.errors.items()):
        print(f"  {count:5} x {code}\n{tally.first[code]}")


if __name__ == "__main__":
    raise SystemExit(main())
