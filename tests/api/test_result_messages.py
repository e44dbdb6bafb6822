"""Messages beyond helpers: the result fed back to whoever ordered (matched, done, cannot be
done), the owners' messages (order at risk or overdue, follow-up overdue) from the ticker's
watch, each once; who sees which (inboxes, the outbox page's scope); the pages."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.closing.visits import confirm_done
from api.services.messages import outbox
from api.services.messages.notify import enqueue
from api.services.messages.outbox import NotificationFilters
from api.services.messages.results import tell_requesters
from api.services.messages.watch import AT_RISK, LOOKBACK, watch_deadlines
from api.services.offers.answers import accept, mark_done
from api.services.offers.assign import create_assignment, to_utc
from api.services.offers.dispatch import cancel_order
from api.services.orders import OrderSpec, place_order
from api.settings import Settings
from api.store.statuses import NotificationKind
from api.store.tables import FollowUpRow, NotificationRow, OfferRow, OrderRow, UserRow
from tests.api.conftest import DATE, PASSWORD, World, actor_named, login
from tests.api.test_orders import (
    HAND_PICKED,
    NOW,
    first_resident,
    make_other_resident,
    make_resident_account,
    new_order,
)
from tests.api.test_web_staff import web_login

ON_THE_DAY = dt.datetime(2026, 11, 23, 4, 0)  # DATE, 12:00 in Shanghai
# A new order's deadline: the street's default promise (72 h) from NOW, but not before the end
# of its day, DATE (the Monday after NOW), in Shanghai: 16:00 UTC.
DUE = max(NOW + dt.timedelta(hours=72), dt.datetime.combine(DATE, dt.time(16, 0)))


def sent_to(sessions: sessionmaker[Session], username: str) -> list[str]:
    """The kinds of the messages to ``username``'s account, oldest first."""
    with sessions() as session:
        user_id = session.scalars(select(UserRow.id).where(UserRow.username == username)).one()
        return list(
            session.scalars(
                select(NotificationRow.kind)
                .where(NotificationRow.user_id == user_id)
                .order_by(NotificationRow.id)
            )
        )


def team_order(sessions: sessionmaker[Session], settings: Settings, world: World) -> int:
    """A staff order for the first resident (H04: a team of two) offered to two helpers."""
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id, item="H04")
        assignment = create_assignment(session, settings, order, world.helper_ids[:2],
                                       source="manual", start_minute=540, now=NOW)  # fmt: skip
        assignment.override_reason = HAND_PICKED
        session.commit()
        return order.id


def offers_of(sessions: sessionmaker[Session], order_id: int) -> list[tuple[int, int]]:
    with sessions() as session:
        rows = session.execute(
            select(OfferRow.helper_id, OfferRow.id)
            .join(OfferRow.assignment)
            .where(OfferRow.assignment.has(order_id=order_id))
            .order_by(OfferRow.id)
        ).all()
        return [(helper_id, offer_id) for helper_id, offer_id in rows]


@pytest.fixture
def resident(sessions: sessionmaker[Session], world: World) -> int:
    return make_resident_account(sessions, world)


# ----------------------------------------------------------------------------- result fed back


def test_the_requester_is_told_matched_then_done_once_each(
    sessions: sessionmaker[Session], settings: Settings, world: World, resident: int
) -> None:
    """The first member to accept tells the resident "matched"; the second tells nothing more;
    staff confirming the visit tells "done"; a second confirmation attempt adds nothing. The
    resident's inbox lists both, newest first, with a text in each language."""
    order_id = team_order(sessions, settings, world)
    assert sent_to(sessions, "resident1") == []
    (first, first_offer), (second, second_offer) = offers_of(sessions, order_id)
    with sessions() as session:
        accept(session, settings, first, first_offer, now=NOW)
    assert sent_to(sessions, "resident1") == ["matched"]
    with sessions() as session:
        accept(session, settings, second, second_offer, now=NOW)
        accept(session, settings, second, second_offer, now=NOW)  # again: harmless
        assignment_id = session.scalars(
            select(OfferRow.assignment_id).where(OfferRow.id == first_offer)
        ).one()
        mark_done(session, settings, first, assignment_id, now=ON_THE_DAY)
        confirm_done(session, settings, actor_named(session, "staff"), order_id, now=ON_THE_DAY)
    assert sent_to(sessions, "resident1") == ["matched", "completed"]
    with sessions() as session:
        mine = outbox.inbox(session, actor_named(session, "resident1")).items
        assert [m.kind for m in mine] == ["completed", "matched"]
        assert "已完成" in mine[0].text_zh and "completed" in mine[0].text_en
        assert all(m.payload["order"] == order_id for m in mine)


def test_a_claim_tells_the_requester_matched(
    sessions: sessionmaker[Session], settings: Settings, world: World, resident: int
) -> None:
    """A team given with its member already accepted (a claim) tells the resident once."""
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id)
        helper = world.helper_ids[0]
        assignment = create_assignment(session, settings, order, [helper], source="manual",
                                       start_minute=540, accepted=[helper], now=NOW)  # fmt: skip
        assignment.override_reason = HAND_PICKED
        session.commit()
    assert sent_to(sessions, "resident1") == ["matched"]


