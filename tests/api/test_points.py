"""The points ledger: bonuses and reversals add up, corrections are reversing entries at most
once, the database itself refuses UPDATE and DELETE, and who may read or write points."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from api.services.closing.points import balance, grant_bonus
from api.services.hours import totals
from api.services.ledger.seed import seed_street
from api.settings import Settings
from api.store.tables import HelperRow, PointsEntry
from matcher.generator import preset
from tests.api.conftest import World, login
from tests.api.test_closing import done_order
from tests.api.test_orders import actor_for


def bonus(client: TestClient, headers: dict[str, str], helper_id: int, amount: int) -> dict:  # type: ignore[type-arg]
    body = {"helper_id": helper_id, "amount": amount, "reason": "社区活动 / community day"}
    response = client.post("/points/bonus", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def entry_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(PointsEntry)) or 0


def test_bonus_and_reversal_arithmetic(client: TestClient, world: World) -> None:
    """10 + 5 - 10 (the reversal of the first) leaves 5; the history shows who reversed what."""
    helper_id = world.helper_ids[0]
    staff = login(client, "staff")
    first = bonus(client, staff, helper_id, 10)
    bonus(client, staff, helper_id, 5)
    reversal = client.post(
        f"/points/{first['id']}/reverse", json={"reason": "记错了"}, headers=staff
    )
    assert reversal.status_code == 201, reversal.text
    assert (reversal.json()["amount"], reversal.json()["reverses_id"]) == (-10, first["id"])
    points = client.get(f"/helpers/{helper_id}/points", headers=staff).json()
    assert points["balance"] == 5
    assert [(e["kind"], e["amount"]) for e in points["items"]] == [
        ("reversal", -10),
        ("bonus", 5),
        ("bonus", 10),
    ]
    assert points["items"][2]["reversed_by"] == reversal.json()["id"]
    mine = client.get("/me/points", headers=login(client, "helper1")).json()
    assert mine["balance"] == 5 and mine["total"] == 3


def test_base_points_and_bonus_add_up(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A confirmed visit's base points and a bonus for it sum in the balance."""
    order_id, team = done_order(sessions, settings, world)
    staff = login(client, "staff")
    assert client.post(f"/orders/{order_id}/confirm", headers=staff).status_code == 200
    body = {"helper_id": team[1], "amount": 7, "reason": "表现突出", "order_id": order_id}
    assert client.post("/points/bonus", json=body, headers=staff).status_code == 201
    with sessions() as session:
        assert (balance(session, team[0]), balance(session, team[1])) == (25, 32)


def test_an_entry_is_reversed_at_most_once(client: TestClient, world: World) -> None:
    """Reversing twice is 409; reversing a reversal is 422; the balance stays right."""
    helper_id = world.helper_ids[0]
    staff = login(client, "staff")
    entry = bonus(client, staff, helper_id, 8)
    first = client.post(f"/points/{entry['id']}/reverse", json={"reason": "错"}, headers=staff)
    second = client.post(f"/points/{entry['id']}/reverse", json={"reason": "错"}, headers=staff)
    assert (first.status_code, second.status_code) == (201, 409)
    back = client.post(f"/points/{first.json()['id']}/reverse", json={"reason": "x"}, headers=staff)
    assert back.status_code == 422
    assert client.get(f"/helpers/{helper_id}/points", headers=staff).json()["balance"] == 0
    missing = client.post("/points/999999/reverse", json={"reason": "x"}, headers=staff)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -3}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": "5"}, "amount"),
        ({"reason": ""}, "reason"),
        ({"helper_id": None}, "helper_id"),
    ],
)
def test_bad_bonuses_get_422_naming_the_field(
    client: TestClient,
    sessions: sessionmaker[Session],
    world: World,
    change: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    """Bonuses are whole positive points with a reason; a bad one writes nothing."""
    body = {"helper_id": world.helper_ids[0], "amount": 5, "reason": "好"} | change
    response = client.post("/points/bonus", json=body, headers=login(client, "staff"))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert entry_count(sessions) == 0


def test_bonus_for_an_unknown_order_writes_nothing(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """A bonus naming an order that does not exist is 404 and leaves the ledger untouched."""
    body = {"helper_id": world.helper_ids[0], "amount": 5, "reason": "好", "order_id": 999999}
    response = client.post("/points/bonus", json=body, headers=login(client, "staff"))
    assert response.status_code == 404
    assert entry_count(sessions) == 0


def test_the_database_refuses_update_and_delete(
    sessions: sessionmaker[Session], world: World
) -> None:
    """The points ledger is append-only in the database itself, not only in the service."""
    with sessions() as session:
        entry = grant_bonus(session, actor_for(session, "staff"), world.helper_ids[0], 3, "好")
    for statement in (
        "UPDATE points_entries SET amount = 300 WHERE id = :id",
        "DELETE FROM points_entries WHERE id = :id",
    ):
        with sessions() as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement), {"id": entry.id})
            session.commit()
    with sessions() as session:
        assert balance(session, world.helper_ids[0]) == 3


def test_helpers_read_only_their_own_points(client: TestClient, world: World) -> None:
    """A helper reads /me/points; another helper's points and every write are 404 to them."""
    staff = login(client, "staff")
    bonus(client, staff, world.helper_ids[1], 4)
    helper = login(client, "helper1")
    mine = client.get("/me/points", headers=helper).json()
    assert (mine["helper_id"], mine["balance"], mine["items"]) == (world.helper_ids[0], 0, [])
    other = world.helper_ids[1]
    assert client.get(f"/helpers/{other}/points", headers=helper).status_code == 404
    body = {"helper_id": world.helper_ids[0], "amount": 100, "reason": "me"}
    assert client.post("/points/bonus", json=body, headers=helper).status_code == 404
    assert client.post("/points/1/reverse", json={"reason": "x"}, headers=helper).status_code == 404
    assert client.get("/me/points", headers=staff).status_code == 403


def test_staff_reach_only_their_streets_helpers(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """Another street's helper is 404 to staff: no reading, no bonus, no reversal."""
    with sessions() as session:
        seed_street(session, preset("tiny", seed=2), code="east", with_orders=False)
        session.commit()
        stranger = session.scalars(
            select(HelperRow.id).where(HelperRow.code.startswith("east-"))
        ).first()
        foreign_entry = PointsEntry(helper_id=stranger, amount=9, kind="bonus", reason="east")
        session.add(foreign_entry)
        session.flush()
        totals.add_points(session, [foreign_entry.id])  # as the ledger's writers do
        session.commit()
    staff = login(client, "staff")
    assert client.get(f"/helpers/{stranger}/points", headers=staff).status_code == 404
    body = {"helper_id": stranger, "amount": 5, "reason": "x"}
    assert client.post("/points/bonus", json=body, headers=staff).status_code == 404
    reverse = client.post(
        f"/points/{foreign_entry.id}/reverse", json={"reason": "x"}, headers=staff
    )
    assert reverse.status_code == 404
    assert entry_count(sessions) == 1
