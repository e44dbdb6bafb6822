"""What a worker keeps between problems (a street's helpers, the catalogue) never goes stale, and
a re-match's small problem leaves out nobody who could serve the order."""

from __future__ import annotations

import datetime as dt
import os
import random

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.actor import actor_of
from api.services.ledger.seed import seed_street
from api.services.matching.nightly import run_nightly
from api.services.matching.problem import (
    build_problem,
    forget_kept,
    helper_key,
)
from api.services.offers.assign import live_assignment, live_assignments, live_offers
from api.services.offers.dispatch import candidates_for, candidates_for_many
from api.services.offers.rematch import _problem, refused_helpers
from api.services.orders import get_order, get_orders
from api.settings import Settings
from api.store.stamps import current, helpers_name
from api.store.tables import HelperRow, ItemRow, OrderRow, SkillRow, Street, UserRow
from matcher.eligible import eligible_helpers
from matcher.generator import preset
from tests.api.conftest import World, actor_named
from tests.api.loop_support import move_orders, tomorrow

STEPS = 12


def _problem_now(session: Session, street_id: int, day: dt.date, *, kept: bool):  # type: ignore[no-untyped-def]
    if not kept:
        forget_kept()
    orders = session.scalars(select(OrderRow).where(OrderRow.date == day).order_by(OrderRow.id))
    return build_problem(session, street_id, day, orders.all()).problem


def _edit(session: Session, rng: random.Random, street_id: int) -> str:
    """One random write to the street's helpers or the catalogue, the ways the service makes
    them (ORM changes at flush, update statements, new rows)."""
    helpers = session.scalars(
        select(HelperRow).where(HelperRow.street_id == street_id).order_by(HelperRow.id)
    ).all()
    helper = rng.choice(helpers)
    skills = sorted(session.scalars(select(SkillRow.code)))
    kind = rng.choice(["skills", "radius", "day", "active", "statement", "new", "catalogue"])
    if kind == "skills":
        helper.skills = rng.sample(skills, rng.randint(0, len(skills)))
    elif kind == "radius":  # always a change (the same value written back changes nothing)
        helper.radius_km = rng.choice([r for r in (0.5, 2.0, 9.0) if r != helper.radius_km])
    elif kind == "day":
        start = rng.randrange(0, 1200, 30)
        helper.availability = [[start, start + rng.randrange(60, 240, 30)]]
        helper.max_orders = rng.randint(0, 4)
    elif kind == "active":
        helper.active = not helper.active
    elif kind == "statement":
        session.execute(
            update(HelperRow)
            .where(HelperRow.id == helper.id)
            .values(lat=helper.lat + rng.uniform(-0.01, 0.01))
        )
    elif kind == "new":
        copy = {c.name: getattr(helper, c.name) for c in HelperRow.__table__.columns}
        copy.update(id=None, code=f"{helper.code}-{rng.randrange(10**6)}", active=True)
        session.add(HelperRow(**copy))
    else:
        item = rng.choice(session.scalars(select(ItemRow).order_by(ItemRow.code)).all())
        # Shorter than any order's window (60 min or more), and always a change.
        item.duration_min = rng.choice([d for d in (20, 30, 45) if d != item.duration_min])
    session.commit()
    return kind


