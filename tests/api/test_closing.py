"""Closing the loop: staff confirm a done visit (base points to every member, once), the
resident's feedback (once; a low score schedules a follow-up visit) and the follow-ups."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.services.circles.totals import refresh_orders
from api.services.closing.visits import confirm_done
from api.services.errors import Conflict
from api.services.offers.answers import mark_done
from api.services.offers.assign import create_assignment, local_today, to_utc
from api.settings import Settings
from api.store.tables import AssignmentRow, FeedbackRow, FollowUpRow, OrderRow, PointsEntry
from tests.api.conftest import World, login
from tests.api.test_orders import (
    HAND_PICKED,
    NOW,
    actor_for,
    finish,
    first_resident,
    make_other_resident,
    make_resident_account,
    new_order,
)

POINTS_L01 = 8  # L01's base points in seeds/catalogue.yaml


def done_order(
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    item: str = "H04",
    resident_id: int | None = None,
) -> tuple[int, list[int]]:
    """An order of ``item`` (H04: a team of two, 25 points each) that its team marked done."""
    team = world.helper_ids[:2] if item == "H04" else world.helper_ids[:1]
    with sessions() as session:
        resident = resident_id or first_resident(session, world).id
        order = new_order(session, settings, resident, item=item)
        finish(session, settings, order, team)
        return order.id, team


@pytest.fixture
def other_resident(sessions: sessionmaker[Session], world: World) -> int:
    return make_other_resident(sessions, world)


@pytest.fixture
def resident_account(sessions: sessionmaker[Session], world: World) -> int:
    return make_resident_account(sessions, world)


def base_entries(sessions: sessionmaker[Session], order_id: int) -> list[tuple[int, int]]:
    with sessions() as session:
        rows = session.execute(
            select(PointsEntry.helper_id, PointsEntry.amount)
            .where(PointsEntry.order_id == order_id, PointsEntry.kind == "base")
            .order_by(PointsEntry.helper_id)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


# ----------------------------------------------------------------------------- confirmation


def test_confirm_awards_base_points_to_every_member_once(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Confirming credits each accepted member the item's points; confirming again is 409."""
    order_id, team = done_order(sessions, settings, world)
    headers = login(client, "staff")
    response = client.post(f"/orders/{order_id}/confirm", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"
    assert base_entries(sessions, order_id) == [(team[0], 25), (team[1], 25)]
    again = client.post(f"/orders/{order_id}/confirm", headers=headers)
    assert again.status_code == 409
    assert base_entries(sessions, order_id) == [(team[0], 25), (team[1], 25)]
    with sessions() as session:
        order = session.get_one(OrderRow, order_id)
        assert order.status == "confirmed"


def test_simultaneous_confirmations_credit_once(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Two staff confirming the same order at the same moment: one wins, points credited once."""
    order_id, _team = done_order(sessions, settings, world)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def confirm() -> None:
        with sessions() as session:
            actor = actor_for(session, "staff")
            session.commit()
            barrier.wait()
            try:
                confirm_done(session, settings, actor, order_id)
                outcomes.append("ok")
            except Conflict:
                session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert len(base_entries(sessions, order_id)) == 2


def test_confirm_needs_a_done_order(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """An order not yet marked done cannot be confirmed, and earns nobody points."""
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id)
    response = client.post(f"/orders/{order.id}/confirm", headers=login(client, "staff"))
    assert response.status_code == 409
    assert base_entries(sessions, order.id) == []


# ----------------------------------------------------------------------------- the visit's day


def at_local(settings: Settings, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """The stored (naive UTC) moment of ``hour:minute`` street time on ``day``."""
    return to_utc(settings, day, hour * 60 + minute)


def test_done_only_from_the_visits_day_in_street_time(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Marking a visit done at 23:59 street time the evening before is a Conflict naming the
    day (the assignment stays active); at 00:00 on the day it is done."""
    team = world.helper_ids[:1]
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id)
        assignment = create_assignment(
            session, settings, order, team, source="manual", start_minute=540, accepted=team,
            now=NOW,
        )  # fmt: skip
        assignment.override_reason = HAND_PICKED  # given without the matcher's check
        session.commit()
        eve = at_local(settings, order.date, 0, -1)  # 23:59 the evening before
        with pytest.raises(Conflict) as refused:
            mark_done(session, settings, team[0], assignment.id, now=eve)
        session.rollback()
        assert "当天起才能标记完成" in refused.value.message
        day = order.date
        assert f"{day.year}年{day.month}月{day.day}日" in refused.value.message
        assert session.get_one(AssignmentRow, assignment.id).status == "active"
        midnight = at_local(settings, order.date, 0)
        view = mark_done(session, settings, team[0], assignment.id, now=midnight)
        assert view.assignment_status == "done"


def test_confirm_only_from_the_visits_day_and_pays_nothing_before(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A visit marked done ahead of its day (as the old pages allowed) cannot be confirmed
    before the day: Conflict, no points; on the day confirmation pays the base points."""
    team = world.helper_ids[:1]
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id)
        assignment = create_assignment(
            session, settings, order, team, source="manual", start_minute=540, accepted=team,
            now=NOW,
        )  # fmt: skip
        assignment.override_reason = HAND_PICKED  # given without the matcher's check
        assignment.status = "done"  # written before the rule existed
        refresh_orders(session, [order.id])  # … and its circle totals with it
        session.commit()
        order_id, day = order.id, order.date
        staff = actor_for(session, "staff")
        session.commit()
        with pytest.raises(Conflict) as refused:
            confirm_done(session, settings, staff, order_id, now=at_local(settings, day, 0, -1))
        session.rollback()
        assert "当天起才能确认" in refused.value.message and refused.value.field == "date"
        assert base_entries(sessions, order_id) == []
        on_the_day = at_local(settings, day, 0)
        confirmed = confirm_done(session, settings, staff, order_id, now=on_the_day)
        assert confirmed.status == "confirmed" and confirmed.points == {team[0]: POINTS_L01}
    assert base_entries(sessions, order_id) == [(team[0], POINTS_L01)]


# ----------------------------------------------------------------------------- feedback


def test_low_score_schedules_a_follow_up(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A score at or below the threshold schedules a follow-up visit due in follow_up_days."""
    order_id, _team = done_order(sessions, settings, world)
    headers = login(client, "staff")
    body = {"score": settings.low_score_threshold, "comment": "来晚了"}
    response = client.post(f"/orders/{order_id}/feedback", json=body, headers=headers)
    assert response.status_code == 201, response.text
    due = local_today(settings) + dt.timedelta(days=settings.follow_up_days)
    assert response.json()["follow_up_due"] == due.isoformat()
    listed = client.get("/follow-ups", params={"status": "scheduled"}, headers=headers).json()
    assert [(f["order_id"], f["score"], f["comment"]) for f in listed["items"]] == [
        (order_id, settings.low_score_threshold, "来晚了")
    ]
    follow_up_id = listed["items"][0]["id"]
    done = client.post(
        f"/follow-ups/{follow_up_id}/done", json={"notes": "已致歉"}, headers=headers
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert client.post(f"/follow-ups/{follow_up_id}/done", headers=headers).status_code == 409
    assert (
        client.get("/follow-ups", params={"status": "scheduled"}, headers=headers).json()["total"]
        == 0
    )


def test_high_score_schedules_nothing(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A score above the threshold is recorded without a follow-up visit."""
    order_id, _team = done_order(sessions, settings, world)
    body = {"score": settings.low_score_threshold + 1}
    response = client.post(
        f"/orders/{order_id}/feedback", json=body, headers=login(client, "staff")
    )
    assert response.status_code == 201
    assert response.json()["follow_up_id"] is None
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(FollowUpRow)) == 0


def test_feedback_is_given_once(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A second feedback for the same order is 409 and leaves the first as it was."""
    order_id, _team = done_order(sessions, settings, world)
    headers = login(client, "staff")
    assert client.post(
        f"/orders/{order_id}/feedback", json={"score": 5}, headers=headers
    ).is_success
    again = client.post(f"/orders/{order_id}/feedback", json={"score": 1}, headers=headers)
    assert again.status_code == 409
    with sessions() as session:
        assert list(session.scalars(select(FeedbackRow.score))) == [5]
        assert session.scalar(select(func.count()).select_from(FollowUpRow)) == 0


@pytest.mark.parametrize("score", [0, 6, "good", None])
def test_bad_scores_get_422_naming_score(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World, score
) -> None:  # type: ignore[no-untyped-def]
    """A score outside 1..5 (or not a number) is 422 naming ``score``; nothing is written."""
    order_id, _team = done_order(sessions, settings, world, item="L01")
    body = {"score": score}
    response = client.post(
        f"/orders/{order_id}/feedback", json=body, headers=login(client, "staff")
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["score"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackRow)) == 0


def test_feedback_needs_a_done_order(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """An order not done yet cannot be rated."""
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id)
    response = client.post(
        f"/orders/{order.id}/feedback", json={"score": 4}, headers=login(client, "staff")
    )
    assert response.status_code == 409


def test_resident_account_rates_only_its_own_orders(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    resident_account: int,
    other_resident: int,
) -> None:
    """A resident rates its own done order; another resident's order is 404 to it."""
    own, _ = done_order(sessions, settings, world, item="L01", resident_id=resident_account)
    other, _ = done_order(sessions, settings, world, item="L01", resident_id=other_resident)
    headers = login(client, "resident1")
    assert client.post(f"/orders/{own}/feedback", json={"score": 5}, headers=headers).is_success
    assert (
        client.post(f"/orders/{other}/feedback", json={"score": 5}, headers=headers).status_code
        == 404
    )
    c1 = login(client, "staff_c1")
    assert (
        client.post(f"/orders/{other}/feedback", json={"score": 5}, headers=c1).status_code == 404
    )


def test_helpers_and_residents_stay_out_of_staff_closing_routes(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    resident_account: int,
) -> None:
    """Helpers get 404 on confirm, feedback and follow-ups; residents cannot confirm."""
    order_id, _team = done_order(sessions, settings, world, item="L01")
    helper = login(client, "helper1")
    assert client.post(f"/orders/{order_id}/confirm", headers=helper).status_code == 404
    feedback = client.post(f"/orders/{order_id}/feedback", json={"score": 1}, headers=helper)
    assert feedback.status_code == 404
    assert client.get("/follow-ups", headers=helper).status_code == 404
    assert client.post("/follow-ups/1/done", headers=helper).status_code == 404
    resident = login(client, "resident1")
    assert client.post(f"/orders/{order_id}/confirm", headers=resident).status_code == 404
    assert base_entries(sessions, order_id) == []


def test_follow_ups_are_scoped_to_the_community(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    other_resident: int,
) -> None:
    """Community staff neither see nor complete another community's follow-ups."""
    order_id, _ = done_order(sessions, settings, world, item="L01", resident_id=other_resident)
    staff = login(client, "staff")
    client.post(f"/orders/{order_id}/feedback", json={"score": 1}, headers=staff)
    c1 = login(client, "staff_c1")
    assert client.get("/follow-ups", headers=c1).json()["total"] == 0
    follow_up_id = client.get("/follow-ups", headers=staff).json()["items"][0]["id"]
    assert client.post(f"/follow-ups/{follow_up_id}/done", headers=c1).status_code == 404
