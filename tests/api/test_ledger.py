"""The ledger through the API: lists with filters, search and pages; what each role may see;
audited reads; changes; soft deactivation with the offers it withdraws; a helper's own profile;
the catalogue, places and audit log reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.services.actor import Actor
from api.services.ledger.people import deactivate_helper, deactivate_resident
from api.services.offers.assign import create_assignment
from api.settings import Settings
from api.store.tables import (
    AssignmentRow,
    AuditEntry,
    Community,
    Grid,
    HelperRow,
    NotificationRow,
    OfferRow,
    OrderRow,
    ResidentRow,
)
from tests.api.conftest import World, actor_named, login

NOW = dt.datetime(2026, 11, 20, 2, 0)  # Friday 10:00 in Shanghai; DATE is the Monday after
PERSONAL = {"name", "phone", "address", "lat", "lon", "id_card_tail", "circle", "blocked_residents"}


@dataclass(frozen=True)
class Other:
    """A second community of the street, with one grid, one helper and one resident."""

    community_id: int
    grid_id: int
    helper_id: int
    resident_id: int


def add_community(sessions: sessionmaker[Session], street_id: int) -> Other:
    """Add 白塔社区 (code C99, grid 第1网格) with helper X-H1 and resident X-R1."""
    with sessions() as session:
        community = Community(street_id=street_id, code="C99", name="白塔社区")
        session.add(community)
        session.flush()
        grid = Grid(community_id=community.id, code="G01", name="第1网格")
        session.add(grid)
        session.flush()
        place = {"street_id": street_id, "community_id": community.id, "grid_id": grid.id}
        helper = HelperRow(
            code="X-H1", name="白塔志愿者", kind="nurse", lat=40.85, lon=111.76, **place
        )
        resident = ResidentRow(
            code="X-R1",
            name="白塔居民",
            category="living_alone",
            lat=40.851,
            lon=111.761,
            phone="13900000000",
            **place,
        )
        session.add_all([helper, resident])
        session.commit()
        return Other(community.id, grid.id, helper.id, resident.id)


@pytest.fixture
def other(sessions: sessionmaker[Session], world: World) -> Other:
    return add_community(sessions, world.street_id)


def actor_of(sessions: sessionmaker[Session], username: str) -> Actor:
    with sessions() as session:
        return actor_named(session, username)


def audit_entries(sessions: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(session.scalars(query))


# ----------------------------------------------------------------------------- lists


def test_helper_list_pages_through_the_whole_scope(client: TestClient, world: World) -> None:
    """Pages of 7 cover every helper exactly once, and ``total`` counts them all."""
    headers = login(client, "staff")
    seen: list[int] = []
    for page in range(1, 6):
        body = client.get("/helpers", headers=headers, params={"page": page, "page_size": 7}).json()
        assert body["total"] == len(world.helper_ids) and body["page"] == page
        seen += [item["id"] for item in body["items"]]
    assert seen == world.helper_ids


def test_helper_filters_narrow_the_list(client: TestClient, sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    """Kind, skill, grid, active and a name search each keep exactly the matching helpers."""
    headers = login(client, "staff")
    with sessions() as session:
        helpers = list(session.scalars(select(HelperRow).order_by(HelperRow.id)))

    def ids(**params: object) -> list[int]:
        body = client.get("/helpers", headers=headers, params={**params, "page_size": 200}).json()
        return [item["id"] for item in body["items"]]

    assert ids(kind="party_member") == [h.id for h in helpers if h.kind == "party_member"]
    assert ids(skill="cooking") == [h.id for h in helpers if "cooking" in h.skills]
    assert ids(skill="care") == []  # a whole code, never a part of one
    grid = helpers[0].grid_id
    assert ids(grid_id=grid) == [h.id for h in helpers if h.grid_id == grid]
    assert ids(q=helpers[3].name[:2]) == [h.id for h in helpers if helpers[3].name[:2] in h.name]
    assert ids(q=helpers[5].code) == [helpers[5].id]
    client.post(f"/helpers/{helpers[0].id}/deactivate", headers=headers)
    assert ids(active=False) == [helpers[0].id]
    assert len(ids(active=True)) == len(helpers) - 1


def test_resident_search_by_id_card_tail(client: TestClient, sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    """``q`` equal to an ID-card tail finds the residents with that tail."""
    with sessions() as session:
        resident = session.scalars(select(ResidentRow).order_by(ResidentRow.id)).first()
        assert resident is not None
        same_tail = set(
            session.scalars(
                select(ResidentRow.id).where(ResidentRow.id_card_tail == resident.id_card_tail)
            )
        )
    body = client.get(
        "/residents", headers=login(client, "staff"), params={"q": resident.id_card_tail}
    ).json()
    assert {item["id"] for item in body["items"]} == same_tail


def test_planner_lists_without_personal_data(client: TestClient, sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    """A planner's lists carry no name, phone, address, location or ID-card tail, and a name
    search finds nothing (only ledger codes are searched)."""
    headers = login(client, "planner")
    for path in ("/helpers", "/residents"):
        body = client.get(path, headers=headers).json()
        assert body["total"] == 30
        for item in body["items"]:
            assert item["view"] == "public"
            assert not PERSONAL & set(item), PERSONAL & set(item)
    with sessions() as session:
        resident = session.scalars(select(ResidentRow).order_by(ResidentRow.id)).first()
        assert resident is not None
    by_name = client.get("/residents", headers=headers, params={"q": resident.name}).json()
    by_code = client.get("/residents", headers=headers, params={"q": resident.code}).json()
    assert by_name["total"] == 0 and by_code["total"] == 1
    assert client.get(f"/residents/{resident.id}", headers=headers).status_code == 403
    assert audit_entries(sessions, "resident.list") == []  # nothing personal was shown


# ----------------------------------------------------------------------------- role boundaries


def test_community_staff_see_only_their_community(
    client: TestClient,
    sessions,
    world: World,
    other: Other,  # type: ignore[no-untyped-def]
) -> None:
    """Staff of community 1 get 404 for a resident or helper of community 2 and never list
    them; street-wide staff read both."""
    c1, street = login(client, "staff_c1"), login(client, "staff")
    assert client.get(f"/residents/{other.resident_id}", headers=c1).status_code == 404
    assert client.get(f"/helpers/{other.helper_id}", headers=c1).status_code == 404
    patch = client.patch(f"/residents/{other.resident_id}", headers=c1, json={"name": "改"})
    assert patch.status_code == 404
    listed = client.get("/residents", headers=c1, params={"page_size": 200}).json()
    assert other.resident_id not in {item["id"] for item in listed["items"]}
    assert listed["total"] == 30
    assert client.get(f"/residents/{other.resident_id}", headers=street).status_code == 200
    with sessions() as session:
        assert session.get_one(ResidentRow, other.resident_id).name == "白塔居民"


def test_helpers_and_residents_get_404_on_the_ledger(client: TestClient, world: World) -> None:
    """A helper account learns nothing about the ledger: every ledger route answers 404."""
    headers = login(client, "helper1")
    for path in ("/residents", "/residents/1", "/helpers", "/helpers/2", "/audit"):
        assert client.get(path, headers=headers).status_code == 404, path


def test_resident_reads_are_audited(client: TestClient, sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    """Reading a resident's details writes ``resident.read`` naming the staff member; a list
    page writes one ``resident.list`` naming the residents shown."""
    headers = login(client, "staff")
    staff = actor_of(sessions, "staff")
    assert client.get("/residents/3", headers=headers).json()["id"] == 3
    reads = audit_entries(sessions, "resident.read")
    assert [(e.user_id, e.entity, e.entity_id) for e in reads] == [(staff.user_id, "resident", "3")]
    page = client.get("/residents", headers=headers, params={"page_size": 4}).json()
    listed = audit_entries(sessions, "resident.list")
    assert [e.detail["ids"] for e in listed] == [[item["id"] for item in page["items"]]]
    found = client.get("/audit", headers=headers, params={"action": "resident.read"}).json()
    assert [(e["username"], e["entity_id"]) for e in found["items"]] == [("staff", "3")]


# ----------------------------------------------------------------------------- changes


def new_helper(world: World, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "code": "N-001",
        "community_id": world.communities[0],
        "name": "新志愿者",
        "phone": "13800000000",
        "kind": "nurse",
        "skills": ["nursing", "companionship"],
        "lat": 40.84,
        "lon": 111.75,
        "availability": [[840, 1020], [480, 690]],
    }
    return body | changes


def test_create_and_change_a_helper(client: TestClient, sessions, world: World) -> None:  # type: ignore[no-untyped-def]
    """A new helper is stored as sent (windows sorted, skills sorted); a PATCH changes only the
    fields sent; both are audited, the change by field name only."""
    headers = login(client, "staff")
    created = client.post("/helpers", headers=headers, json=new_helper(world))
    assert created.status_code == 201, created.text
    helper = created.json()
    assert helper["availability"] == [[480, 690], [840, 1020]]
    assert helper["skills"] == ["companionship", "nursing"]
    changed = client.patch(
        f"/helpers/{helper['id']}", headers=headers, json={"phone": "13911112222", "grid_id": None}
    ).json()
    assert changed["phone"] == "13911112222" and changed["name"] == "新志愿者"
    assert [e.entity_id for e in audit_entries(sessions, "helper.create")] == [str(helper["id"])]
    assert [e.detail for e in audit_entries(sessions, "helper.update")] == [{"fields": ["phone"]}]


def test_bad_helper_bodies_are_refused(client: TestClient, world: World, other: Other) -> None:
    """A taken code is 409; unknown skill, a grid of another community, overlapping windows,
    a null name and a community outside the scope are 422, naming the field."""
    headers = login(client, "staff")
    assert client.post("/helpers", headers=headers, json=new_helper(world)).status_code == 201
    cases = [
        ("staff", new_helper(world), 409, "code"),
        ("staff", new_helper(world, code="N-2", skills=["juggling"]), 422, "skills"),
        ("staff", new_helper(world, code="N-3", grid_id=other.grid_id), 422, "grid_id"),
        ("staff", new_helper(world, code="N-4", availability=[[0, 600], [500, 700]]), 422, None),
        ("staff_c1", new_helper(world, code="N-5", community_id=other.community_id), 422, None),
    ]
    for user, body, status, field in cases:
        response = client.post("/helpers", headers=login(client, user), json=body)
        assert response.status_code == status, (body, response.text)
        if field is not None:
            assert field in response.text
    null_name = client.patch("/helpers/1", headers=headers, json={"name": None})
    assert null_name.status_code == 422
    assert null_name.json()["errors"][0]["field"] == "name"


def test_staff_cannot_create_outside_their_community(
    client: TestClient,
    sessions,
    world: World,
    other: Other,  # type: ignore[no-untyped-def]
) -> None:
    """Community staff adding a resident to another community get 422 and nothing is stored."""
    body = {
        "code": "N-R1",
        "community_id": other.community_id,
        "name": "某人",
        "category": "disability",
        "lat": 40.8,
        "lon": 111.7,
    }
    response = client.post("/residents", headers=login(client, "staff_c1"), json=body)
    assert response.status_code == 422
    with sessions() as session:
        assert session.scalar(select(ResidentRow.id).where(ResidentRow.code == "N-R1")) is None
    assert client.post("/residents", headers=login(client, "staff"), json=body).status_code == 201


# ----------------------------------------------------------------------------- deactivation


def test_deactivating_a_helper_withdraws_their_offers(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A deactivated helper keeps their history; their pending offer is withdrawn, they are
    told, and the order, left with nobody, goes back to matching."""
    with sessions() as session:
        helper = world.helper_ids[0]
        order = session.scalars(select(OrderRow).order_by(OrderRow.id)).first()
        assert order is not None
        create_assignment(
            session, settings, order, [helper], source="manual", start_minute=None, now=NOW
        )
        session.commit()
        order_id = order.id
    with sessions() as session:
        view = deactivate_helper(session, settings, actor_of(sessions, "staff"), helper, now=NOW)
    assert view.active is False and view.deactivated_at == NOW
    with sessions() as session:
        offer = session.scalars(select(OfferRow).where(OfferRow.helper_id == helper)).one()
        assert offer.status == "withdrawn"
        assert session.get_one(OrderRow, order_id).status in ("open", "offered")
        live = session.scalars(
            select(OfferRow)
            .join(AssignmentRow)
            .where(AssignmentRow.order_id == order_id, OfferRow.status == "pending")
        ).all()
        assert helper not in [o.helper_id for o in live]  # any new offer went to someone else
        kinds = session.scalars(
            select(NotificationRow.kind).where(NotificationRow.helper_id == helper)
        ).all()
        assert kinds == ["offer", "cancellation"]
        assert session.get(HelperRow, helper) is not None  # never deleted
    entries = audit_entries(sessions, "helper.deactivate")
    assert [e.detail["withdrawn_offers"] for e in entries] == [[offer.id]]