def test_kept_helpers_and_catalogue_match_a_fresh_read_after_every_write(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """After every write of a random sequence, the problem built from what the process kept
    equals the problem read afresh (the stamps changed with each write)."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    rng = random.Random(int(os.environ.get("QUNBANG_TEST_SEED", "7")))  # another: other edits
    with sessions() as session:
        _problem_now(session, world.street_id, day, kept=True)  # fill what is kept
        for step in range(STEPS):
            before = current(session, helpers_name(world.street_id))
            kind = _edit(session, rng, world.street_id)
            kept = _problem_now(session, world.street_id, day, kept=True)
            fresh = _problem_now(session, world.street_id, day, kept=False)
            assert kept == fresh, f"step {step} ({kind}): a kept value went stale"
            if kind != "catalogue":
                assert current(session, helpers_name(world.street_id)) != before, kind


def test_a_new_street_is_stamped_and_stamps_differ_between_streets(
    sessions: sessionmaker[Session], world: World
) -> None:
    """Every street gets its own helpers' stamp when it is made; a write to one street's
    helpers leaves the other's stamp alone."""
    with sessions() as session:
        session.add(Street(code="north", name="北街道"))
        session.commit()
        north = session.scalars(select(Street.id).where(Street.code == "north")).one()
        first, other = (
            current(session, helpers_name(world.street_id)),
            current(session, helpers_name(north)),
        )
        assert first and other and first != other
        helper = session.scalars(
            select(HelperRow).where(HelperRow.street_id == world.street_id)
        ).first()
        assert helper is not None
        helper.max_minutes += 10
        session.commit()
        assert current(session, helpers_name(north)) == other
        assert current(session, helpers_name(world.street_id)) != first


def test_rematch_problem_holds_everyone_who_could_serve(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """For every matched order of a street whose helpers' days are partly taken, the re-match's
    small problem finds exactly the helpers (and distances) the whole street's problem finds,
    and the same reason when nobody can be found."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    run_nightly(sessions, settings, world.street_id, day)
    compared = 0
    with sessions() as session:
        orders = session.scalars(
            select(OrderRow).where(OrderRow.date == day).order_by(OrderRow.id)
        ).all()
        for order in orders:
            assignment = live_assignment(session, order.id)
            if assignment is None:
                continue
            members = [o.helper_id for o in live_offers(assignment)][:-1]  # one place to fill
            refused = refused_helpers(session, [order.id]).get(order.id, set())
            small = _problem(session, order, assignment.start_minute, members, refused).problem
            whole = build_problem(
                session,
                order.street_id,
                day,
                [order],
                pins={order.id: members} if members else None,
                refused=refused_helpers(session, [order.id]),
                fixed_starts={order.id: assignment.start_minute}
                if members and assignment.start_minute is not None
                else None,
            ).problem
            assert len(small.helpers) <= len(whole.helpers)
            (near,) = eligible_helpers(small)
            (full,) = eligible_helpers(whole)
            assert near.helpers == full.helpers, f"order {order.id}"
            assert near.blocked_reason == full.blocked_reason, f"order {order.id}"
            compared += 1
    assert compared >= 5


def _same_as_whole_street(session: Session, order: OrderRow) -> bool:
    """Re-match ``order`` as if its last member declined: the small problem (with what the worker
    remembers of who could serve the order) finds the helpers, distances and reason the whole
    street's problem finds. False if the order has no live team."""
    assignment = live_assignment(session, order.id)
    if assignment is None or not live_offers(assignment):
        return False
    *members, leaving = [o.helper_id for o in live_offers(assignment)]
    refusals = refused_helpers(session, [order.id]).get(order.id, set()) | {leaving}
    small = _problem(session, order, assignment.start_minute, members, refusals).problem
    refused = refused_helpers(session, [order.id])
    refused.setdefault(order.id, set()).add(leaving)
    whole = build_problem(
        session,
        order.street_id,
        order.date,
        [order],
        pins={order.id: members} if members else None,
        refused=refused,
        fixed_starts={order.id: assignment.start_minute}
        if members and assignment.start_minute is not None
        else None,
    ).problem
    (near,) = eligible_helpers(small)
    (full,) = eligible_helpers(whole)
    assert helper_key(leaving) not in {e.helper for e in near.helpers}, f"order {order.id}"
    assert near.helpers == full.helpers, f"order {order.id}"
    assert near.blocked_reason == full.blocked_reason, f"order {order.id}"
    return True


def test_rematch_asked_again_after_writes_holds_everyone_who_could_serve(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """Re-matching the same orders again and again, with a random write to the helpers or the
    catalogue between rounds and the leaving member refused, still finds exactly whom the whole
    street's problem finds (what a worker remembers of who could serve an order never goes
    stale, and a refusal still counts)."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    run_nightly(sessions, settings, world.street_id, day)
    rng = random.Random(11)
    with sessions() as session:
        skills = {
            i.code: (i.required_skills, i.lead_skill) for i in session.scalars(select(ItemRow))
        }
    for round in range(6):
        with sessions() as session:
            orders = session.scalars(
                select(OrderRow).where(OrderRow.date == day).order_by(OrderRow.id).limit(12)
            ).all()
            compared = sum(_same_as_whole_street(session, order) for order in orders)
            assert compared >= 3
        with sessions() as session:
            if round < 3:
                _edit(session, rng, world.street_id)
            elif round == 3:  # services ask for no skill: more can serve
                session.execute(update(ItemRow).values(required_skills=[], lead_skill=None))
                session.commit()
            else:  # and back: fewer can serve again
                _restore(session, skills)


def _restore(session: Session, skills: dict[str, tuple[list[str], str | None]]) -> None:
    for code, (required, lead) in skills.items():
        session.execute(
            update(ItemRow)
            .where(ItemRow.code == code)
            .values(required_skills=required, lead_skill=lead)
        )
    session.commit()


def test_candidates_of_many_orders_match_the_whole_streets_problem(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """The run page's candidates (``candidates_for_many``: the orders without a live team judged
    together in one small problem, the others each alone) list for every order exactly the
    helpers and distances, and the reason no team can be formed, that the whole street's
    problem of that order alone gives; and ``candidates_for`` of one order agrees."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        staff = actor_named(session, "staff")
        orders = session.scalars(
            select(OrderRow).where(OrderRow.date == day).order_by(OrderRow.id)
        ).all()
        teams = [live_assignment(session, order.id) is not None for order in orders]
        assert any(teams) and not all(teams)  # both kinds are compared
        many = candidates_for_many(session, staff, [order.id for order in orders], limit=10_000)
        for order in orders:
            whole = build_problem(
                session,
                order.street_id,
                day,
                [order],
                refused=refused_helpers(session, [order.id]),
            )
            (full,) = eligible_helpers(whole.problem)
            expected = {(whole.helpers[e.helper].id, round(e.km_one_way, 3)) for e in full.helpers}
            view = many[order.id]  # (ranked by ``dispatch._rank``: the same helpers)
            assert {(c.helper_id, c.km_one_way) for c in view.items} == expected, order.id
            assert len(view.items) == len(expected)
            reason = full.blocked_reason
            assert view.blocked_reason == (str(reason) if reason else None)
            assert candidates_for(session, staff, order.id, limit=10_000) == view


@pytest.mark.parametrize(("name", "seed"), [("scarce", 3), ("tiny", 5), ("plentiful", 8)])
def test_batched_candidates_and_details_on_generated_streets(
    sessions: sessionmaker[Session], settings: Settings, name: str, seed: int
) -> None:
    """On generated streets after their nightly, the run page's reads of many orders at once
    (``get_orders``, ``candidates_for_many``: their orders, teams and feedback in a statement
    each) give each order what the matcher's eligibility says of it in the whole street's
    problem of that order alone (every helper: the helpers and distances, the reason no team
    can be formed), and the same details as reading it alone (``get_order``)."""
    with sessions() as session:
        street = seed_street(session, preset(name, seed=seed, orders=40), code=f"g{seed}").street
        add_user(session, f"g{seed}_staff", "pw-123456", "staff", street_id=street.id)
        session.commit()
        day = session.scalar(select(OrderRow.date).where(OrderRow.street_id == street.id))
    assert day is not None
    run_nightly(sessions, settings, street.id, day)
    with sessions() as session:
        account = select(UserRow).where(UserRow.street_id == street.id)
        staff = actor_of(session.scalars(account).one())
        orders = session.scalars(
            select(OrderRow).where(OrderRow.street_id == street.id).order_by(OrderRow.id)
        ).all()
        ids = [order.id for order in orders]
        teams = live_assignments(session, ids)
        assert teams and len(teams) < len(ids)  # orders with a team and without are compared
        many = candidates_for_many(session, staff, ids, limit=10_000)
        details = get_orders(session, staff, ids)
        assert list(many) == list(details) == ids
        for order in orders:
            whole = build_problem(
                session, street.id, day, [order], refused=refused_helpers(session, [order.id])
            )
            (full,) = eligible_helpers(whole.problem)
            expected = {(whole.helpers[e.helper].id, round(e.km_one_way, 3)) for e in full.helpers}
            view = many[order.id]
            assert {(c.helper_id, c.km_one_way) for c in view.items} == expected, order.id
            assert len(view.items) == len(expected)
            reason = full.blocked_reason
            assert view.blocked_reason == (str(reason) if reason else None), order.id
    for order_id in ids:
        with sessions() as session:  # a fresh session: nothing read for the others
            assert get_order(session, staff, order_id) == details[order_id]
            assert (live_assignment(session, order_id) is not None) == (order_id in teams)


@pytest.mark.parametrize(
    ("name", "seed", "mixed"), [("scarce", 3, True), ("tiny", 5, True), ("pastoral", 2, False)]
)
def test_answers_only_problems_with_random_refusals_match_the_whole_street(
    sessions: sessionmaker[Session], settings: Settings, name: str, seed: int, mixed: bool
) -> None:
    """A candidate list's problem (``near``, ``answers_only``: only the helpers who could decide
    an order with a free day, and the reason of orders no day can staff carried in
    ``settled``) gives every order, for random groups of orders without a team and random
    refusals, the eligible helpers, distances and reason of the whole street's problem of the
    same orders."""
    with sessions() as session:
        street = seed_street(session, preset(name, seed=seed, orders=40), code=f"a{seed}").street
        session.commit()
        street_id = street.id
        day = session.scalar(select(OrderRow.date).where(OrderRow.street_id == street_id))
    assert day is not None
    run_nightly(sessions, settings, street_id, day)
    rng = random.Random(seed)
    settled = refused = 0
    with sessions() as session:
        orders = session.scalars(
            select(OrderRow).where(OrderRow.street_id == street_id).order_by(OrderRow.id)
        ).all()
        teams = live_assignments(session, [o.id for o in orders])
        open_orders = [o for o in orders if o.id not in teams]
        helpers = session.scalars(select(HelperRow.id).where(HelperRow.street_id == street_id))
        helper_ids = helpers.all()
        assert open_orders
        for _ in range(3 * STEPS):
            group = rng.sample(open_orders, rng.randint(1, min(4, len(open_orders))))
            refusals = {
                o.id: set(rng.sample(helper_ids, rng.randint(1, 8)))
                for o in group
                if rng.random() < 0.3
            }
            cut = build_problem(
                session, street_id, day, group, refused=refusals, near=True, answers_only=True
            )
            whole = build_problem(session, street_id, day, group, refused=refusals)
            near = eligible_helpers(cut.problem, settled=cut.settled)
            full = eligible_helpers(whole.problem)
            assert len(cut.problem.helpers) <= len(whole.problem.helpers)
            for a, b in zip(near, full, strict=True):
                assert a == b, (a.order, b.order)
            settled += len(cut.settled)
            refused += bool(cut.settled and refusals)
    # Orders no day can staff were among those compared; and (``mixed``: the street has open
    # orders a team could serve on a free day) beside refusals that did not touch them. On the
    # pastoral street every open order is such an order, so a refusal always lands on one.
    assert settled >= 1
    assert refused >= 1 if mixed else refused == 0
