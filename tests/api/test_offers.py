"""The offer loop: privacy, accept, decline and expiry re-matching, reminders, done, and staff
dispatching (cancel, reassign, candidates) with community scoping."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.i18n import format_day, use_locale
from api.services.errors import Conflict
from api.services.matching.nightly import run_nightly
from api.services.messages.ticker import tick
from api.services.offers import answers as offers_service
from api.services.offers.answers import accept, expire_due, send_reminders
from api.services.offers.assign import create_assignment
from api.settings import Settings
from api.store.tables import (
    AssignmentRow,
    AuditEntry,
    HelperRow,
    ItemRow,
    NotificationRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    RunRow,
    RunUnmatched,
)
from tests.api.conftest import StateContext, World, database_state, login
from tests.api.loop_support import (
    assert_db_plan_valid,
    helper_headers,
    live_teams,
    matched_tomorrow,
    split_street,
)


def _matched_tomorrow(state: StateContext) -> dt.date:
    """Tomorrow, with every order of the roomy street matched by a nightly run."""
    return matched_tomorrow(state)


day = database_state("day", _matched_tomorrow)


def team_of(sessions: sessionmaker[Session], day: dt.date, size: int) -> tuple[int, list[OfferRow]]:
    """An order with a live team of ``size`` and its members' offers."""
    with sessions() as session:
        return next(
            (order_id, members)
            for order_id, (_, members) in sorted(live_teams(session, day).items())
            if len(members) == size
        )


def private_details(session: Session, resident_id: int) -> list[str]:
    resident = session.get_one(ResidentRow, resident_id)
    return [resident.name, resident.phone, resident.address, resident.category]


def offers_by_helper(sessions: sessionmaker[Session]) -> dict[int, list[OfferRow]]:
    with sessions() as session:
        grouped: dict[int, list[OfferRow]] = defaultdict(list)
        for offer in session.scalars(select(OfferRow).order_by(OfferRow.id)):
            grouped[offer.helper_id].append(offer)
        return grouped


# ----------------------------------------------------------------------------- privacy


def test_before_accepting_no_name_address_phone_or_category(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """A helper's pending offers show item, time, community and distance, and nowhere in the
    JSON the resident's name, phone, address or category."""
    helper_id, offers = max(offers_by_helper(sessions).items(), key=lambda kv: len(kv[1]))
    headers = helper_headers(client, sessions, helper_id)
    listing = client.get("/me/offers", headers=headers)
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] == len(offers) and len(body["items"]) == len(offers)
    one = client.get(f"/me/offers/{offers[0].id}", headers=headers)
    text = listing.text + one.text
    with sessions() as session:
        for offer in offers:
            order = session.get_one(OrderRow, offer.assignment.order_id)
            for detail in private_details(session, order.resident_id):
                assert detail not in text
    for item in body["items"]:
        assert item["resident"] is None and item["status"] == "pending"
        assert item["item_name_zh"] and item["community"] and item["distance_km"] is not None