def test_deactivating_a_resident_cancels_their_future_orders(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A deactivated resident's orders from today on are cancelled, their teams withdrawn;
    deactivating again changes nothing."""
    with sessions() as session:
        order = session.scalars(select(OrderRow).order_by(OrderRow.id)).first()
        assert order is not None
        create_assignment(
            session,
            settings,
            order,
            [world.helper_ids[1]],
            source="manual",
            start_minute=None,
            now=NOW,
        )
        session.commit()
        resident_id, order_id = order.resident_id, order.id
        expected = set(
            session.scalars(select(OrderRow.id).where(OrderRow.resident_id == resident_id))
        )
    staff = actor_of(sessions, "staff")
    with sessions() as session:
        assert deactivate_resident(session, settings, staff, resident_id, now=NOW).active is False
    with sessions() as session:
        deactivate_resident(session, settings, staff, resident_id, now=NOW)
    with sessions() as session:
        statuses = session.scalars(
            select(OrderRow.status).where(OrderRow.resident_id == resident_id)
        ).all()
        assert set(statuses) == {"cancelled"} and len(statuses) == len(expected)
        assignment = session.scalars(
            select(AssignmentRow).where(AssignmentRow.order_id == order_id)
        ).one()
        assert assignment.status == "withdrawn"
        assert session.scalar(select(func.count()).select_from(ResidentRow)) == 30
    assert len(audit_entries(sessions, "resident.deactivate")) == 1


# ----------------------------------------------------------------------------- a helper's own


def test_helper_reads_and_changes_their_own_profile(client: TestClient, world: World) -> None:
    """/me is the helper's own record; they may change phone, availability and radius within
    20 km, and nothing else."""
    headers = login(client, "helper2")
    me = client.get("/me", headers=headers).json()
    assert me["id"] == world.helper_ids[1] and me["view"] == "full"
    too_far = client.patch("/me", headers=headers, json={"radius_km": 30})
    assert too_far.status_code == 422
    assert client.patch("/me", headers=headers, json={"name": "别人"}).status_code == 422
    changed = client.patch(
        "/me", headers=headers, json={"radius_km": 5, "availability": [[480, 720]]}
    ).json()
    assert changed["radius_km"] == 5 and changed["availability"] == [[480, 720]]
    assert client.get("/me", headers=headers).json()["radius_km"] == 5
    assert client.get("/me", headers=login(client, "staff")).status_code == 403


# ----------------------------------------------------------------------------- reads for all


def test_catalogue_and_communities_for_any_account(
    client: TestClient, world: World, other: Other
) -> None:
    """Any logged-in account reads the catalogue and its street's communities with grids."""
    for user in ("helper1", "planner", "staff_c1"):
        headers = login(client, user)
        catalogue = client.get("/catalogue", headers=headers).json()
        assert {"nursing", "companionship"} <= {s["code"] for s in catalogue["skills"]}
        assert len(catalogue["items"]) == 49
        assert {"code": "doctor", "name_zh": "医生", "name_en": "Doctor"} in catalogue[
            "helper_kinds"
        ]
        places = client.get("/communities", headers=headers).json()
        assert [c["name"] for c in places] == ["青山社区", "白塔社区"]
        assert [g["name"] for g in places[1]["grids"]] == ["第1网格"]


def test_audit_log_filters_and_scope(client: TestClient, world: World) -> None:
    """Street staff filter the audit log by action and user; community staff get 403."""
    headers = login(client, "staff")
    client.get("/residents/1", headers=headers)
    client.get("/residents/2", headers=headers)
    client.patch("/helpers/1", headers=headers, json={"phone": "13800001111"})
    reads = client.get("/audit", headers=headers, params={"action": "resident.read"}).json()
    assert [e["entity_id"] for e in reads["items"]] == ["2", "1"]  # newest first
    changes = client.get("/audit", headers=headers, params={"entity": "helper"}).json()
    assert [e["action"] for e in changes["items"]] == ["helper.update"]
    user_id = reads["items"][0]["user_id"]
    mine = client.get("/audit", headers=headers, params={"user_id": user_id, "page_size": 1})
    assert mine.json()["total"] == 3 and len(mine.json()["items"]) == 1
    assert client.get("/audit", headers=login(client, "staff_c1")).status_code == 403
