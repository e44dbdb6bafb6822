"""Re-running the nightly: what it strands, keeps and moves, on the demo street.

Seeds the demo street (1,200 helpers, 600 orders), runs the nightly for the orders' date, then
``--rounds`` times: a third of the helpers with pending offers accept one, every seventh
declines one (each decline re-matches at once), and the nightly runs again. After every run it
prints the stranded-offer count of issue 9 (live offers on ended assignments), the run's per-order
counts (new / kept / filled / moved / withdrawn), whether pending members were kept, whether every
accepted member is still in place at the same start, and ``qunbang db check``'s violations.
Ends with one more re-run with nothing changed. Run by hand:
    .venv/bin/python bench/rerun_bench.py [--database sqlite|URL] [--rounds 5] [--time-limit 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from api.services.ledger.seed import seed_street
from api.services.matching.invariants import check_database
from api.services.matching.nightly import run_nightly
from api.services.offers.answers import accept, decline
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import AssignmentRow, OfferRow, Street
from matcher.generator import preset

DATE = dt.date.today() + dt.timedelta(days=1)
STRANDED = """
select count(*) from offers f join assignments a on a.id = f.assignment_id
where f.status in ('pending', 'accepted') and a.status not in ('active', 'done', 'confirmed')
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite", help="'sqlite' (a temp file) or a URL")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--time-limit", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database if args.database != "sqlite" else f"sqlite:///{folder}/bench.db"
        settings = Settings(database_url=url, nightly_time_limit_s=args.time_limit, tick_seconds=0)
        migrate(url)
        sessions = session_factory(make_engine(url))
        with sessions() as session:
            seed_street(session, preset("demo", seed=0), order_date=DATE)
            session.commit()
            street_id = session.scalar(select(Street.id))
        assert street_id is not None
        report(sessions, "first run", run_nightly(sessions, settings, street_id, DATE), {})
        accepted: dict[int, tuple[int, int | None]] = {}
        rng = random.Random(0)
        for round_ in range(1, args.rounds + 1):
            answered = answer(sessions, settings, rng, accepted)
            run = run_nightly(sessions, settings, street_id, DATE)
            report(sessions, f"re-run {round_} after {answered}", run, accepted)
        run = run_nightly(sessions, settings, street_id, DATE)
        report(sessions, "re-run with nothing changed", run, accepted)


def answer(
    sessions: sessionmaker[Session],
    settings: Settings,
    rng: random.Random,
    accepted: dict[int, tuple[int, int | None]],
) -> str:
    """A third of the helpers with pending offers accept one; every seventh declines one."""
    with sessions() as session:
        pending = session.execute(
            select(OfferRow.id, OfferRow.helper_id)
            .where(OfferRow.status == "pending")
            .order_by(OfferRow.id)
        ).all()
    by_helper: dict[int, int] = {}
    for offer_id, helper_id in pending:
        by_helper.setdefault(helper_id, offer_id)
    accepts = declines = 0
    for helper_id, offer_id in by_helper.items():
        draw = rng.random()
        with sessions() as session:
            if draw < 1 / 3:
                view = accept(session, settings, helper_id, offer_id)
                accepted[offer_id] = (view.assignment_id, view.start_minute)
                accepts += 1
            elif draw < 1 / 3 + 1 / 7:
                decline(session, settings, helper_id, offer_id, "bench")
                declines += 1
    return f"{accepts} accepts, {declines} declines"


def report(
    sessions: sessionmaker[Session],
    label: str,
    run: object,
    accepted: dict[int, tuple[int, int | None]],
) -> None:
    figures = run.figures  # type: ignore[attr-defined]
    with sessions() as session:
        stranded = session.scalar(text(STRANDED))
        lost = 0
        for offer_id, (assignment_id, start) in accepted.items():
            offer = session.get_one(OfferRow, offer_id)
            assignment = session.get_one(AssignmentRow, assignment_id)
            kept = offer.status == "accepted" and offer.assignment_id == assignment_id
            lost += not (kept and assignment.start_minute == start)
        violations = check_database(session)
    changes = " ".join(
        f"{k}={figures.get('orders_' + k)}" for k in ("new", "kept", "filled", "moved", "withdrawn")
    )
    print(
        f"{label}: stranded {stranded}; orders {changes}; pending kept "
        f"{figures.get('pending_kept')}; accepted lost {lost}/{len(accepted)}; "
        f"db check {len(violations)} violation(s); wall {figures.get('wall_s')} s"
    )
    for violation in violations[:5]:
        print(f"    {violation}")


if __name__ == "__main__":
    main()
