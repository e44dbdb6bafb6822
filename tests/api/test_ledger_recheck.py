"""A ledger edit never leaves a helper on a visit they can no longer serve: staff edits take such
visits off them and re-match; a helper's own edit that would rule out a visit they accepted is
refused naming the day (the autouse invariant check then finds every live team within the
matcher's rules)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.store.tables import AuditEntry, HelperRow, NotificationRow, OfferRow, RunRow
from tests.api.conftest import StateContext, database_state, login
from tests.api.loop_support import helper_headers, matched_tomorrow

NO_TIME = [[0, 10]]  # ten minutes a day: no visit fits


def _matched_tomorrow(state: StateContext) -> dt.date:
    """Tomorrow, with every order of the roomy street matched by a nightly run."""
    return matched_tomorrow(state)


day = database_state("day", _matched_tomorrow)


def _offer(sessions: sessionmaker[Session], status: str) -> OfferRow:
    with sessions() as session:
        offer = session.scalars(
            select(OfferRow).where(OfferRow.status == status).order_by(OfferRow.id)
        ).first()
        assert offer is not None
        return offer


def _status(sessions: sessionmaker[Session], offer_id: int) -> str:
    with sessions() as session:
        return session.get_one(OfferRow, offer_id).status


def test_staff_edit_takes_ruled_out_pending_offer_off_and_rematches(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """Staff narrow a helper's day so a pending visit no longer fits: the offer is withdrawn,
    the helper told, the edit audited, the order re-matched at once."""
    offer = _offer(sessions, "pending")
    headers = login(client, "staff")
    answer = client.patch(
        f"/helpers/{offer.helper_id}", json={"availability": NO_TIME}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert _status(sessions, offer.id) == "withdrawn"
    with sessions() as session:
        assert session.scalars(
            select(NotificationRow).where(
                NotificationRow.helper_id == offer.helper_id, NotificationRow.kind == "change"
            )
        ).first()
        audited = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "helper.offers_released")
        ).one()
        released = audited.detail["withdrawn_offers"]
        assert offer.id in released  # with every other visit of theirs (none fits ten minutes)
        assert {session.get_one(OfferRow, o).status for o in released} == {"withdrawn"}
        assert session.scalars(select(RunRow).where(RunRow.trigger == "ledger")).first()


def test_staff_edit_takes_ruled_out_accepted_visit_off(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """An accepted member whose skills staff take away is taken off the visit (the ledger is
    the office's word) and the place re-matched."""
    pending = _offer(sessions, "pending")
    mine = helper_headers(client, sessions, pending.helper_id)
    assert client.post(f"/me/offers/{pending.id}/accept", headers=mine).status_code == 200
    staff = login(client, "staff")
    answer = client.patch(f"/helpers/{pending.helper_id}", json={"skills": []}, headers=staff)
    assert answer.status_code == 200, answer.text
    with sessions() as session:
        needs_skills = session.get_one(OfferRow, pending.id).assignment.order.item
    # every catalogue item of the tiny street needs a skill: the visit is ruled out
    assert needs_skills and _status(sessions, pending.id) == "withdrawn"


def test_own_edit_ruling_out_an_accepted_visit_is_refused_and_changes_nothing(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """A helper's own edit that would leave a visit they accepted impossible answers 409
    naming the day; their profile and the visit stay as they were."""
    offer = _offer(sessions, "pending")
    headers = helper_headers(client, sessions, offer.helper_id)
    assert client.post(f"/me/offers/{offer.id}/accept", headers=headers).status_code == 200
    with sessions() as session:
        before = session.get_one(HelperRow, offer.helper_id).availability
    answer = client.patch("/me", json={"availability": NO_TIME}, headers=headers)
    assert answer.status_code == 409, answer.text
    assert day.isoformat() in answer.json()["detail"]
    assert _status(sessions, offer.id) == "accepted"
    with sessions() as session:
        assert session.get_one(HelperRow, offer.helper_id).availability == before


def test_own_edit_withdraws_pending_offers_it_rules_out_and_keeps_the_rest(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """A helper's own edit saves; a pending offer it rules out is withdrawn. A phone change
    leaves every offer as it was."""
    offer = _offer(sessions, "pending")
    headers = helper_headers(client, sessions, offer.helper_id)
    assert client.patch("/me", json={"phone": "13800000000"}, headers=headers).status_code == 200
    assert _status(sessions, offer.id) == "pending"
    answer = client.patch("/me", json={"availability": NO_TIME}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["availability"] == NO_TIME
    assert _status(sessions, offer.id) == "withdrawn"


def test_db_check_binds_rules_from_today_on_when_told_the_day(
    sessions: sessionmaker[Session], day: dt.date
) -> None:
    """A visit before ``today`` was checked when given out: after its helper's day changes the
    checker flags it only when asked about every day, not from today on."""
    from api.services.matching.invariants import check_database

    offer = _offer(sessions, "pending")
    with sessions() as session:
        session.get_one(HelperRow, offer.helper_id).availability = NO_TIME  # no re-check here
        session.commit()
        assert any(v.code == "rule_availability" for v in check_database(session))
        assert check_database(session, today=day + dt.timedelta(days=1)) == []
        session.get_one(HelperRow, offer.helper_id).availability = [[0, 1440]]
        session.commit()