def test_cancelled_by_staff_tells_the_requester_but_not_when_they_cancel(
    sessions: sessionmaker[Session], settings: Settings, world: World, resident: int
) -> None:
    """Staff cancelling the resident's order tell them it cannot be done, with the reason; a
    resident cancelling their own order is told nothing (they did it)."""
    with sessions() as session:
        staff_order = new_order(session, settings, resident).id
        own = actor_named(session, "resident1")
        spec = OrderSpec(item="L01", date=DATE, window_start=540, window_end=600)
        own_order = place_order(session, settings, own, spec, now=NOW).id
        cancel_order(session, settings, actor_named(session, "staff"), staff_order, "下雨停止")
        cancel_order(session, settings, own, own_order, "不需要了")
    assert sent_to(sessions, "resident1") == ["not_done"]
    with sessions() as session:
        message = session.scalars(
            select(NotificationRow).where(NotificationRow.kind == "not_done")
        ).one()
        assert "下雨停止" in message.text_zh and "cancelled" in message.text_en
        assert message.payload == {"order": staff_order, "date": DATE.isoformat(),
                                   "cause": "cancelled"}  # fmt: skip


def test_not_done_without_a_known_cause_says_so_plainly(
    sessions: sessionmaker[Session], settings: Settings, world: World, resident: int
) -> None:
    """A caller telling "cannot be done" with no cause of its own gets the plain text, once."""
    with sessions() as session:
        order = new_order(session, settings, resident)
        assert tell_requesters(session, order, NotificationKind.NOT_DONE) == 1
        assert tell_requesters(session, order, NotificationKind.NOT_DONE, "overdue") == 0
        session.commit()
        message = session.scalars(select(NotificationRow)).one()
        assert message.text_en.endswith("cannot be done.") and "无法办理" in message.text_zh


# ----------------------------------------------------------------------------- the watch


def test_an_overdue_order_tells_its_owner_and_requester_once(
    sessions: sessionmaker[Session], settings: Settings, world: World, resident: int
) -> None:
    """Past its deadline with nobody arranged, the order's owner (the staff member who placed
    it) is told "overdue" and the resident "cannot be done", once however many rounds; a round
    with nothing new queues nothing."""
    with sessions() as session:
        order_id = new_order(session, settings, resident).id
    later = DUE + dt.timedelta(hours=1)
    with sessions() as session:
        assert watch_deadlines(session, settings, now=later) == 2
        assert watch_deadlines(session, settings, now=later + dt.timedelta(hours=2)) == 0
    assert sent_to(sessions, "staff") == ["order_overdue"]
    assert sent_to(sessions, "resident1") == ["not_done"]
    with sessions() as session:
        told = session.scalars(
            select(NotificationRow).where(NotificationRow.kind == "order_overdue")
        ).one()
        assert told.payload["order"] == order_id and f"{order_id}" in told.text_en


def test_an_order_nobody_owns_tells_only_its_requester_once(
    sessions: sessionmaker[Session], settings: Settings, world: World, resident: int
) -> None:
    """A resident's own order (no owner yet) turned overdue tells the resident once; later
    rounds find nothing to tell."""
    with sessions() as session:
        own = actor_named(session, "resident1")
        spec = OrderSpec(item="L01", date=DATE, window_start=540, window_end=600)
        place_order(session, settings, own, spec, now=NOW)
    with sessions() as session:
        assert watch_deadlines(session, settings, now=DUE + dt.timedelta(minutes=1)) == 1
        assert watch_deadlines(session, settings, now=DUE + dt.timedelta(hours=5)) == 0
    assert sent_to(sessions, "resident1") == ["not_done"]


def test_at_risk_is_told_once_and_old_deadlines_are_not_looked_at(
    sessions: sessionmaker[Session], settings: Settings, world: World, resident: int
) -> None:
    """An order within ``AT_RISK`` of its deadline and not taken tells its owner once; one
    taken (assigned) does not; an order overdue for longer than ``LOOKBACK`` is not told."""
    with sessions() as session:
        risky = new_order(session, settings, resident).id
        covered = new_order(session, settings, resident)
        helper = world.helper_ids[0]
        assignment = create_assignment(session, settings, covered, [helper], source="manual",
                                       start_minute=540, accepted=[helper], now=NOW)  # fmt: skip
        assignment.override_reason = HAND_PICKED
        session.commit()
    soon = DUE - AT_RISK + dt.timedelta(hours=1)
    with sessions() as session:
        assert watch_deadlines(session, settings, now=DUE - AT_RISK - dt.timedelta(hours=1)) == 0
        assert watch_deadlines(session, settings, now=soon) == 1
        assert watch_deadlines(session, settings, now=soon + dt.timedelta(hours=1)) == 0
    assert sent_to(sessions, "staff") == ["order_at_risk"]
    with sessions() as session:
        told = session.scalars(select(NotificationRow).where(NotificationRow.user_id.is_not(None)))
        assert [m.payload["order"] for m in told if m.kind == "order_at_risk"] == [risky]
        long_after = DUE + LOOKBACK + dt.timedelta(hours=1)
        assert watch_deadlines(session, settings, now=long_after) == 0


