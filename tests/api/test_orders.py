"""Orders: placing them (staff for residents in scope, resident accounts for themselves),
recurring series and their dated occurrences, listing with filters and pages, reading one."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.actor import Actor
from api.services.errors import BadInput, NotFound
from api.services.matching.nightly import run_nightly
from api.services.offers.answers import accept, mark_done
from api.services.offers.assign import create_assignment, local_today, to_utc
from api.services.orders import (
    OrderSpec,
    SeriesSpec,
    end_series,
    materialize_series,
    place_order,
    place_series,
)
from api.settings import Settings
from api.store.tables import (
    AuditEntry,
    Community,
    OfferRow,
    OrderRow,
    ResidentRow,
    Street,
)
from tests.api.conftest import DATE, PASSWORD, World, actor_named, login

NOW = dt.datetime(2026, 11, 20, 2, 0)  # Friday 10:00 in Shanghai; DATE is the Monday after


# ----------------------------------------------------------------------------- shared helpers


def actor_for(session: Session, username: str) -> Actor:
    """The Actor a route would see for ``username``."""
    return actor_named(session, username)


def first_resident(session: Session, world: World) -> ResidentRow:
    return session.scalars(
        select(ResidentRow)
        .where(ResidentRow.community_id == world.communities[0])
        .order_by(ResidentRow.id)
    ).first()  # type: ignore[return-value]


# Tests that hand a team out directly (not through reassign) mark it as a staff override, so
# the after-test invariant check does not hold it to the matching rules.
HAND_PICKED = "tests: team given by hand"


def new_order(
    session: Session,
    settings: Settings,
    resident_id: int,
    item: str = "L01",
    date: dt.date = DATE,
) -> OrderRow:
    """A one-off order placed by street staff at NOW (60-minute window 09:00-10:00)."""
    spec = OrderSpec(
        item=item, date=date, resident_id=resident_id, window_start=540, window_end=600
    )
    view = place_order(session, settings, actor_for(session, "staff"), spec, now=NOW)
    return session.get_one(OrderRow, view.id)


def finish(
    session: Session,
    settings: Settings,
    order: OrderRow,
    helper_ids: list[int],
    now: dt.datetime | None = None,
) -> None:
    """Give ``order`` to a team who all accepted, and have its first member mark it done on the
    visit's day (``now``: by default 10:00 street time that day)."""
    assignment = create_assignment(
        session,
        settings,
        order,
        helper_ids,
        source="manual",
        start_minute=order.window_start,
        accepted=helper_ids,
        now=NOW,
    )
    assignment.override_reason = HAND_PICKED  # given without the matcher's check
    session.commit()
    on_the_day = now or to_utc(settings, order.date, 600)
    mark_done(session, settings, helper_ids[0], assignment.id, now=on_the_day)
    session.refresh(order)
    assert order.status == "done"


def make_other_resident(sessions: sessionmaker[Session], world: World) -> int:
    """A resident in a second community of the street, which staff_c1 may not see."""
    with sessions() as session:
        community = Community(street_id=world.street_id, code="C99", name="远山社区")
        session.add(community)
        session.flush()
        template = first_resident(session, world)
        resident = ResidentRow(
            code="R-other",
            street_id=world.street_id,
            community_id=community.id,
            name="赵远山",
            category=template.category,
            lat=template.lat,
            lon=template.lon,
        )
        session.add(resident)
        session.commit()
        return resident.id


def make_resident_account(sessions: sessionmaker[Session], world: World) -> int:
    """A resident login ``resident1`` for the first resident; returns that resident's id."""
    with sessions() as session:
        resident_id = first_resident(session, world).id
        add_user(session, "resident1", PASSWORD, "resident", resident_id=resident_id)
        session.commit()
        return resident_id


@pytest.fixture
def other_resident(sessions: sessionmaker[Session], world: World) -> int:
    return make_other_resident(sessions, world)


@pytest.fixture
def resident_account(sessions: sessionmaker[Session], world: World) -> int:
    return make_resident_account(sessions, world)


def fields_named(response: Any) -> set[str]:
    """The fields a 422 answer blames, from pydantic's list or a service's single field."""
    body = response.json()
    named = {e["field"] for e in body.get("errors", [])}
    return named | ({body["field"]} if body.get("field") else set())


def tomorrow(settings: Settings) -> str:
    return (local_today(settings) + dt.timedelta(days=1)).isoformat()


def count_orders(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(OrderRow)) or 0


