"""The whole loop in random order (Hypothesis stateful testing), with ``check_database`` after
every step: nightly runs and re-runs, accept, decline, expiry, single/team/bundle claims, cancel,
manual reassign, done, confirm, feedback, bonus and reversal, on a tiny seeded street, driving the
services directly with a clock of its own. Refusals (``ServiceError``) are fine; any other
exception, or a broken invariant, fails the run.

The database cannot tell whether an offer withdrawn while accepted was withdrawn by a run, so the
machine checks "accepted members survive every re-run" itself around each nightly run.

Each example gets a fresh database copied from a seeded template (a SQLite file, or a PostgreSQL
template database). ``bench/state_machine_bench.py`` runs the same machine for many more steps.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.actor import Actor
from api.services.circles import members, targets
from api.services.claims import claim_bundle, claim_single, claim_team, claimable_orders
from api.services.closing.points import grant_bonus, reverse_entry
from api.services.closing.visits import confirm_done, give_feedback
from api.services.errors import ServiceError
from api.services.hours import ledger as hours_ledger
from api.services.ledger.seed import seed_street
from api.services.matching.invariants import Violation, check_database
from api.services.matching.nightly import run_nightly
from api.services.offers.answers import accept, decline, expire_due, mark_done, send_reminders
from api.services.offers.dispatch import cancel_order, candidates_for, reassign
from api.services.shop import redeem as shop
from api.services.shop.items import add_item
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.statuses import (
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    OfferStatus,
    OrderStatus,
    RedemptionStatus,
    ShopItemKind,
)
from api.store.tables import (
    AssignmentRow,
    HelperRow,
    HoursEntry,
    ItemRow,
    OfferRow,
    OrderRow,
    PointsEntry,
    RedemptionRow,
    ResidentRow,
    ShopItemRow,
    SkillRow,
    Street,
)
from matcher.generator import preset
from tests.api.conftest import (
    PASSWORD,
    PG_URL,
    REQUIRE_PG,
    SharedEngines,
    actor_named,
    clear_stamped_caches,
)

DATE = dt.date(2026, 11, 23)
START = dt.datetime(2026, 11, 22, 2, 0)  # naive UTC: 10:00 the day before, street time
END = dt.datetime(2026, 11, 24, 2, 0)  # the clock stops a day later
ORDERS = 12  # the tiny preset scaled down: 12 orders, 9 helpers, 9 residents
# The issue asks for at least 200 steps per CI run; CI runs the machine on both databases, so each
# run must make at least MIN_STEPS (checked below). CI_EXAMPLES x CI_STEPS rules are drawn; the
# ones that find nothing to act on (no pending offer to accept …) make no step. The derandomized
# CI sequences make about 140 steps on each database; the bench runs many more (and every rule).
CI_EXAMPLES = 9
CI_STEPS = 25
MIN_STEPS_PER_CI_RUN = 200
MIN_STEPS = MIN_STEPS_PER_CI_RUN // 2  # per database


# ----------------------------------------------------------------------------- databases


Drop = Callable[[], None]
# Every example's database in turn, on engines kept for the run: SQLAlchemy's compiled-statement
# cache (the checker's queries above all) then lasts all the examples.
ENGINES = SharedEngines()


@dataclass
class Databases:
    """Fresh databases copied from one seeded template: ``new()`` -> (url, drop)."""

    new: Callable[[], tuple[str, Drop]]
    close: Drop


class Choices(random.Random):
    """A step's choices among what the database holds now, made from one seed Hypothesis
    draws. Every step draws exactly one number whatever the state, so the draws keep their
    shape when time-limited solves lead the same draws to different states (Hypothesis calls
    a draw whose shape changes between replays a flaky strategy)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.seed_drawn = seed

    def __repr__(self) -> str:  # how a failing sequence shows the step
        return f"Choices({self.seed_drawn})"


CHOICES = st.integers(0, 2**32 - 1).map(Choices)


