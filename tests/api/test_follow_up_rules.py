"""Follow-up visits by the street's rules (跟踪回访): every confirmed order of the chosen resident
categories, a reproducible sample of the others, every low score; one per order and reason, due
the street's days after the visit, owned by the order's owner; the overdue and mine filters and
the community scope."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.i18n import use_locale
from api.services.actor import Actor
from api.services.closing.follow_ups import (
    Rules,
    apply_rules,
    in_sample,
    rule_reason,
)
from api.services.closing.visits import (
    FollowUpView,
    confirm_done,
    give_feedback,
    list_follow_ups,
)
from api.services.errors import BadInput, Forbidden
from api.services.ledger.street_file import StreetFileError
from api.services.ledger.street_setup import init_street
from api.services.matching.invariants import check_database
from api.services.offers.assign import to_utc
from api.settings import Settings
from api.store.db import alembic_config
from api.store.statuses import FollowUpReason
from api.store.tables import FollowUpRow, OrderRow, ResidentRow, Street, UserRow
from seeds import SEEDS_DIR
from tests.api.conftest import DATE, World, actor_named
from tests.api.test_orders import finish, first_resident, make_other_resident, new_order
from tests.api.test_web_staff import web_login

EXAMPLE = SEEDS_DIR / "example-street.yaml"
CONFIRMED_AT = dt.datetime(2026, 11, 23, 4, 0)  # DATE, 12:00 in Shanghai


def set_rules(
    sessions: sessionmaker[Session],
    world: World,
    categories: list[str] = [],  # noqa: B006 (read only)
    percent: int = 0,
    days: int | None = None,
) -> None:
    with sessions() as session:
        session.execute(
            update(Street)
            .where(Street.id == world.street_id)
            .values(
                follow_up_categories=categories,
                follow_up_sample_percent=percent,
                follow_up_days=days,
            )
        )
        session.commit()


def confirmed_orders(
    sessions: sessionmaker[Session], settings: Settings, world: World, residents: list[int]
) -> list[int]:
    """One L01 order per resident, done by a helper and confirmed by street staff on DATE."""
    ids = []
    with sessions() as session:
        staff = actor_named(session, "staff")
        for n, resident_id in enumerate(residents):
            order = new_order(session, settings, resident_id)
            finish(session, settings, order, [world.helper_ids[n % len(world.helper_ids)]])
            confirm_done(session, settings, staff, order.id, now=CONFIRMED_AT)
            ids.append(order.id)
    return ids


def follow_ups(sessions: sessionmaker[Session]) -> set[tuple[int, str]]:
    with sessions() as session:
        rows = session.execute(select(FollowUpRow.order_id, FollowUpRow.reason)).all()
        return {(order_id, reason) for order_id, reason in rows}


def two_kinds(sessions: sessionmaker[Session], world: World) -> tuple[int, int, str]:
    """Two residents of the first community, of different categories: (the first, another, the
    first's category)."""
    with sessions() as session:
        first = first_resident(session, world)
        other = session.scalars(
            select(ResidentRow)
            .where(ResidentRow.community_id == world.communities[0], ResidentRow.id != first.id)
            .order_by(ResidentRow.id)
        ).first()
        assert other is not None
        other.category = "veteran" if first.category != "veteran" else "disability"
        session.commit()
        return first.id, other.id, first.category


# ----------------------------------------------------------------------------- the sample


def test_the_sample_is_a_fixed_function_of_the_order_id() -> None:
    """The same order is in or out of a sample on every call; a larger share keeps every order
    a smaller one took; 0 % takes none, 100 % all; 10 % of 20,000 ids is about 10 %."""
    ids = range(1, 20_001)
    ten = {i for i in ids if in_sample(i, 10)}
    assert ten == {i for i in ids if in_sample(i, 10)}
    assert ten <= {i for i in ids if in_sample(i, 25)}
    assert not any(in_sample(i, 0) for i in ids) and all(in_sample(i, 100) for i in ids)
    assert 1_800 <= len(ten) <= 2_200
    assert len(ten & set(range(1, 11))) < 10  # not a run of consecutive ids


def test_the_category_rule_comes_before_the_sample() -> None:
    """An order of a chosen category is followed up for its category even if the sample took
    it too; one of another category only if the sample took it."""
    rules = Rules(frozenset({"living_alone"}), 100, 3)
    assert rule_reason(rules, "living_alone", 7) == FollowUpReason.CATEGORY
    assert rule_reason(rules, "veteran", 7) == FollowUpReason.SAMPLE
    assert rule_reason(Rules(frozenset(), 0, 3), "living_alone", 7) is None


# ----------------------------------------------------------------------------- the rules


def test_confirming_schedules_exactly_what_the_rules_say(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """With the first resident's category chosen and no sample, confirming their order
    schedules one "category" follow-up due the street's days after the visit, owned by the
    order's owner; the other resident's order gets none; with 100 % sampled, the next order of
    the other resident gets a "sample" one."""
    first, other, category = two_kinds(sessions, world)
    set_rules(sessions, world, [category], 0, days=5)
    mine, theirs = confirmed_orders(sessions, settings, world, [first, other])
    assert follow_ups(sessions) == {(mine, "category")}
    with sessions() as session:
        row = session.scalars(select(FollowUpRow)).one()
        order = session.get_one(OrderRow, mine)
        assert row.due_date == DATE + dt.timedelta(days=5)
        assert row.owner_id is not None and row.owner_id == order.owner_id
        assert session.get_one(UserRow, row.owner_id).username == "staff"
    set_rules(sessions, world, [category], 100)
    (sampled,) = confirmed_orders(sessions, settings, world, [other])
    assert follow_ups(sessions) == {(mine, "category"), (sampled, "sample")}
    assert theirs not in {order_id for order_id, _ in follow_ups(sessions)}


def test_a_low_score_adds_its_own_follow_up_once(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A chosen category's order rated 1 has two follow-ups (category, low score), one per
    reason; the database refuses a second of the same reason."""
    first, _other, category = two_kinds(sessions, world)
    set_rules(sessions, world, [category])
    (order_id,) = confirmed_orders(sessions, settings, world, [first])
    with sessions() as session:
        staff = actor_named(session, "staff")
        view = give_feedback(session, settings, staff, order_id, 1, "没来", now=CONFIRMED_AT)
        assert view.follow_up_id is not None
    assert follow_ups(sessions) == {(order_id, "category"), (order_id, "low_score")}
    with sessions() as session, pytest.raises(IntegrityError):
        session.add(FollowUpRow(order_id=order_id, reason="category", due_date=DATE))
        session.flush()


def test_applying_the_rules_again_changes_nothing(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Orders confirmed with a 50 % sample: applying the rules to their day adds nothing (the
    sample drawn again is the same), twice over; the follow-ups are exactly the orders
    ``in_sample`` takes. After the street chooses a category, applying adds that category's
    orders the sample had not taken (one rule visit per order), once."""
    first, other, category = two_kinds(sessions, world)
    set_rules(sessions, world, [], 50)
    orders = confirmed_orders(sessions, settings, world, [first, other] * 4)
    expected = {(o, "sample") for o in orders if in_sample(o, 50)}
    assert follow_ups(sessions) == expected
    with sessions() as session:
        staff = actor_named(session, "staff")
        for _ in range(2):
            applied = apply_rules(session, settings, staff, DATE, DATE, now=CONFIRMED_AT)
            assert (applied.orders, applied.added, applied.existing) == (8, 0, len(expected))
    assert follow_ups(sessions) == expected
    set_rules(sessions, world, [category], 50)
    with sessions() as session:
        staff = actor_named(session, "staff")
        added = apply_rules(session, settings, staff, DATE, DATE, now=CONFIRMED_AT).added
        assert apply_rules(session, settings, staff, DATE, DATE, now=CONFIRMED_AT).added == 0
    mine = orders[::2]  # the first resident's
    assert added == sum(not in_sample(o, 50) for o in mine)
    assert {o for o, reason in follow_ups(sessions) if reason == "category"} == {
        o for o in mine if not in_sample(o, 50)
    }


def test_applying_the_rules_is_for_staff_over_a_bounded_span(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A planner may not apply the rules; a span backwards or over a year is refused."""
    with sessions() as session:
        with pytest.raises(Forbidden):
            apply_rules(session, settings, actor_named(session, "planner"), DATE, DATE)
        staff = actor_named(session, "staff")
        with pytest.raises(BadInput):
            apply_rules(session, settings, staff, DATE, DATE - dt.timedelta(days=1))
        with pytest.raises(BadInput):
            apply_rules(session, settings, staff, DATE, DATE + dt.timedelta(days=400))


# ----------------------------------------------------------------------------- the list


def test_overdue_and_mine_filters_and_the_community_scope(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Of two follow-ups, the one past its day is listed under "overdue" and flagged; "mine"
    lists street staff's own (they own the orders they placed), none for community staff;
    community staff never see a follow-up of another community, under any filter."""
    first, _other, _category = two_kinds(sessions, world)
    stranger = make_other_resident(sessions, world)
    set_rules(sessions, world, [], 100)
    mine, far = confirmed_orders(sessions, settings, world, [first, stranger])
    with sessions() as session:
        session.execute(
            update(FollowUpRow).where(FollowUpRow.order_id == mine).values(due_date=DATE)
        )
        session.commit()
    later = to_utc(settings, DATE + dt.timedelta(days=2), 600)  # before far's due day

    def listed(actor: Actor, shown: str | None) -> list[FollowUpView]:
        return list_follow_ups(session, actor, shown, settings=settings, now=later).items

    with sessions() as session:
        staff = actor_named(session, "staff")
        community = actor_named(session, "staff_c1")
        everything = listed(staff, None)
        assert {f.order_id for f in everything} == {mine, far}
        assert [(f.order_id, f.overdue) for f in listed(staff, "overdue")] == [(mine, True)]
        assert [f.overdue for f in everything if f.order_id == far] == [False]
        assert {f.order_id for f in listed(staff, "mine")} == {mine, far}
        assert listed(community, "mine") == []
        for shown in ("scheduled", "overdue", None):
            assert {f.order_id for f in listed(community, shown)} == {mine}, shown
        with pytest.raises(BadInput):
            listed(staff, "bogus")


# ----------------------------------------------------------------------------- the street file


def test_the_street_file_sets_the_rules(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    """The example file's rules land on the street (categories, share, days) and a second run
    changes nothing; an unknown category is refused naming the file, the field and the value."""
    first = init_street(sessions, EXAMPLE)
    with sessions() as session:
        street = session.get_one(Street, first.street_id)
        rules = (street.follow_up_categories, street.follow_up_sample_percent,
                 street.follow_up_days)  # fmt: skip
        assert rules == (["living_alone", "lost_only_child"], 10, 3)
    assert init_street(sessions, EXAMPLE).changes == []
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["settings"]["follow_up_categories"] = ["living_alone", "lonely"]
    path = tmp_path / "street.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with use_locale("en"), pytest.raises(StreetFileError) as refused:
        init_street(sessions, path)
    message = refused.value.message
    assert str(path) in message and "settings.follow_up_categories[1]" in message, message
    assert "lonely" in message


# ----------------------------------------------------------------------------- invariants


@pytest.mark.broken_db("two rule follow-ups of one order, owned outside the street")
def test_the_checker_finds_a_second_rule_visit_and_a_foreign_owner(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """``check_database`` names an order with both a category and a sample follow-up, and a
    follow-up owned by a helper account; a follow-up the rules made passes."""
    first, _other, category = two_kinds(sessions, world)
    set_rules(sessions, world, [category])
    (order_id,) = confirmed_orders(sessions, settings, world, [first])
    with sessions() as session:
        assert check_database(session) == []
        helper = actor_named(session, "helper1").user_id
        session.add(FollowUpRow(order_id=order_id, reason="sample", due_date=DATE, owner_id=helper))
        session.commit()
        codes = sorted(v.code for v in check_database(session))
    assert codes == ["follow_up_owner_scope", "rule_follow_up_twice"]


# ----------------------------------------------------------------------------- the page


def test_staff_apply_the_rules_from_the_page_in_their_community_only(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The page states the street's rules. Visits confirmed before the street chose a category:
    community staff applying the rules from the follow-ups page schedule their community's
    visit, not another community's; the page says how many; a bad day is refused with a
    message."""
    first, _other, category = two_kinds(sessions, world)
    stranger = make_other_resident(sessions, world)
    with sessions() as session:
        session.execute(update(ResidentRow).where(ResidentRow.id == stranger)
                        .values(category=category))  # fmt: skip
        session.commit()
    mine, far = confirmed_orders(sessions, settings, world, [first, stranger])
    assert follow_ups(sessions) == set()
    set_rules(sessions, world, [category])
    web_login(client, "staff_c1")
    rules = client.get("/s/follow-ups").text  # the street's rules, as the page states them
    assert "以下人群的每次服务" in rules and "回访在服务日后 3 天内完成" in rules
    assert "其余服务抽样" not in rules  # no sample chosen
    day = DATE.isoformat()
    answer = client.post("/s/follow-ups/apply", data={"date_from": day, "date_to": day})
    assert "新增回访 1 条" in answer.text
    assert follow_ups(sessions) == {(mine, "category")}
    refused = client.post("/s/follow-ups/apply", data={"date_from": day, "date_to": "昨天"})
    assert 'role="alert"' in refused.text and far not in {o for o, _ in follow_ups(sessions)}


# ----------------------------------------------------------------------------- the migration


def test_migration_0010_goes_down_and_up(
    db_url: str, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Down to 0007 the streets' rules, the follow-ups' reasons and owners and the messages'
    user column go (the rule's follow-up deleted, the low score's kept); up again, the kept one
    reads as a low score's."""
    first, _other, category = two_kinds(sessions, world)
    set_rules(sessions, world, [category])
    (order_id,) = confirmed_orders(sessions, settings, world, [first])
    with sessions() as session:
        staff = actor_named(session, "staff")
        give_feedback(session, settings, staff, order_id, 1, "", now=CONFIRMED_AT)
    config = alembic_config(db_url)
    command.downgrade(config, "0007")
    with sessions() as session:
        schema = inspect(session.connection())
        assert "user_id" not in {c["name"] for c in schema.get_columns("notifications")}
        assert "reason" not in {c["name"] for c in schema.get_columns("follow_ups")}
        assert "follow_up_days" not in {c["name"] for c in schema.get_columns("streets")}
        kept = session.execute(text("SELECT order_id, feedback_id FROM follow_ups")).all()
        assert [row.order_id for row in kept] == [order_id] and kept[0].feedback_id is not None
    command.upgrade(config, "head")
    assert follow_ups(sessions) == {(order_id, "low_score")}
