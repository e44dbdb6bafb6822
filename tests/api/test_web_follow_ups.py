"""The follow-up visits page (跟踪回访): staff see the visits low scores scheduled, record one that
took place and move one to another day, in their area only."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.closing.visits import give_feedback
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.tables import FollowUpRow, OrderRow, ResidentRow
from tests.api.conftest import World, actor_named
from tests.api.test_closing import done_order
from tests.api.test_ledger import add_community
from tests.api.test_web_staff import web_login


def _scheduled(sessions: sessionmaker[Session], settings: Settings, world: World) -> int:
    """A follow-up visit a score of 1 scheduled; its id."""
    order_id, _team = done_order(sessions, settings, world)
    with sessions() as session:
        staff = actor_named(session, "staff")
        give_feedback(session, settings, staff, order_id, 1, "没人来")
        return session.scalars(select(FollowUpRow.id).where(FollowUpRow.order_id == order_id)).one()


def _card(page: str, follow_up_id: int) -> str:
    found = re.search(
        rf'<li class="card follow-up" id="follow-up-{follow_up_id}">(.*?)</li>', page, re.S
    )
    assert found, f"follow-up {follow_up_id} not on the page"
    return found.group(1)


def test_staff_record_and_move_a_follow_up_from_the_page(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The page lists a scheduled visit with its resident, score and comment; one past its day
    is flagged overdue; staff move it to another day and then record what the visit found,
    after which it leaves the "to do" list and shows under "done" with the notes."""
    follow_up = _scheduled(sessions, settings, world)
    web_login(client, "staff")
    card = _card(client.get("/s/follow-ups").text, follow_up)
    assert "没人来" in card and "评分 1" in card and "已逾期" not in card
    today = local_today(settings)
    with sessions() as session:
        session.execute(
            update(FollowUpRow)
            .where(FollowUpRow.id == follow_up)
            .values(due_date=today - dt.timedelta(days=1))
        )
        session.commit()
    assert "已逾期" in _card(client.get("/s/follow-ups").text, follow_up)
    later = today + dt.timedelta(days=3)
    moved = client.post(
        f"/s/follow-ups/{follow_up}/reschedule", data={"due_date": later.isoformat()}
    )
    assert f"已改到 {later.isoformat()}" in moved.text
    assert later.isoformat() in _card(moved.text, follow_up) and "已逾期" not in _card(
        moved.text, follow_up
    )
    done = client.post(f"/s/follow-ups/{follow_up}/done", data={"notes": "已上门致歉"})
    assert f"回访 {follow_up} 已记录" in done.text
    assert f'id="follow-up-{follow_up}"' not in done.text  # no longer to do
    listed = client.get("/s/follow-ups?show_=done").text
    assert "已上门致歉" in _card(listed, follow_up)
    again = client.post(f"/s/follow-ups/{follow_up}/done", data={"notes": "x"})
    assert "已" in again.text and 'role="alert"' in again.text


def test_bad_days_and_foreign_follow_ups_get_a_clear_message(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A day in the past, more than a year ahead, not a date, or missing is refused with a
    message and moves nothing; staff of another community neither see the visit nor act on it
    (named as not found); an id out of range is a clear 422 page, never a 500."""
    follow_up = _scheduled(sessions, settings, world)
    web_login(client, "staff")
    today = local_today(settings)
    for bad in ((today - dt.timedelta(days=1)).isoformat(),
                (today + dt.timedelta(days=400)).isoformat(), "明天", ""):  # fmt: skip
        page = client.post(f"/s/follow-ups/{follow_up}/reschedule", data={"due_date": bad})
        assert page.status_code == 200 and 'role="alert"' in page.text, bad
    with sessions() as session:
        row = session.get_one(FollowUpRow, follow_up)
        order = session.get_one(OrderRow, row.order_id)
        resident = session.get_one(ResidentRow, order.resident_id)
        due = row.due_date
        session.commit()
    other = add_community(sessions, world.street_id)
    with sessions() as session:  # the visit's resident moves to another community
        community = session.get_one(ResidentRow, other.resident_id).community_id
        session.execute(
            update(ResidentRow).where(ResidentRow.id == resident.id).values(community_id=community)
        )
        session.commit()
    assert due == today + dt.timedelta(days=settings.follow_up_days)
    web_login(client, "staff_c1")
    assert f'id="follow-up-{follow_up}"' not in client.get("/s/follow-ups?show_=all").text
    refused = client.post(f"/s/follow-ups/{follow_up}/done", data={"notes": "x"})
    assert f"{follow_up}" in refused.text and 'role="alert"' in refused.text
    with sessions() as session:
        assert session.get_one(FollowUpRow, follow_up).status == "scheduled"
    assert client.post("/s/follow-ups/99999999999999999999/done", data={}).status_code == 422