def seed_loop_street(url: str) -> None:
    """The tiny street, its orders dated ``DATE``, a street-wide staff account."""
    engine = make_engine(url)
    with session_factory(engine)() as session:
        street = seed_street(session, preset("tiny", seed=1, orders=ORDERS), order_date=DATE).street
        add_user(session, "staff", PASSWORD, "staff", street_id=street.id)
        # Every other helper holds every skill, so that team claims and bundles can succeed.
        skills = sorted(session.scalars(select(SkillRow.code)))
        session.execute(update(HelperRow).where(HelperRow.id % 2 == 0).values(skills=skills))
        # A circle target every resident's first member can meet, so the circle count moves with
        # the steps (the kept count is checked against a fresh one after each).
        categories = sorted(set(session.scalars(select(ResidentRow.category))))
        street.circle_size, street.circle_categories = 1, categories
        session.commit()
    engine.dispose()


def sqlite_databases(folder: Path, migrated: Path) -> Databases:
    template = folder / "loop_template.db"
    shutil.copy(migrated, template)
    seed_loop_street(f"sqlite:///{template}")

    def new() -> tuple[str, Drop]:
        path = folder / f"loop_{uuid.uuid4().hex[:10]}.db"
        shutil.copy(template, path)

        def drop() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{path}", drop

    return Databases(new, lambda: template.unlink(missing_ok=True))


def postgresql_databases(server_url: str, migrated: str) -> Databases:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    template = f"qb_looptpl_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{template}" TEMPLATE "{migrated}"'))
    seed_loop_street(make_url(server_url).set(database=template).render_as_string(False))

    def new() -> tuple[str, Drop]:
        name = f"qb_loop_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        return make_url(server_url).set(database=name).render_as_string(False), drop

    def close() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
        admin.dispose()

    return Databases(new, close)


def fresh_migrated_sqlite(folder: Path) -> Path:
    """A migrated SQLite file (for the bench, which has no pytest fixtures)."""
    path = folder / "migrated.db"
    migrate(f"sqlite:///{path}")
    return path


# ----------------------------------------------------------------------------- the machine


@dataclass
class Tally:
    """What the runs did, over every example: steps per rule, refusals, violations."""

    steps: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    first: dict[str, str] = field(default_factory=dict)  # code -> first message seen

    def note(self, code: str, message: str, after: list[str]) -> None:
        self.violations[code] += 1
        self.first.setdefault(code, f"{message}  (after: {' → '.join(after[-6:])})")