# ----------------------------------------------------------------------------- placing


def test_staff_place_an_order_for_a_resident_in_scope(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Street staff place an order: 201, status open, the resident named, an audit entry."""
    with sessions() as session:
        resident = first_resident(session, world)
    body = {"resident_id": resident.id, "item": "L01", "date": tomorrow(settings)}
    body |= {"window_start": 540, "window_end": 600, "priority": 2}
    response = client.post("/orders", json=body, headers=login(client, "staff"))
    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["status"], order["resident_name"], order["priority"]) == (
        "open",
        resident.name,
        2,
    )
    with sessions() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "order.place", AuditEntry.entity_id == str(order["id"])
            )
        ).one()
        assert entry.detail["resident"] == resident.id


def test_community_staff_cannot_place_for_another_community(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, other_resident: int
) -> None:
    """Staff of community 1 get 404 for a resident of another community; nothing is written."""
    before = count_orders(sessions)
    body = {"resident_id": other_resident, "item": "L01", "date": tomorrow(settings)}
    response = client.post("/orders", json=body, headers=login(client, "staff_c1"))
    assert response.status_code == 404
    assert count_orders(sessions) == before
    street_staff = client.post("/orders", json=body, headers=login(client, "staff"))
    assert street_staff.status_code == 201


def test_resident_account_orders_only_for_itself(
    client: TestClient, settings: Settings, resident_account: int, other_resident: int
) -> None:
    """A resident account's order is its own; naming another resident is 404."""
    headers = login(client, "resident1")
    own = client.post("/orders", json={"item": "L04", "date": tomorrow(settings)}, headers=headers)
    assert own.status_code == 201, own.text
    assert own.json()["resident_id"] == resident_account
    body = {"resident_id": other_resident, "item": "L04", "date": tomorrow(settings)}
    assert client.post("/orders", json=body, headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"priority": 9}, "priority"),
        ({"window_start": -5, "window_end": 600}, "window_start"),
        ({"window_start": 540, "window_end": 1500}, "window_end"),
        ({"window_start": 540, "window_end": 570}, "window_end"),  # L01 takes 60 minutes
        ({"window_start": 540}, "window_end"),
        ({"date": "not-a-date"}, "date"),
        ({"date": None}, "date"),
        ({"item": "NOPE"}, "item"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_bodies_get_422_naming_the_field(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    change: dict[str, Any],
    field: str,
) -> None:
    """Each bad field of an order is refused with 422 naming it, and nothing is written."""
    with sessions() as session:
        resident_id = first_resident(session, world).id
    before = count_orders(sessions)
    body = {"resident_id": resident_id, "item": "L01", "date": tomorrow(settings)} | change
    response = client.post("/orders", json=body, headers=login(client, "staff"))
    assert response.status_code == 422, response.text
    assert field in fields_named(response)
    assert count_orders(sessions) == before


def test_past_dates_are_refused(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Yesterday (local date) is refused; today is accepted."""
    with sessions() as session:
        resident_id = first_resident(session, world).id
    headers = login(client, "staff")
    today = local_today(settings)
    for date, status in ((today - dt.timedelta(days=1), 422), (today, 201)):
        body = {"resident_id": resident_id, "item": "L04", "date": date.isoformat()}
        response = client.post("/orders", json=body, headers=headers)
        assert response.status_code == status, response.text
    assert "date" in fields_named(
        client.post("/orders", json=body | {"date": "2000-01-01"}, headers=headers)
    )


def test_deactivated_resident_and_inactive_item_are_refused(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Orders need an active resident and an active catalogue item."""
    with sessions() as session:
        resident = first_resident(session, world)
        resident.active = False
        session.commit()
        with pytest.raises(BadInput) as error:
            new_order(session, settings, resident.id)
        assert error.value.field == "resident_id"


def test_helpers_get_404_on_order_routes(client: TestClient, world: World) -> None:
    """A helper learns nothing from the order routes: every one answers 404."""
    headers = login(client, "helper1")
    assert client.get("/orders", headers=headers).status_code == 404
    assert client.get("/orders/1", headers=headers).status_code == 404
    assert client.post("/orders", json={}, headers=headers).status_code == 404
    assert client.get("/order-series", headers=headers).status_code == 404
    assert client.post("/order-series/1/end", headers=headers).status_code == 404


# ----------------------------------------------------------------------------- recurring


def test_series_produces_the_right_occurrences_idempotently(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Every Tuesday and Thursday: the week ahead at once, later dates on demand, never twice."""
    with sessions() as session:
        resident = first_resident(session, world)
        spec = SeriesSpec(
            item="L01",
            weekdays=[1, 3],
            start_date=NOW.date(),
            end_date=dt.date(2026, 12, 10),
            resident_id=resident.id,
            window_start=540,
            window_end=600,
        )
        series = place_series(session, settings, actor_for(session, "staff"), spec, now=NOW)
        dates = sorted(
            session.scalars(select(OrderRow.date).where(OrderRow.series_id == series.id))
        )
        assert dates == [dt.date(2026, 11, 24), dt.date(2026, 11, 26)]
        tuesday = dt.date(2026, 12, 1)
        for date, expected in ((tuesday, 1), (tuesday, 0), (dt.date(2026, 12, 2), 0)):
            created = materialize_series(session, world.street_id, date, now=NOW)
            session.commit()
            assert len(created) == expected, date
        assert materialize_series(session, world.street_id, dt.date(2026, 12, 15)) == []
        occurrence = session.scalars(
            select(OrderRow).where(OrderRow.series_id == series.id, OrderRow.date == tuesday)
        ).one()
        assert (occurrence.window_start, occurrence.window_end, occurrence.item) == (
            540,
            600,
            "L01",
        )


def test_ended_series_keeps_its_occurrences_and_makes_no_more(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Stopping a series leaves the orders it made; the nightly run adds none after."""
    with sessions() as session:
        resident = first_resident(session, world)
        spec = SeriesSpec(item="L04", weekdays=[0], start_date=NOW.date(), resident_id=resident.id)
        staff = actor_for(session, "staff")
        series = place_series(session, settings, staff, spec, now=NOW)
        assert series.occurrences == 1  # Monday 23 November
        ended = end_series(session, staff, series.id)
        assert (ended.active, ended.occurrences) == (False, 1)
        assert materialize_series(session, world.street_id, dt.date(2026, 11, 30)) == []


def test_series_through_the_api(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """POST /order-series shows a week of occurrences; bad weekdays get 422; end keeps them."""
    with sessions() as session:
        resident_id = first_resident(session, world).id
    headers = login(client, "staff")
    body = {
        "resident_id": resident_id,
        "item": "L04",
        "weekdays": [0, 1, 2, 3, 4, 5, 6],
        "start_date": local_today(settings).isoformat(),
    }
    response = client.post("/order-series", json=body, headers=headers)
    assert response.status_code == 201, response.text
    series = response.json()
    assert series["occurrences"] == 7
    bad = client.post("/order-series", json=body | {"weekdays": [7]}, headers=headers)
    assert bad.status_code == 422 and any(f.startswith("weekdays") for f in fields_named(bad))
    listed = client.get("/order-series", headers=headers).json()
    assert [s["id"] for s in listed["items"]] == [series["id"]]
    ended = client.post(f"/order-series/{series['id']}/end", headers=headers).json()
    assert (ended["active"], ended["occurrences"]) == (False, 7)


# ----------------------------------------------------------------------------- reading


def test_listing_filters_and_pages(client: TestClient, world: World) -> None:
    """Pages of a filtered list cover every match exactly once; filters narrow it."""
    headers = login(client, "staff")
    everything = client.get("/orders", params={"date": DATE.isoformat()}, headers=headers).json()
    total = everything["total"]
    assert total == 40
    seen: list[int] = []
    for page in range(1, 5):
        params = {"date": DATE.isoformat(), "page": page, "page_size": 12}
        body = client.get("/orders", params=params, headers=headers).json()
        assert (body["total"], body["page"], body["page_size"]) == (total, page, 12)
        seen += [o["id"] for o in body["items"]]
    assert sorted(seen) == sorted(o["id"] for o in everything["items"]) and len(set(seen)) == total
    by_item = client.get("/orders", params={"item": "H01"}, headers=headers).json()
    assert by_item["total"] == 4 and {o["item"] for o in by_item["items"]} == {"H01"}
    resident = by_item["items"][0]["resident_id"]
    mine = client.get("/orders", params={"resident_id": resident}, headers=headers).json()
    assert mine["total"] >= 1 and {o["resident_id"] for o in mine["items"]} == {resident}
    later = {"date_from": (DATE + dt.timedelta(days=1)).isoformat()}
    assert client.get("/orders", params=later, headers=headers).json()["total"] == 0
    assert client.get("/orders", params={"status": "done"}, headers=headers).json()["total"] == 0
    bad = client.get("/orders", params={"status": "lost"}, headers=headers)
    assert bad.status_code == 422 and "status" in str(bad.json())


def test_listing_is_scoped(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    other_resident: int,
    resident_account: int,
) -> None:
    """Community staff list only their community's orders; a resident only its own."""
    with sessions() as session:
        foreign = new_order(session, settings, other_resident)
        new_order(session, settings, resident_account)
    street = client.get("/orders", headers=login(client, "staff")).json()
    c1_headers = login(client, "staff_c1")
    community = client.get("/orders", headers=c1_headers).json()
    assert street["total"] == community["total"] + 1
    assert foreign.id not in {o["id"] for o in community["items"]}
    other_filter = {"community_id": foreign.resident.community_id}
    assert client.get("/orders", params=other_filter, headers=c1_headers).json()["total"] == 0
    own = client.get("/orders", headers=login(client, "resident1")).json()
    assert own["total"] >= 1 and {o["resident_id"] for o in own["items"]} == {resident_account}


def test_order_detail_shows_the_team_and_is_scoped(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    other_resident: int,
) -> None:
    """GET /orders/{id} shows each member's offer status; another community's order is 404."""
    helpers = world.helper_ids[:2]
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id, item="H04")
        create_assignment(
            session,
            settings,
            order,
            helpers,
            source="manual",
            start_minute=540,
            accepted=helpers[:1],
        ).override_reason = HAND_PICKED
        session.commit()
        foreign = new_order(session, settings, other_resident)
    detail = client.get(f"/orders/{order.id}", headers=login(client, "staff")).json()
    assert detail["order"]["status"] == "offered"
    team = {m["helper_id"]: m["offer_status"] for m in detail["assignment"]["team"]}
    assert team == {helpers[0]: "accepted", helpers[1]: "pending"}
    assert client.get(f"/orders/{foreign.id}", headers=login(client, "staff_c1")).status_code == 404
    assert client.get("/orders/999999", headers=login(client, "staff")).status_code == 404


def test_services_refuse_a_resident_out_of_scope(
    sessions: sessionmaker[Session], settings: Settings, other_resident: int
) -> None:
    """The service itself (not only the route) hides residents outside the caller's scope."""
    with sessions() as session:
        spec = OrderSpec(item="L01", date=DATE, resident_id=other_resident)
        with pytest.raises(NotFound):
            place_order(session, settings, actor_for(session, "staff_c1"), spec, now=NOW)


# ----------------------------------------------------------------------------- the horizon


def set_horizon(sessions: sessionmaker[Session], world: World, days: int) -> None:
    with sessions() as session:
        session.get_one(Street, world.street_id).order_horizon_days = days
        session.commit()


def test_order_dates_stay_within_the_streets_horizon(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Staff and resident accounts alike may order for today … today + the street's horizon
    (90 days by default, street-local); a day later, or 3000-01-01, is 422 naming ``date`` and
    nothing is written."""
    with sessions() as session:
        resident_id = first_resident(session, world).id
    make_resident_account(sessions, world)
    today = local_today(settings)
    last = today + dt.timedelta(days=90)
    for username in ("staff", "resident1"):
        headers = login(client, username)
        body = {"resident_id": resident_id, "item": "L04", "date": last.isoformat()}
        assert client.post("/orders", json=body, headers=headers).status_code == 201
        before = count_orders(sessions)
        for date in (last + dt.timedelta(days=1), dt.date(3000, 1, 1)):
            response = client.post(
                "/orders", json=body | {"date": date.isoformat()}, headers=headers
            )
            assert response.status_code == 422, response.text
            assert response.json()["field"] == "date"
            assert last.isoformat() in response.json()["detail"]
        assert count_orders(sessions) == before


def test_a_street_sets_its_own_horizon(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """With a horizon of 3 days, NOW + 3 is accepted and NOW + 4 refused; yesterday too."""
    set_horizon(sessions, world, 3)
    with sessions() as session:
        resident_id = first_resident(session, world).id
        staff = actor_for(session, "staff")
        today = local_today(settings, NOW)
        spec = OrderSpec(item="L04", date=today + dt.timedelta(days=3), resident_id=resident_id)
        assert place_order(session, settings, staff, spec, now=NOW).date == spec.date
        for date in (today + dt.timedelta(days=4), today - dt.timedelta(days=1)):
            with pytest.raises(BadInput) as refused:
                place_order(session, settings, staff, replace(spec, date=date), now=NOW)
            session.rollback()
            assert refused.value.field == "date"


def test_series_dates_and_occurrences_stay_within_the_horizon(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A series' start and end dates beyond the horizon are refused naming the field; a daily
    series on a 2-day horizon makes occurrences only for today … today + 2, and the nightly's
    materialisation makes none beyond it (nor in the past)."""
    set_horizon(sessions, world, 2)
    with sessions() as session:
        resident_id = first_resident(session, world).id
        staff = actor_for(session, "staff")
        today = local_today(settings, NOW)
        spec = SeriesSpec(item="L04", weekdays=list(range(7)), start_date=today,
                          resident_id=resident_id)  # fmt: skip
        for bad in (
            {"start_date": today + dt.timedelta(days=3)},
            {"start_date": today - dt.timedelta(days=1)},
            {"end_date": today + dt.timedelta(days=3)},
            {"end_date": dt.date(3000, 1, 1)},
        ):
            with pytest.raises(BadInput) as refused:
                place_series(session, settings, staff, replace(spec, **bad), now=NOW)
            session.rollback()
            assert refused.value.field == next(iter(bad))
        series = place_series(session, settings, staff, spec, now=NOW)
        dates = sorted(
            session.scalars(select(OrderRow.date).where(OrderRow.series_id == series.id))
        )
        assert dates == [today + dt.timedelta(days=n) for n in range(3)]
        for date in (today + dt.timedelta(days=3), today - dt.timedelta(days=1)):
            assert materialize_series(session, world.street_id, date, NOW, settings) == []


def test_series_dates_through_the_api_name_the_field(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """POST /order-series with a start or end date beyond the horizon is 422 naming it."""
    with sessions() as session:
        resident_id = first_resident(session, world).id
    headers = login(client, "staff")
    today = local_today(settings)
    body = {"resident_id": resident_id, "item": "L04", "weekdays": [0],
            "start_date": today.isoformat()}  # fmt: skip
    for field in ("start_date", "end_date"):
        response = client.post("/order-series", json=body | {field: "3000-01-01"}, headers=headers)
        assert response.status_code == 422 and response.json()["field"] == field


def test_the_days_assignment_sheet_carries_the_orders_note(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The assignment sheet (派单表) has a 备注 column with each order's note, for the helpers
    staff hand it to."""
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id)
        order.note = "门铃坏了，请敲门"
        session.commit()
        date = order.date
    sheet = client.get(
        "/exports/assignments", headers=login(client, "staff"), params={"date": date.isoformat()}
    )
    assert sheet.status_code == 200, sheet.text
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert rows[0][-2] == "备注"
    noted = [row for row in rows[1:] if row[-2] == "门铃坏了，请敲门"]
    assert len(noted) == 1 and noted[0][4] == first_resident_name(sessions, world)


def first_resident_name(sessions: sessionmaker[Session], world: World) -> str:
    with sessions() as session:
        return first_resident(session, world).name


def test_a_resident_sees_only_who_accepted_their_order_and_their_names_masked(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The order detail a resident account reads lists only the helpers who accepted, each name
    masked as the resident's page shows it (王小明 → 王**): nobody while the offer is pending
    (staff see that member in full), the member once they accept."""
    day = local_today(settings) + dt.timedelta(days=1)
    with sessions() as session:
        session.execute(update(OrderRow).values(date=day))
        session.commit()
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        offer = session.scalars(
            select(OfferRow).where(OfferRow.status == "pending").order_by(OfferRow.id)
        ).first()
        assert offer is not None
        order_id, helper_id, name = offer.assignment.order_id, offer.helper_id, offer.helper.name
        order = session.get_one(OrderRow, order_id)
        add_user(session, "res-x", PASSWORD, "resident", resident_id=order.resident_id)
        session.commit()
    resident, staff = login(client, "res-x"), login(client, "staff")

    def team(headers: dict[str, str]) -> list[tuple[int, str]]:
        detail = client.get(f"/orders/{order_id}", headers=headers).json()
        return [(m["helper_id"], m["name"]) for m in detail["assignment"]["team"]]

    assert team(resident) == [] and (helper_id, name) in team(staff)
    with sessions() as session:
        accept(session, settings, helper_id, offer.id)
    assert team(resident) == [(helper_id, name[:1] + "*" * (len(name) - 1))]