def test_an_overdue_follow_up_tells_its_owner_once(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A follow-up still to do the day after its due day tells its owner once; one done, or
    with no owner, tells nobody."""
    with sessions() as session:
        staff_id = actor_named(session, "staff").user_id
        orders = [new_order(session, settings, first_resident(session, world).id) for _ in "abc"]
        session.add_all([
            FollowUpRow(order_id=orders[0].id, reason="sample", due_date=DATE, owner_id=staff_id),
            FollowUpRow(order_id=orders[1].id, reason="sample", due_date=DATE, owner_id=staff_id,
                        status="done"),
            FollowUpRow(order_id=orders[2].id, reason="sample", due_date=DATE),
        ])  # fmt: skip
        session.execute(update(OrderRow).values(status="cancelled"))  # no order deadlines
        session.commit()
    next_day = to_utc(settings, DATE + dt.timedelta(days=1), 9 * 60)
    with sessions() as session:
        assert watch_deadlines(session, settings, now=to_utc(settings, DATE, 23 * 60)) == 0
        assert watch_deadlines(session, settings, now=next_day) == 1
        assert watch_deadlines(session, settings, now=next_day + dt.timedelta(hours=3)) == 0
    assert sent_to(sessions, "staff") == ["follow_up_overdue"]


# ----------------------------------------------------------------------------- who sees what


def test_community_staff_see_only_their_communitys_messages(
    sessions: sessionmaker[Session], settings: Settings, world: World, resident: int
) -> None:
    """Messages to a resident of the first community and to one of another: community staff of
    the first see the first only on the outbox page; street staff see both; each inbox holds
    its own messages only."""
    stranger = make_other_resident(sessions, world)
    with sessions() as session:
        add_user(session, "resident2", PASSWORD, "resident", resident_id=stranger)
        session.commit()
        ids = {}
        for username in ("resident1", "resident2", "staff"):
            user_id = actor_named(session, username).user_id
            row = enqueue(session, user_id=user_id, kind="matched", text_zh=username,
                          text_en=username)  # fmt: skip
            assert row is not None
            session.flush()
            ids[username] = row.id
        session.commit()
        every = NotificationFilters()

        def listed(username: str) -> set[int]:
            actor = actor_named(session, username)
            return {m.id for m in outbox.list_notifications(session, actor, every).items}

        assert listed("staff") >= set(ids.values())
        assert listed("staff_c1") == {ids["resident1"]}
        for username, message_id in ids.items():
            mine = outbox.inbox(session, actor_named(session, username)).items
            assert [m.id for m in mine] == [message_id]
        assert outbox.inbox(session, actor_named(session, "staff_c1")).items == []


def test_each_user_reads_their_own_messages_from_the_api(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World,
    resident: int,
) -> None:  # fmt: skip
    """GET /me/messages answers the resident their "cannot be done" and staff their "overdue",
    each only their own; without a login it is 401."""
    with sessions() as session:
        order_id = new_order(session, settings, resident).id
        watch_deadlines(session, settings, now=DUE + dt.timedelta(hours=1))
    for username, kind in (("resident1", "not_done"), ("staff", "order_overdue")):
        answer = client.get("/me/messages", headers=login(client, username))
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [(m["kind"], m["payload"]["order"]) for m in items] == [(kind, order_id)]
    assert client.get("/me/messages").status_code == 401


def test_a_message_has_one_recipient_at_most(
    sessions: sessionmaker[Session], world: World, resident: int
) -> None:
    """The database refuses a message to a helper and a user at once."""
    with sessions() as session:
        user_id = actor_named(session, "resident1").user_id
        enqueue(session, helper_id=world.helper_ids[0], user_id=user_id, kind="matched",
                text_zh="x", text_en="x")  # fmt: skip
        with pytest.raises(IntegrityError):
            session.flush()


# ----------------------------------------------------------------------------- pages


def test_inbox_pages_show_the_readers_own_messages(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World,
    resident: int,
) -> None:  # fmt: skip
    """/r/inbox shows the resident their result in their language (zh by default, English
    after they choose it); /s/inbox shows staff their overdue order; neither shows the
    other's."""
    with sessions() as session:
        new_order(session, settings, resident)
        watch_deadlines(session, settings, now=DUE + dt.timedelta(hours=1))
    web_login(client, "resident1")
    page = client.get("/r/inbox").text
    assert "未能在承诺时间内安排" in page and 'id="message-' in page
    with sessions() as session:
        session.execute(
            update(UserRow).where(UserRow.username == "resident1").values(language="en")
        )
        session.commit()
    web_login(client, "resident1")
    assert "could not be arranged in the promised time" in client.get("/r/inbox").text
    web_login(client, "staff")
    staff_page = client.get("/s/inbox").text
    assert "工单逾期" in staff_page and "未能在承诺时间内安排" not in staff_page
    web_login(client, "staff_c1")
    assert 'id="message-' not in client.get("/s/inbox").text