class LoopMachine(RuleBasedStateMachine):
    """One street's loop. Subclasses set ``databases`` and ``tally``; with ``collect`` a broken
    invariant or an unexpected exception is tallied instead of failing (the bench)."""

    databases: ClassVar[Databases]
    tally: ClassVar[Tally]
    collect: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        began = time.perf_counter()
        self.url, self._drop = self.databases.new()
        self.tally.seconds["new database"] += time.perf_counter() - began
        clear_stamped_caches()  # a new database under the kept engines' one URL
        self.engine = ENGINES.at(self.url)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.settings = Settings(
            database_url=self.url, tick_seconds=0, nightly_time_limit_s=1, rematch_time_limit_s=0.5
        )
        self.now = START
        self.runs = 0
        self.since_run = 2
        self.history: list[str] = []
        with self.sessions() as session:
            self.street_id = session.scalars(select(Street.id)).one()
            self.staff: Actor = actor_named(session, "staff")
            self.helpers = list(session.scalars(select(HelperRow.id).order_by(HelperRow.id)))

    def teardown(self) -> None:
        ENGINES.release(self.url)
        self._drop()

    # ------------------------------------------------------------------------- plumbing

    @contextmanager
    def step(self, name: str) -> Iterator[Session]:
        """One service call: refusals are counted, anything else fails (or is tallied)."""
        self.tally.steps[name] += 1
        self.history.append(name)
        self.since_run += 1
        session = self.sessions()
        began = time.perf_counter()
        try:
            yield session
        except ServiceError as error:
            self.tally.refusals[f"{name}: {error.code}"] += 1
            self.tally.first.setdefault(f"{name}: {error.code}", error.message)
        except Exception as error:
            if not self.collect:
                raise
            code = f"exception {name}: {type(error).__name__}"
            self.tally.errors[code] += 1
            self.tally.first.setdefault(code, traceback.format_exc(limit=-3))
        finally:
            session.close()
            self.tally.seconds[name] += time.perf_counter() - began

    def pick(self, data: Choices, query: Any, label: str) -> Any:
        """One row of ``query`` (None when it has none)."""
        with self.sessions() as session:
            rows = [tuple(r) for r in session.execute(query)]
        return data.choice(rows) if rows else None

    def orders_in(self, *statuses: str) -> Any:
        return select(OrderRow.id).where(OrderRow.status.in_(statuses)).order_by(OrderRow.id)

    # ------------------------------------------------------------------------- matching

    @initialize(matched=st.booleans())
    def start(self, matched: bool) -> None:
        """Half the examples start from a matched street, the rest from open orders."""
        if matched:
            self.nightly()

    @precondition(lambda self: self.since_run >= 2)  # something to react to; keeps runs rarer
    @rule()
    def nightly(self) -> None:
        """A nightly run or a re-run: accepted members on active teams survive it."""
        before = self._accepted_members()
        self.since_run = -1  # step() counts this one
        with self.step("rerun" if self.runs else "nightly"):
            self.runs += 1
            run_nightly(self.sessions, self.settings, self.street_id, DATE, now=self.now)
        lost = before - self._accepted_members()
        message = f"run {self.runs} dropped accepted (offer, assignment) {sorted(lost)}"
        self._report([Violation("accepted_dropped_by_run", message)] if lost else [])

    def _accepted_members(self) -> set[tuple[int, int]]:
        with self.sessions() as session:
            rows = session.execute(
                select(OfferRow.id, OfferRow.assignment_id)
                .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
                .where(OfferRow.status == OfferStatus.ACCEPTED)
                .where(AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES))
            )
            return {(offer, assignment) for offer, assignment in rows}

    @rule(data=CHOICES)
    def accept(self, data: Choices) -> None:
        query = select(OfferRow.id, OfferRow.helper_id).where(
            OfferRow.status == OfferStatus.PENDING
        )
        picked = self.pick(data, query.order_by(OfferRow.id), "pending offer")
        if picked is not None:
            with self.step("accept") as session:
                accept(session, self.settings, picked[1], picked[0], now=self.now)

    @rule(data=CHOICES)
    def decline(self, data: Choices) -> None:
        query = select(OfferRow.id, OfferRow.helper_id).where(
            OfferRow.status.in_((OfferStatus.PENDING, OfferStatus.ACCEPTED))
        )
        picked = self.pick(data, query.order_by(OfferRow.id), "live offer")
        if picked is not None:
            with self.step("decline") as session:
                decline(session, self.settings, picked[1], picked[0], "busy", now=self.now)

    @rule(minutes=st.sampled_from([10, 60, 180, 720]))
    def time_passes(self, minutes: int) -> None:
        """The clock moves on; the ticker expires overdue offers and sends reminders."""
        self.now = min(END, self.now + dt.timedelta(minutes=minutes))
        with self.step("expiry") as session:
            expire_due(session, self.settings, now=self.now)
            send_reminders(session, self.settings, now=self.now)

    # ------------------------------------------------------------------------- claims

    @rule(data=CHOICES)
    def claim_single(self, data: Choices) -> None:
        helper = data.choice(self.helpers)
        order = self._claimable(data, helper) or self.pick(
            data, self.orders_in(OrderStatus.OPEN), "order"
        )
        if order is not None:
            with self.step("claim_single") as session:
                claim_single(session, self.settings, helper, order[0], now=self.now)

    @rule(data=CHOICES)
    def claim_team(self, data: Choices) -> None:
        query = (
            self.orders_in(OrderStatus.OPEN)
            .join(ItemRow, OrderRow.item == ItemRow.code)
            .where(ItemRow.team_size > 1)
        )
        order = self.pick(data, query, "team order")
        if order is None:
            return
        with self.sessions() as session:
            view = candidates_for(session, self.staff, order[0], limit=6)
            pool = [c.helper_id for c in view.items] or self.helpers
            size = view.team_size
        if len(pool) < size:
            pool = self.helpers
        team = data.sample(pool, len(pool))[:size]
        with self.step("claim_team") as session:
            claim_team(session, self.settings, team[0], order[0], team[1:], now=self.now)

    @rule(data=CHOICES)
    def claim_bundle(self, data: Choices) -> None:
        helper = data.choice(self.helpers)
        with self.sessions() as session:
            listed = claimable_orders(session, self.settings, helper, now=self.now).items
            ids = [c.order_id for c in listed if not c.needs_teammates]
        if len(ids) < 2:
            ids = [r[0] for r in self._rows(self.orders_in(OrderStatus.OPEN))]
        if len(ids) < 2:
            return
        bundle = data.sample(ids, min(len(ids), data.choice([2, 3])))
        with self.step("claim_bundle") as session:
            claim_bundle(session, self.settings, helper, bundle, now=self.now)

    def _claimable(self, data: Choices, helper: int) -> tuple[int] | None:
        with self.sessions() as session:
            listed = claimable_orders(session, self.settings, helper, now=self.now).items
        ids = [(c.order_id,) for c in listed if not c.needs_teammates]
        if not ids or not data.choice([True, True, False]):
            return None
        return data.choice(ids)

    def _rows(self, query: Any) -> list[tuple[Any, ...]]:
        with self.sessions() as session:
            return [tuple(r) for r in session.execute(query)]

    # ------------------------------------------------------------------------- staff

    @rule(data=CHOICES)
    def cancel(self, data: Choices) -> None:
        order = self.pick(data, self.orders_in(*_OPEN), "order to cancel")
        if order is not None:
            with self.step("cancel") as session:
                cancel_order(session, self.settings, self.staff, order[0], "test", now=self.now)

    @rule(data=CHOICES)
    def reassign(self, data: Choices) -> None:
        """Staff pick a team from the ranked candidates, or anyone (a team breaking a rule is
        refused unless they give a reason: an override)."""
        order = self.pick(data, self.orders_in(*_OPEN), "order to reassign")
        if order is None:
            return
        with self.sessions() as session:
            view = candidates_for(session, self.staff, order[0], limit=6)
            pool, size = [c.helper_id for c in view.items], view.team_size
        if len(pool) < size or data.random() < 0.5:
            pool = self.helpers
        team = data.sample(pool, len(pool))[:size]
        reason = data.choice(["", "熟悉老人 / knows her"])
        with self.step("reassign") as session:
            reassign(
                session, self.settings, self.staff, order[0], team, self.now, override_reason=reason
            )

    @rule(data=CHOICES)
    def done(self, data: Choices) -> None:
        query = (
            select(OfferRow.helper_id, OfferRow.assignment_id)
            .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
            .where(OfferRow.status == OfferStatus.ACCEPTED)
            .where(AssignmentRow.status == AssignmentStatus.ACTIVE)
            .order_by(OfferRow.id)
        )
        picked = self.pick(data, query, "accepted member")
        if picked is not None:
            with self.step("done") as session:
                mark_done(session, self.settings, picked[0], picked[1], now=self.now)

    @rule(data=CHOICES)
    def confirm(self, data: Choices) -> None:
        order = self.pick(data, self.orders_in(OrderStatus.DONE), "done order")
        if order is not None:
            with self.step("confirm") as session:
                confirm_done(session, self.settings, self.staff, order[0], now=self.now)

    @rule(data=CHOICES, score=st.integers(1, 5))
    def feedback(self, data: Choices, score: int) -> None:
        order = self.pick(data, self.orders_in(OrderStatus.DONE, OrderStatus.CONFIRMED), "order")
        if order is not None:
            with self.step("feedback") as session:
                give_feedback(session, self.settings, self.staff, order[0], score, now=self.now)

    @rule(data=CHOICES)
    def circle_member(self, data: Choices) -> None:
        """Staff add a helper to a resident's care circle, or take one out (the circle count)."""
        resident = self.pick(data, select(ResidentRow.id).order_by(ResidentRow.id), "resident")
        helper = data.choice(self.helpers)
        change = data.choice([members.add_member, members.remove_member])
        if resident is not None:
            with self.step(f"circle {change.__name__}") as session:
                change(session, self.staff, resident[0], helper)

    @rule(data=CHOICES, amount=st.integers(1, 20))
    def bonus(self, data: Choices, amount: int) -> None:
        helper = data.choice(self.helpers)
        with self.step("bonus") as session:
            grant_bonus(session, self.staff, helper, amount, "thanks", now=self.now)

    @rule(data=CHOICES)
    def reversal(self, data: Choices) -> None:
        entry = self.pick(data, select(PointsEntry.id).order_by(PointsEntry.id), "entry")
        if entry is not None:
            with self.step("reversal") as session:
                reverse_entry(session, self.staff, entry[0], "correction", now=self.now)

    @rule(data=CHOICES)
    def hours_reversal(self, data: Choices) -> None:
        entry = self.pick(data, select(HoursEntry.id).order_by(HoursEntry.id), "hours entry")
        if entry is not None:
            with self.step("hours reversal") as session:
                hours_ledger.reverse_entry(session, self.staff, entry[0], "correction", self.now)

    @rule(data=CHOICES)
    def redeem(self, data: Choices) -> None:
        helper = data.choice(self.helpers)
        with self.step("redeem") as session:
            item = session.scalar(select(ShopItemRow.id).order_by(ShopItemRow.id))
            if item is None:  # the street's counter gets one item, the first time
                item = add_item(session, self.staff, "毛巾", ShopItemKind.GOODS, 5, 1000).id
            shop.redeem(session, self.staff, item, 1, helper_id=helper, now=self.now)

    @rule(data=CHOICES)
    def cancel_receipt(self, data: Choices) -> None:
        issued = select(RedemptionRow.id).where(RedemptionRow.status == RedemptionStatus.ISSUED)
        receipt = self.pick(data, issued.order_by(RedemptionRow.id), "receipt")
        if receipt is not None:
            with self.step("cancel receipt") as session:
                shop.cancel(session, self.staff, receipt[0], now=self.now)

    # ------------------------------------------------------------------------- the check

    @invariant()
    def database_is_sound(self) -> None:
        began = time.perf_counter()
        with self.sessions() as session:
            self._report(check_database(session))
            # The circle count kept between steps (``targets._COUNTS``) is the count afresh: a
            # write that forgot to restamp the street's circles shows here.
            kept = targets.target_count(session, self.staff, self.now.date())
            fresh = targets.count_afresh(session, self.staff, self.now.date())
            if kept != fresh:
                self._report([Violation("circle_count_kept", f"kept {kept}, afresh {fresh}")])
        self.tally.seconds["check"] += time.perf_counter() - began

    def _report(self, violations: list[Violation]) -> None:
        for violation in violations:
            self.tally.note(violation.code, str(violation), self.history)
        if violations and not self.collect:
            lines = "\n".join(f"  {v}" for v in violations)
            raise AssertionError(f"{len(violations)} invariant(s) broken:\n{lines}")