def test_accepting_reveals_details_for_that_order_only(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """After accepting, the helper sees that resident's name, address and phone; their other
    (pending) offers stay without them."""
    helper_id, offers = next(
        (h, o) for h, o in sorted(offers_by_helper(sessions).items()) if len(o) >= 2
    )
    headers = helper_headers(client, sessions, helper_id)
    response = client.post(f"/me/offers/{offers[0].id}/accept", headers=headers)
    assert response.status_code == 200, response.text
    with sessions() as session:
        first = session.get_one(OrderRow, offers[0].assignment.order_id).resident
        others = [session.get_one(OrderRow, o.assignment.order_id).resident_id for o in offers[1:]]
        hidden = [d for r in others if r != first.id for d in private_details(session, r)[:3]]
    assert response.json()["resident"] == {
        "name": first.name,
        "address": first.address,
        "phone": first.phone,
    }
    listing = client.get("/me/offers?status=all", headers=headers).json()["items"]
    shown = {item["id"]: item["resident"] for item in listing}
    assert shown[offers[0].id] is not None
    assert all(shown[o.id] is None for o in offers[1:])
    text = client.get(f"/me/offers/{offers[1].id}", headers=headers).text
    assert not any(detail in text for detail in hidden)


def test_another_helpers_offer_is_404(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """Reading, accepting, declining another helper's offer or marking their assignment done
    answers 404, as if it did not exist."""
    grouped = sorted(offers_by_helper(sessions).items())
    (mine, _), (_, theirs) = grouped[0], grouped[1]
    headers = helper_headers(client, sessions, mine)
    offer = theirs[0]
    assert client.get(f"/me/offers/{offer.id}", headers=headers).status_code == 404
    assert client.post(f"/me/offers/{offer.id}/accept", headers=headers).status_code == 404
    assert client.post(f"/me/offers/{offer.id}/decline", headers=headers).status_code == 404
    done = client.post(f"/me/assignments/{offer.assignment_id}/done", headers=headers)
    assert done.status_code == 404
    with sessions() as session:
        assert session.get_one(OfferRow, offer.id).status == "pending"


# ----------------------------------------------------------------------------- answering


def test_accept_twice_is_harmless_and_late_or_withdrawn_is_conflict(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, day: dt.date
) -> None:
    """A double click accepts once; accepting past the deadline or a declined offer is 409."""
    grouped = sorted(offers_by_helper(sessions).items())
    helper_id, offers = grouped[0]
    headers = helper_headers(client, sessions, helper_id)
    first = client.post(f"/me/offers/{offers[0].id}/accept", headers=headers)
    again = client.post(f"/me/offers/{offers[0].id}/accept", headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["responded_at"] == again.json()["responded_at"]
    other_helper, other = grouped[1]
    late = other[0].respond_by + dt.timedelta(minutes=1)
    with sessions() as session, pytest.raises(Conflict):
        accept(session, settings, other_helper, other[0].id, now=late)
    other_headers = helper_headers(client, sessions, other_helper)
    client.post(f"/me/offers/{other[0].id}/decline", json={"reason": "busy"}, headers=other_headers)
    declined = client.post(f"/me/offers/{other[0].id}/accept", headers=other_headers)
    assert declined.status_code == 409


def test_decline_offers_the_place_to_someone_else_keeping_accepted_members(
    client: TestClient, sessions: sessionmaker[Session], world: World, day: dt.date
) -> None:
    """A decline re-matches at once: a new pending offer to a different helper on the same team,
    the accepted member kept, the decliner not asked again, the new helper told."""
    order_id, (stays, leaves) = team_of(sessions, day, 2)
    client.post(
        f"/me/offers/{stays.id}/accept", headers=helper_headers(client, sessions, stays.helper_id)
    )
    response = client.post(
        f"/me/offers/{leaves.id}/decline",
        json={"reason": "不在家 / away"},
        headers=helper_headers(client, sessions, leaves.helper_id),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "declined"
    with sessions() as session:
        assignment, members = live_teams(session, day)[order_id]
        assert assignment.id == stays.assignment_id
        by_helper = {o.helper_id: o for o in members}
        assert by_helper[stays.helper_id].status == "accepted"
        assert leaves.helper_id not in by_helper and len(members) == 2
        (newcomer,) = [o for o in members if o.helper_id != stays.helper_id]
        assert newcomer.status == "pending"
        assert session.get_one(OrderRow, order_id).status == "offered"
        told = session.scalars(
            select(NotificationRow).where(
                NotificationRow.kind == "offer", NotificationRow.helper_id == newcomer.helper_id
            )
        ).all()
        assert newcomer.id in {n.payload["offer"] for n in told}
        rematch = session.scalars(select(RunRow).where(RunRow.kind == "rematch")).one()
        assert rematch.status == "done" and rematch.figures["offers_created"] == 1
        assert_db_plan_valid(session, world.street_id, day)


def _decline_with_other_member_accepting_meanwhile(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    day: dt.date,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int, OfferRow, OfferRow]:
    """Decline one member of a team of two while the other accepts between the re-match's plan
    and its write (what the plan rests on moves)."""
    order_id, (stays, leaves) = team_of(sessions, day, 2)
    planned = offers_service.plan_rematch

    def plan_then_other_answers(*args: object, **kwargs: object) -> object:
        plan = planned(*args, **kwargs)  # type: ignore[arg-type]
        with sessions() as other:
            accept(other, settings, stays.helper_id, stays.id)
        return plan

    afresh = offers_service.rematch_or_release
    calls = []

    def rematch_afresh(*args: object, **kwargs: object) -> int:
        calls.append(args)
        return afresh(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(offers_service, "plan_rematch", plan_then_other_answers)
    monkeypatch.setattr(offers_service, "rematch_or_release", rematch_afresh)
    response = client.post(
        f"/me/offers/{leaves.id}/decline",
        headers=helper_headers(client, sessions, leaves.helper_id),
    )
    assert response.status_code == 200, response.text
    assert response.json()["replacement_offers"] == 1
    assert len(calls) == 1  # the stale plan was dropped and the order re-matched afresh
    return order_id, stays, leaves


def test_decline_whose_planned_rematch_is_overtaken_still_lands_and_rematches(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A re-match planned ahead of a decline is not written when the team changed meanwhile: the
    answer is written alone and the order re-matched afresh (one re-match run, the other
    member's acceptance kept, the decliner not asked again)."""
    order_id, stays, leaves = _decline_with_other_member_accepting_meanwhile(
        client, sessions, settings, day, monkeypatch
    )
    with sessions() as session:
        assert session.get_one(OfferRow, leaves.id).status == "declined"
        _, members = live_teams(session, day)[order_id]
        helpers = {o.helper_id: o.status for o in members}
        assert helpers[stays.helper_id] == "accepted" and leaves.helper_id not in helpers
        assert sorted(helpers.values()) == ["accepted", "pending"]
        runs = session.scalars(select(RunRow).where(RunRow.kind == "rematch")).all()
        assert [r.figures["offers_created"] for r in runs] == [1]
        assert_db_plan_valid(session, world.street_id, day)


def test_decline_lands_when_writing_its_planned_rematch_fails(
    client: TestClient,
    sessions: sessionmaker[Session],
    world: World,
    day: dt.date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should writing the planned re-match fail, nothing of it is half-written: the answer is
    written alone and the order re-matched afresh."""
    order_id, (stays, leaves) = team_of(sessions, day, 2)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(offers_service, "apply_rematch", broken)
    response = client.post(
        f"/me/offers/{leaves.id}/decline",
        headers=helper_headers(client, sessions, leaves.helper_id),
    )
    assert response.status_code == 200, response.text
    with sessions() as session:
        assert session.get_one(OfferRow, leaves.id).status == "declined"
        _, members = live_teams(session, day)[order_id]
        helpers = {o.helper_id: o.status for o in members}
        assert stays.helper_id in helpers and leaves.helper_id not in helpers
        assert len(helpers) == 2
        runs = session.scalars(select(RunRow).where(RunRow.kind == "rematch")).all()
        assert len(runs) == 1
        assert_db_plan_valid(session, world.street_id, day)


def _read_back(sessions: sessionmaker[Session], helper_id: int, view: object) -> None:
    """The view an answer returned is the offer as read back afterwards."""
    answered = {k: v for k, v in vars(view).items() if k != "replacement_offers"}
    with sessions() as session:
        assert answered == vars(offers_service.get_offer(session, helper_id, answered["id"]))


def test_answers_return_the_offer_as_it_then_stands(
    sessions: sessionmaker[Session], settings: Settings, day: dt.date
) -> None:
    """An accept's and a decline's answer (built from the offer read before the write and what
    the write changed, not read back) equals the offer read afterwards: on a team of two, and
    on a team of one whose only member declines (its visit may move to the newcomer's start,
    or, with nobody left to ask, the team ends)."""
    decline = offers_service.decline
    _, (stays, leaves) = team_of(sessions, day, 2)
    with sessions() as session:
        _read_back(sessions, stays.helper_id, accept(session, settings, stays.helper_id, stays.id))
    with sessions() as session:
        view = decline(session, settings, leaves.helper_id, leaves.id, "away")
        assert view.replacement_offers == 1 and view.team.pending == 1
        _read_back(sessions, leaves.helper_id, view)
    alone = [members[0] for _, members in sorted(_teams(sessions, day, 1))]
    with sessions() as session:
        view = decline(session, settings, alone[0].helper_id, alone[0].id, "ill")
        _read_back(sessions, alone[0].helper_id, view)
    with sessions() as session:
        session.execute(
            update(HelperRow).where(HelperRow.id != alone[1].helper_id).values(active=False)
        )
        session.commit()
    with sessions() as session:
        view = decline(session, settings, alone[1].helper_id, alone[1].id, "")
        assert view.replacement_offers == 0 and view.assignment_status == "withdrawn"
        assert view.order_status == "open"
        _read_back(sessions, alone[1].helper_id, view)


def _teams(
    sessions: sessionmaker[Session], day: dt.date, size: int
) -> list[tuple[int, list[OfferRow]]]:
    with sessions() as session:
        return [
            (order_id, members)
            for order_id, (_, members) in live_teams(session, day).items()
            if len(members) == size and all(o.status == "pending" for o in members)
        ]


def test_decline_nobody_can_fill_keeps_the_team_and_records_why(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """When nobody can take the declined place, the accepted member stays, the order stays
    offered, and a re-match run records the explanation."""
    order_id, (stays, leaves) = team_of(sessions, day, 2)
    client.post(
        f"/me/offers/{stays.id}/accept", headers=helper_headers(client, sessions, stays.helper_id)
    )
    headers = helper_headers(client, sessions, leaves.helper_id)
    with sessions() as session:
        keep = {stays.helper_id, leaves.helper_id}
        session.execute(update(HelperRow).where(HelperRow.id.not_in(keep)).values(active=False))
        session.commit()
    assert client.post(f"/me/offers/{leaves.id}/decline", headers=headers).status_code == 200
    with sessions() as session:
        _, members = live_teams(session, day)[order_id]
        assert [(o.helper_id, o.status) for o in members] == [(stays.helper_id, "accepted")]
        assert session.get_one(OrderRow, order_id).status == "offered"
        run = session.scalars(select(RunRow).where(RunRow.kind == "rematch")).one()
        why = session.scalars(select(RunUnmatched).where(RunUnmatched.run_id == run.id)).one()
        assert why.order_id == order_id and why.params and why.explanation_zh is None


def test_expiry_rematches_like_a_decline(
    sessions: sessionmaker[Session], settings: Settings, world: World, day: dt.date
) -> None:
    """An offer left past its deadline expires and its place goes to someone else, the accepted
    member kept; the expired helper is not asked again."""
    order_id, (stays, lapses) = team_of(sessions, day, 2)
    with sessions() as session:
        accept(session, settings, stays.helper_id, stays.id)
    later = lapses.respond_by + dt.timedelta(minutes=1)
    with sessions() as session:
        assert expire_due(session, settings, later) >= 1
    with sessions() as session:
        assert session.get_one(OfferRow, lapses.id).status == "expired"
        _, members = live_teams(session, day)[order_id]
        helpers = {o.helper_id: o.status for o in members}
        assert helpers[stays.helper_id] == "accepted" and lapses.helper_id not in helpers
        assert len(helpers) == 2 and "pending" in helpers.values()
        assert_db_plan_valid(session, world.street_id, day)


def test_reminders_are_queued_once(
    sessions: sessionmaker[Session], settings: Settings, day: dt.date
) -> None:
    """Offers close to their deadline get one reminder, however often the clock ticks."""
    settings = settings.model_copy(update={"reminder_before_minutes": 5})
    with sessions() as session:
        offer = session.scalars(select(OfferRow).order_by(OfferRow.id)).first()
        assert offer is not None
        soon = offer.respond_by - dt.timedelta(minutes=4)
        due = session.scalar(
            select(func.count(OfferRow.id)).where(
                OfferRow.status == "pending",
                OfferRow.respond_by > soon,
                OfferRow.respond_by <= soon + dt.timedelta(minutes=5),
            )
        )
    with sessions() as session:
        assert send_reminders(session, settings, soon) == due >= 1
    tick(sessions, settings, soon + dt.timedelta(seconds=30))
    with sessions() as session:
        assert send_reminders(session, settings, soon + dt.timedelta(minutes=1)) == 0
        reminders = session.scalars(
            select(NotificationRow).where(NotificationRow.kind == "reminder")
        ).all()
        assert len(reminders) == due
        assert offer.id in {n.payload["offer"] for n in reminders}


def test_done_once_the_whole_team_accepted(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """A member marks the visit done only when every member accepted; the assignment and order
    become done, ready for staff to confirm; marking twice is harmless."""
    order_id, (first, second) = team_of(sessions, day, 2)
    one = helper_headers(client, sessions, first.helper_id)
    two = helper_headers(client, sessions, second.helper_id)
    assert client.post(f"/me/offers/{first.id}/accept", headers=one).status_code == 200
    url = f"/me/assignments/{first.assignment_id}/done"
    assert client.post(url, headers=one).status_code == 409
    assert client.post(url, headers=two).status_code == 404  # not accepted: not theirs yet
    assert client.post(f"/me/offers/{second.id}/accept", headers=two).status_code == 200
    assert client.post(url, headers=two).status_code == 409  # tomorrow's visit: not yet
    with sessions() as session:  # the visit's day comes
        session.get_one(OrderRow, order_id).date = day - dt.timedelta(days=1)
        session.commit()
    done = client.post(url, headers=two)
    assert done.status_code == 200 and done.json()["assignment_status"] == "done"
    assert client.post(url, headers=one).status_code == 200
    with sessions() as session:
        assignment = session.get_one(AssignmentRow, first.assignment_id)
        assert assignment.status == "done" and assignment.done_by == second.helper_id
        assert assignment.done_at is not None
        assert session.get_one(OrderRow, order_id).status == "done"


# ----------------------------------------------------------------------------- staff


def test_cancel_withdraws_offers_and_tells_members(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """Cancelling withdraws every live offer, queues a cancellation per member, writes the audit
    log; a member who had accepted no longer sees the resident's details."""
    order_id, (first, second) = team_of(sessions, day, 2)
    member = helper_headers(client, sessions, first.helper_id)
    client.post(f"/me/offers/{first.id}/accept", headers=member)
    staff = login(client, "staff")
    response = client.post(f"/orders/{order_id}/cancel", json={"reason": "住院"}, headers=staff)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled" and response.json()["offers_withdrawn"] == 2
    again = client.post(f"/orders/{order_id}/cancel", json={"reason": "x"}, headers=staff)
    assert again.status_code == 409
    seen = client.get(f"/me/offers/{first.id}", headers=member).json()
    assert seen["status"] == "withdrawn" and seen["resident"] is None
    with sessions() as session:
        statuses = {session.get_one(OfferRow, o.id).status for o in (first, second)}
        assert statuses == {"withdrawn"}
        told = session.scalars(
            select(NotificationRow.helper_id).where(NotificationRow.kind == "cancellation")
        ).all()
        assert sorted(told) == sorted([first.helper_id, second.helper_id])
        assert session.scalars(
            select(AuditEntry).where(AuditEntry.action == "order.cancel")
        ).one().entity_id == str(order_id)


def test_reassign_hands_the_order_to_the_picked_team(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """Staff pick a helper from the ranked candidates: the old team is withdrawn and told of the
    change, the picked helper gets a pending offer (source manual), and a later nightly run
    keeps the hand-picked team; a wrong pick is 422."""
    order_id, (old,) = team_of(sessions, day, 1)
    staff = login(client, "staff")
    ranked = client.get(f"/orders/{order_id}/candidates?limit=5", headers=staff)
    assert ranked.status_code == 200, ranked.text
    items = ranked.json()["items"]
    assert items and all(item["why"] for item in items)
    assert [i["km_one_way"] for i in items if not i["in_circle"]] == sorted(
        i["km_one_way"] for i in items if not i["in_circle"]
    )
    pick = next(i["helper_id"] for i in items if i["helper_id"] != old.helper_id)
    bad = client.post(
        f"/orders/{order_id}/reassign", json={"helper_ids": [pick, old.helper_id]}, headers=staff
    )
    assert bad.status_code == 422
    assert client.post(f"/orders/{order_id}/reassign", json={}, headers=staff).status_code == 422
    response = client.post(
        f"/orders/{order_id}/reassign", json={"helper_ids": [pick]}, headers=staff
    )
    assert response.status_code == 200, response.text
    team = response.json()
    assert team["source"] == "manual" and [m["helper_id"] for m in team["members"]] == [pick]
    with sessions() as session:
        assert session.get_one(OfferRow, old.id).status == "withdrawn"
        change = session.scalars(
            select(NotificationRow).where(NotificationRow.kind == "change")
        ).all()
        assert old.id in {n.payload["offer"] for n in change}
        assert session.scalars(
            select(AuditEntry).where(AuditEntry.action == "order.reassign")
        ).one()
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        assignment, members = live_teams(session, day)[order_id]
        assert assignment.id == team["assignment_id"]
        assert [o.helper_id for o in members] == [pick]


def test_staff_of_one_community_cannot_reach_another_communitys_orders(
    client: TestClient, sessions: sessionmaker[Session], world: World, day: dt.date
) -> None:
    """Staff of community 1 get 404 for community 2's orders (candidates, reassign, cancel);
    street staff reach them."""
    second = split_street(sessions, world)
    with sessions() as session:
        order_id = session.scalars(
            select(OrderRow.id)
            .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
            .where(ResidentRow.community_id == second, OrderRow.status == "offered")
        ).first()
        helper_id = session.scalars(select(HelperRow.id)).first()
    c1 = login(client, "staff_c1")
    assert client.get(f"/orders/{order_id}/candidates", headers=c1).status_code == 404
    reassign = client.post(
        f"/orders/{order_id}/reassign", json={"helper_ids": [helper_id]}, headers=c1
    )
    assert reassign.status_code == 404
    cancel = client.post(f"/orders/{order_id}/cancel", json={"reason": "x"}, headers=c1)
    assert cancel.status_code == 404
    with sessions() as session:
        assert session.get_one(OrderRow, order_id).status == "offered"
    staff = login(client, "staff")
    assert client.get(f"/orders/{order_id}/candidates", headers=staff).status_code == 200
    helper = login(client, "helper1")
    assert client.get(f"/orders/{order_id}/candidates", headers=helper).status_code == 404


def test_my_offers_pages_and_filters(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """``/me/offers`` pages (total, page, page_size) and filters by status and date range."""
    helper_id, offers = max(offers_by_helper(sessions).items(), key=lambda kv: len(kv[1]))
    headers = helper_headers(client, sessions, helper_id)
    first = client.get("/me/offers?page=1&page_size=1", headers=headers).json()
    assert (first["total"], first["page"], first["page_size"]) == (len(offers), 1, 1)
    assert len(first["items"]) == 1
    later = (day + dt.timedelta(days=1)).isoformat()
    assert client.get(f"/me/offers?date_from={later}", headers=headers).json()["total"] == 0
    assert client.get("/me/offers?status=accepted", headers=headers).json()["total"] == 0
    assert client.get("/me/offers?status=bogus", headers=headers).status_code == 422
    assert client.get("/me/offers?page=0", headers=headers).status_code == 422


def test_an_offers_notice_is_rendered_from_the_catalogs_in_each_language(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A new offer's notice is stored in zh_CN and in en, each from the catalogs with the item's
    name in that language and the day and start as that language writes them."""
    with sessions() as session:
        order = session.scalars(
            select(OrderRow).where(OrderRow.street_id == world.street_id).order_by(OrderRow.id)
        ).first()
        assert order is not None
        order.window_start, order.window_end = 545, 600
        helper_id = world.helper_ids[0]
        create_assignment(
            session, settings, order, [helper_id], source="manual", start_minute=545
        ).override_reason = "hand-picked to read its notice"  # the team's rules are not the point
        session.commit()
        item = session.get_one(ItemRow, order.item)
        notice = session.scalars(
            select(NotificationRow).where(
                NotificationRow.helper_id == helper_id, NotificationRow.kind == "offer"
            )
        ).one()
        with use_locale("zh_CN"):
            day_zh = format_day(order.date)
        with use_locale("en"):
            day_en = format_day(order.date)
    assert notice.text_zh == f"新的服务邀请：{item.name_zh}，{day_zh} 09:05，请及时回复"
    assert notice.text_en == f"New request: {item.name_en}, {day_en} at 09:05. Please reply."