_OPEN = (OrderStatus.OPEN, OrderStatus.OFFERED, OrderStatus.ASSIGNED)


def machine_for(databases: Databases, tally: Tally, collect: bool = False) -> type[LoopMachine]:
    """A machine class bound to its databases and tally."""
    return type(
        "Loop",
        (LoopMachine,),
        {"databases": databases, "tally": tally, "collect": collect},
    )


# ----------------------------------------------------------------------------- the CI run


@pytest.fixture(params=["sqlite", "postgresql"])
def loop_databases(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_template: str | None,
) -> Iterator[Databases]:
    """Seeded templates for the machine, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        databases = sqlite_databases(tmp_path, sqlite_template)
    else:
        if not PG_URL or pg_template is None:
            if REQUIRE_PG:
                pytest.fail("QUNBANG_REQUIRE_PG=1 but QUNBANG_TEST_PG_URL is not set")
            pytest.skip("no PostgreSQL: set QUNBANG_TEST_PG_URL (make test-pg)")
        databases = postgresql_databases(PG_URL, pg_template)
    yield databases
    databases.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_random_loop_keeps_every_invariant(loop_databases: Databases) -> None:
    """Random sequences of the loop's operations never break an invariant, never raise anything
    but a refusal, and never drop an accepted member in a re-run (at least 100 steps on each
    database: 200 per CI run)."""
    tally = Tally()
    run_state_machine_as_test(
        machine_for(loop_databases, tally),
        settings=hypothesis_settings(
            max_examples=CI_EXAMPLES,
            stateful_step_count=CI_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: CI stays fast
            suppress_health_check=list(HealthCheck),
        ),
    )
    seconds = {k: round(v, 1) for k, v in sorted(tally.seconds.items(), key=lambda kv: -kv[1])}
    print(f"loop machine: {sum(tally.steps.values())} steps {dict(tally.steps)} seconds {seconds}")
    assert sum(tally.steps.values()) >= MIN_STEPS, tally.steps
    assert tally.steps["nightly"] + tally.steps["rerun"] > 0
