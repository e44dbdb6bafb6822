"""Claims: the claimable list (only orders in reach and skill, nothing personal), single, team and
bundle claims with their refusals, and concurrent claims of one order (exactly one wins)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api import i18n
from api.services import claims
from api.services.errors import BadInput, Conflict, ServiceError
from api.settings import Settings
from api.store.tables import (
    AssignmentRow,
    ClaimRow,
    HelperRow,
    ItemRow,
    NotificationRow,
    OfferRow,
    OrderRow,
    ResidentRow,
)
from tests.api.conftest import DATE, World, login


@pytest.fixture(autouse=True)
def in_english(request: pytest.FixtureRequest) -> Any:
    """These tests read refusals in English: the service's own calls and the API's answers."""
    if "client" in request.fixturenames:
        request.getfixturevalue("client").headers["Accept-Language"] = "en"
    with i18n.use_locale("en"):
        yield


NOW = dt.datetime(2026, 11, 22, 2, 0)  # 10:00 in Shanghai, the day before DATE
LIVE = ("active", "done", "confirmed")
Sessions = sessionmaker[Session]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """The claims service's clock, fixed at NOW (the seeded orders are for the next day)."""
    monkeypatch.setattr(claims, "utcnow", lambda: NOW)
    return NOW


# ----------------------------------------------------------------------------- arranging


def residents(session: Session, world: World) -> tuple[ResidentRow, ResidentRow]:
    """The street's first resident and the resident nearest to them."""
    rows = session.scalars(
        select(ResidentRow).where(ResidentRow.street_id == world.street_id).order_by(ResidentRow.id)
    ).all()
    first = rows[0]
    nearest = min(rows[1:], key=lambda r: km_between(first, r))
    assert km_between(first, nearest) < 1.5
    return first, nearest


def prepare(
    session: Session, helper_id: int, near: ResidentRow, skills: tuple[str, ...] = ()
) -> None:
    """Put a helper ~0.15 km from ``near`` with exactly ``skills``, free 08:00-20:00."""
    helper = session.get_one(HelperRow, helper_id)
    helper.lat, helper.lon = near.lat + 0.001, near.lon
    helper.skills = sorted(skills)
    helper.availability = [[480, 1200]]
    helper.radius_km, helper.speed_kmh = 3.0, None
    helper.max_orders, helper.max_minutes = 5, 600
    helper.blocked_residents = []


def add_order(
    session: Session,
    resident: ResidentRow,
    item: str = "L04",
    window: tuple[int, int] | None = None,
    flexible: bool = False,
    date: dt.date = DATE,
) -> int:
    order = OrderRow(
        street_id=resident.street_id,
        resident_id=resident.id,
        item=item,
        date=date,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        flexible=flexible,
        placed_at=dt.datetime(2026, 11, 21, 8),
    )
    session.add(order)
    session.flush()
    return order.id


def counts(session: Session) -> tuple[int, ...]:
    """Rows a claim writes: claims, assignments, offers, notifications."""
    return tuple(
        session.scalar(select(func.count()).select_from(table)) or 0
        for table in (ClaimRow, AssignmentRow, OfferRow, NotificationRow)
    )


def live_assignments(session: Session, order_id: int) -> list[AssignmentRow]:
    query = select(AssignmentRow).where(
        AssignmentRow.order_id == order_id, AssignmentRow.status.in_(LIVE)
    )
    return list(session.scalars(query))


# ----------------------------------------------------------------------------- independent rule


def km_between(a: HelperRow | ResidentRow, b: HelperRow | ResidentRow) -> float:
    """One-way street km: haversine × 1.3."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h)) * 1.3


def trip_minutes(helper: HelperRow, resident: ResidentRow) -> int:
    return math.ceil(2 * km_between(helper, resident) / (helper.speed_kmh or 12.0) * 60 - 1e-9)


def qualifies(helper: HelperRow, order: OrderRow, item: ItemRow) -> bool:
    """The listing's rule written out by hand for a helper with an empty day."""
    resident = order.resident
    reach = min(helper.radius_km, item.max_distance_km or math.inf)
    if not set(item.required_skills) <= set(helper.skills) or km_between(helper, resident) > reach:
        return False
    if resident.code in helper.blocked_residents:
        return False
    minutes = trip_minutes(helper, resident)
    if helper.max_orders < 1 or item.duration_min + minutes > helper.max_minutes:
        return False
    if item.team_size == 1 and item.lead_skill and item.lead_skill not in helper.skills:
        return False
    if item.team_size == 1 and resident.language and resident.language not in helper.languages:
        return False
    if order.window_start is None or order.window_end is None:
        return True
    out, back = (minutes + 1) // 2, minutes - (minutes + 1) // 2
    last = order.window_end - item.duration_min if order.flexible else order.window_start
    return any(
        max(order.window_start, a + out) <= min(last, b - item.duration_min - back)
        for a, b in helper.availability
    )


def expected_claimable(session: Session, helper: HelperRow) -> set[int]:
    items = {i.code: i for i in session.scalars(select(ItemRow))}
    orders = session.scalars(
        select(OrderRow).where(OrderRow.street_id == helper.street_id, OrderRow.status == "open")
    )
    return {o.id for o in orders if qualifies(helper, o, items[o.item])}


# ----------------------------------------------------------------------------- listing


def test_listing_is_exactly_the_orders_in_reach_skill_and_time(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """For every helper, the listed orders are those an independent computation (haversine×1.3
    within radius and item limit, skills held, a free slot with travel, room in the day) finds."""
    with sessions() as session:
        listed_somewhere = 0
        for helper_id in world.helper_ids:
            helper = session.get_one(HelperRow, helper_id)
            page = claims.claimable_orders(session, settings, helper_id, page_size=100, now=NOW)
            assert {c.order_id for c in page.items} == expected_claimable(session, helper)
            for claimable in page.items:
                order = session.get_one(OrderRow, claimable.order_id)
                item = session.get_one(ItemRow, order.item)
                assert set(item.required_skills) <= set(helper.skills)
                assert claimable.distance_km == pytest.approx(
                    km_between(helper, order.resident), abs=0.01
                )
                assert claimable.distance_km <= helper.radius_km
                assert claimable.needs_teammates == (item.team_size > 1)
            listed_somewhere += page.total
        assert listed_somewhere > 0


def test_listing_shows_nothing_personal_and_pages(
    client: TestClient, sessions: Sessions, world: World, clock: dt.datetime
) -> None:
    """A helper sees item, date, time, community, distance and team size, never the resident's
    name, address, phone or category; pages of 2 add up to the whole list."""
    headers = login(client, "helper3")
    whole = client.get("/me/claimable", params={"page_size": 100}, headers=headers).json()
    assert whole["total"] == len(whole["items"]) > 2
    fields = set(whole["items"][0])
    assert fields == {
        "order_id", "date", "item_code", "item_zh", "item_en", "window_start", "window_end",
        "flexible", "duration_min", "community", "distance_km", "team_size", "needs_teammates",
        "points",
    }  # fmt: skip
    with sessions() as session:
        for item in whole["items"]:
            resident = session.get_one(OrderRow, item["order_id"]).resident
            text = str(item)
            for secret in (resident.name, resident.address, resident.phone, resident.category):
                assert secret not in text
    paged: list[dict[str, Any]] = []
    for page in range(1, whole["total"] // 2 + 2):
        body = client.get(
            "/me/claimable", params={"page": page, "page_size": 2}, headers=headers
        ).json()
        assert body["total"] == whole["total"] and body["page_size"] == 2
        paged += body["items"]
    assert paged == whole["items"]


def test_listing_is_from_today_on_and_filters_dates(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """Orders dated before today (local) are not listed; date_from/date_to filter the rest."""
    helper_id = world.helper_ids[2]
    with sessions() as session:
        listed = claims.claimable_orders(session, settings, helper_id, now=NOW).total
        after = NOW + dt.timedelta(days=2)
        assert listed > 0
        assert claims.claimable_orders(session, settings, helper_id, now=after).total == 0
        later = claims.claimable_orders(
            session, settings, helper_id, date_from=DATE + dt.timedelta(days=1), now=NOW
        )
        earlier = claims.claimable_orders(
            session, settings, helper_id, date_to=DATE - dt.timedelta(days=1), now=NOW
        )
        exact = claims.claimable_orders(
            session, settings, helper_id, date_from=DATE, date_to=DATE, now=NOW
        )
        assert later.total == earlier.total == 0 and exact.total == listed


def test_a_resident_the_ledger_blocks_is_neither_listed_nor_claimable(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """A helper whose ledger entry blocks a resident does not see that resident's orders and
    cannot claim them."""
    helper_id = world.helper_ids[0]
    with sessions() as session:
        resident, _ = residents(session, world)
        prepare(session, helper_id, resident)
        order_id = add_order(session, resident)
        session.commit()

        def listed() -> set[int]:
            page = claims.claimable_orders(session, settings, helper_id, page_size=100, now=NOW)
            return {c.order_id for c in page.items}

        assert order_id in listed()
        session.get_one(HelperRow, helper_id).blocked_residents = [resident.code]
        session.commit()
        assert order_id not in listed()
        with pytest.raises(ServiceError, match="out of reach"):
            claims.claim_single(session, settings, helper_id, order_id, now=NOW)


def test_listing_roles(client: TestClient, world: World) -> None:
    """Only helpers have a claimable list: staff and planners are refused, anonymous gets 401."""
    assert client.get("/me/claimable").status_code == 401
    for username in ("staff", "planner"):
        response = client.get("/me/claimable", headers=login(client, username))
        assert response.status_code == 403
        post = client.post("/me/claims", json={"order_id": 1}, headers=login(client, username))
        assert post.status_code == 403


# ----------------------------------------------------------------------------- single


def test_single_claim_accepts_at_the_earliest_free_start(
    client: TestClient, sessions: Sessions, world: World, clock: dt.datetime
) -> None:
    """Claiming means accepting: one accepted offer, order assigned, a single claim; a flexible
    visit starts at the helper's earliest free minute (availability start plus travel out)."""
    helper_id = world.helper_ids[0]
    with sessions() as session:
        resident, _ = residents(session, world)
        prepare(session, helper_id, resident)
        session.get_one(HelperRow, helper_id).availability = [[630, 1200]]
        order_id = add_order(session, resident, window=(600, 720), flexible=True)
        out = (trip_minutes(session.get_one(HelperRow, helper_id), resident) + 1) // 2
        session.commit()
    headers = login(client, "helper1")
    listed = client.get("/me/claimable", params={"page_size": 100}, headers=headers).json()
    assert order_id in {i["order_id"] for i in listed["items"]}
    response = client.post("/me/claims", json={"order_id": order_id}, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["form"] == "single"
    assert body["orders"][0]["start_minute"] == 630 + out
    assert body["orders"][0]["members"] == {str(helper_id): "accepted"}
    with sessions() as session:
        (assignment,) = live_assignments(session, order_id)
        assert assignment.source == "claim" and assignment.start_minute == 630 + out
        assert [(o.helper_id, o.status) for o in assignment.offers] == [(helper_id, "accepted")]
        assert session.get_one(ClaimRow, assignment.claim_id).form == "single"
        assert session.get_one(OrderRow, order_id).status == "assigned"
    again = client.get("/me/claimable", params={"page_size": 100}, headers=headers).json()
    assert order_id not in {i["order_id"] for i in again["items"]}


def test_single_claim_refusals(
    client: TestClient, sessions: Sessions, world: World, clock: dt.datetime
) -> None:
    """A team item (use a team claim), an order the helper cannot serve (with the reason), an
    order already taken (409) and an unknown order (404) are refused, and nothing is written."""
    first, second = world.helper_ids[0], world.helper_ids[1]
    with sessions() as session:
        resident, _ = residents(session, world)
        prepare(session, first, resident)
        prepare(session, second, resident)
        team_item = add_order(session, resident, item="P02", window=(600, 900), flexible=True)
        plumbing = add_order(session, resident, item="P12", window=(600, 700), flexible=True)
        meal = add_order(session, resident, window=(600, 630))
        session.commit()
        before = counts(session)
    headers = login(client, "helper1")
    team = client.post("/me/claims", json={"order_id": team_item}, headers=headers)
    assert team.status_code == 422 and "team" in team.json()["detail"]
    skill = client.post("/me/claims", json={"order_id": plumbing}, headers=headers)
    assert skill.status_code == 422 and "skill" in skill.json()["detail"]
    missing = client.post("/me/claims", json={"order_id": 10**6}, headers=headers)
    assert missing.status_code == 404
    with sessions() as session:
        assert counts(session) == before
    taken = client.post("/me/claims", json={"order_id": meal}, headers=login(client, "helper2"))
    assert taken.status_code == 201
    late = client.post("/me/claims", json={"order_id": meal}, headers=headers)
    assert late.status_code == 409 and late.json()["code"] == "conflict"


def test_bad_bodies_name_the_field(client: TestClient, world: World) -> None:
    """Malformed claim bodies get 422 naming the offending field."""
    headers = login(client, "helper1")
    cases = [
        ("/me/claims", {}, "order_id"),
        ("/me/claims", {"order_id": "seven"}, "order_id"),
        ("/me/claims/team", {"order_id": 1, "teammate_ids": []}, "teammate_ids"),
        ("/me/claims/bundle", {"order_ids": [1]}, "order_ids"),
        ("/me/claims", {"order_id": 1, "helper_id": 2}, "helper_id"),
    ]
    for path, body, field in cases:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 422, (path, body)
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()


# ----------------------------------------------------------------------------- team


def test_team_claim_gives_teammates_pending_offers(
    client: TestClient, sessions: Sessions, world: World, clock: dt.datetime
) -> None:
    """The claimer is accepted, the teammate gets a pending offer and a notification; the order
    waits (offered) until the teammate confirms."""
    claimer, mate = world.helper_ids[0], world.helper_ids[1]
    with sessions() as session:
        resident, _ = residents(session, world)
        prepare(session, claimer, resident, ("cleaning",))
        prepare(session, mate, resident, ("cleaning",))
        order_id = add_order(session, resident, item="P02", window=(600, 900), flexible=True)
        session.commit()
    headers = login(client, "helper1")
    listed = client.get("/me/claimable", params={"page_size": 100}, headers=headers).json()
    assert {"order_id": order_id, "needs_teammates": True}.items() <= next(
        i for i in listed["items"] if i["order_id"] == order_id
    ).items()
    body = {"order_id": order_id, "teammate_ids": [mate]}
    response = client.post("/me/claims/team", json=body, headers=headers)
    assert response.status_code == 201, response.text
    claimed = response.json()["orders"][0]
    assert claimed["members"] == {str(claimer): "accepted", str(mate): "pending"}
    assert claimed["order_status"] == "offered" and claimed["start_minute"] == 600
    with sessions() as session:
        (assignment,) = live_assignments(session, order_id)
        assert session.get_one(ClaimRow, assignment.claim_id).form == "team"
        pending = next(o for o in assignment.offers if o.helper_id == mate)
        assert pending.status == "pending" and pending.respond_by > NOW
        notified = session.scalars(
            select(NotificationRow).where(NotificationRow.helper_id == mate)
        ).all()
        assert [n.kind for n in notified] == ["offer"]


def test_team_claim_refusals_write_nothing(
    client: TestClient, sessions: Sessions, world: World, clock: dt.datetime
) -> None:
    """An unqualified teammate (named in the reason), a team larger than the item needs and
    naming oneself as teammate are refused with 422, and nothing is written."""
    claimer, skilled, unskilled = world.helper_ids[:3]
    with sessions() as session:
        resident, _ = residents(session, world)
        prepare(session, claimer, resident, ("cleaning",))
        prepare(session, skilled, resident, ("cleaning",))
        prepare(session, unskilled, resident)
        order_id = add_order(session, resident, item="P02", window=(600, 900), flexible=True)
        session.commit()
        before = counts(session)
    headers = login(client, "helper1")
    refusals = [([unskilled], f"teammate {unskilled}"), ([skilled, unskilled], "team of 2")]
    refusals.append(([claimer], "yourself"))
    for teammates, reason in refusals:
        body = {"order_id": order_id, "teammate_ids": teammates}
        response = client.post("/me/claims/team", json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert reason in response.json()["detail"]
        assert response.json()["field"] == "teammate_ids"
    with sessions() as session:
        assert counts(session) == before
        assert session.get_one(OrderRow, order_id).status == "open"


# ----------------------------------------------------------------------------- bundle


def test_bundle_claim_schedules_visits_that_do_not_overlap(
    client: TestClient, sessions: Sessions, world: World, clock: dt.datetime
) -> None:
    """A bundle is taken whole: one bundle claim, every order accepted, each start inside its
    window, and the visits' spans (travel out, service, travel back) never overlap."""
    helper_id = world.helper_ids[0]
    with sessions() as session:
        home, neighbour = residents(session, world)
        prepare(session, helper_id, home)
        windows = [
            (home, (600, 630), False),
            (neighbour, (600, 720), True),
            (home, (610, 700), True),
        ]
        order_ids = [add_order(session, r, window=w, flexible=f) for r, w, f in windows]
        session.commit()
    headers = login(client, "helper1")
    response = client.post("/me/claims/bundle", json={"order_ids": order_ids}, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["form"] == "bundle"
    spans = []
    with sessions() as session:
        helper = session.get_one(HelperRow, helper_id)
        claim_ids = set()
        for order_id, (resident, (lo, hi), flexible) in zip(order_ids, windows, strict=True):
            (assignment,) = live_assignments(session, order_id)
            claim_ids.add(assignment.claim_id)
            assert [o.status for o in assignment.offers] == ["accepted"]
            start = assignment.start_minute
            assert start is not None and lo <= start <= (hi - 30 if flexible else lo)
            minutes = trip_minutes(helper, resident)
            out = (minutes + 1) // 2
            spans.append((start - out, start + 30 + minutes - out))
        (claim_id,) = claim_ids
        assert session.get_one(ClaimRow, claim_id).form == "bundle"
    spans.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans
    assert spans[0][0] >= 480 and spans[-1][1] <= 1200


def test_bundle_of_overlapping_orders_is_refused_and_writes_nothing(
    client: TestClient, sessions: Sessions, world: World, clock: dt.datetime
) -> None:
    """Two fixed visits that overlap cannot be bundled: 422 naming both orders, nothing
    written, both orders still open and unchanged."""
    helper_id = world.helper_ids[0]
    with sessions() as session:
        resident, _ = residents(session, world)
        prepare(session, helper_id, resident)
        free = add_order(session, resident)
        first = add_order(session, resident, window=(600, 630))
        second = add_order(session, resident, window=(615, 645))
        session.commit()
        before = counts(session)
    headers = login(client, "helper1")
    body = {"order_ids": [free, first, second]}
    response = client.post("/me/claims/bundle", json=body, headers=headers)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert f"orders {first} and {second}" in detail and f"orders {free} " not in detail
    with sessions() as session:
        assert counts(session) == before
        for order_id in (free, first, second):
            order = session.get_one(OrderRow, order_id)
            assert (order.status, order.version) == ("open", 0)


def test_bundle_over_the_day_limit_is_refused(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """Orders that fit pairwise but exceed the helper's orders per day are refused as a whole."""
    helper_id = world.helper_ids[0]
    with sessions() as session:
        resident, _ = residents(session, world)
        prepare(session, helper_id, resident)
        session.get_one(HelperRow, helper_id).max_orders = 2
        order_ids = [add_order(session, resident) for _ in range(3)]
        session.commit()
        with pytest.raises(ServiceError, match="exceed") as refused:
            claims.claim_bundle(session, settings, helper_id, order_ids, now=NOW)
        assert isinstance(refused.value, BadInput)
        assert all(not live_assignments(session, o) for o in order_ids)


def test_bundle_with_a_taken_order_rolls_back(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """If one bundled order is already taken the bundle gets Conflict and takes none of them."""
    first, second = world.helper_ids[:2]
    with sessions() as session:
        resident, _ = residents(session, world)
        prepare(session, first, resident)
        prepare(session, second, resident)
        free, taken = add_order(session, resident), add_order(session, resident)
        session.commit()
        claims.claim_single(session, settings, second, taken, now=NOW)
        before = counts(session)
        with pytest.raises(Conflict):
            claims.claim_bundle(session, settings, first, [free, taken], now=NOW)
        assert counts(session) == before
        assert session.get_one(OrderRow, free).status == "open"


# ----------------------------------------------------------------------------- concurrency


def race(sessions: Sessions, calls: list[Callable[[Session], object]]) -> list[object]:
    """Run the calls in threads, each with its own session, released together."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[Session], object]) -> None:
        with sessions() as session:
            barrier.wait()
            try:
                results[index] = call(session)
            except Exception as error:  # any error is a result the test inspects
                results[index] = error

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def two_ready_helpers(sessions: Sessions, world: World) -> tuple[int, int, ResidentRow]:
    first, second = world.helper_ids[:2]
    with sessions() as session:
        resident, _ = residents(session, world)
        prepare(session, first, resident)
        prepare(session, second, resident)
        session.commit()
    return first, second, resident


def new_order_on(sessions: Sessions, resident: ResidentRow, date: dt.date) -> int:
    with sessions() as session:
        order_id = add_order(session, resident, date=date)
        session.commit()
    return order_id


def test_two_helpers_claiming_one_order_at_once_one_wins(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """Two simultaneous single claims of one order, repeated: one succeeds, the other gets
    Conflict, and the order has exactly one live assignment with one accepted offer."""
    first, second, resident = two_ready_helpers(sessions, world)
    for day in range(5):
        order_id = new_order_on(sessions, resident, DATE + dt.timedelta(days=day))
        results = race(
            sessions,
            [
                lambda s, h=first, o=order_id: claims.claim_single(s, settings, h, o, now=NOW),
                lambda s, h=second, o=order_id: claims.claim_single(s, settings, h, o, now=NOW),
            ],
        )
        won = [r for r in results if isinstance(r, claims.ClaimOutcome)]
        lost = [r for r in results if isinstance(r, Conflict)]
        assert len(won) == len(lost) == 1, results
        with sessions() as session:
            (assignment,) = live_assignments(session, order_id)
            assert [o.status for o in assignment.offers] == ["accepted"]


def test_simultaneous_claims_through_the_api_get_201_and_409(
    client: TestClient, sessions: Sessions, world: World, clock: dt.datetime
) -> None:
    """Through the API two simultaneous claims of one order answer 201 and 409."""
    _, _, resident = two_ready_helpers(sessions, world)
    headers = [login(client, "helper1"), login(client, "helper2")]
    for day in range(3):
        order_id = new_order_on(sessions, resident, DATE + dt.timedelta(days=day))
        results = race(
            sessions,
            [
                lambda _s, h=h, o=order_id: (
                    client.post("/me/claims", json={"order_id": o}, headers=h).status_code
                )
                for h in headers
            ],
        )
        assert sorted(results) == [201, 409], results  # type: ignore[type-var]
        with sessions() as session:
            assert len(live_assignments(session, order_id)) == 1


def test_bundle_racing_a_single_claim_is_all_or_nothing(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """A bundle and a single claim racing for a shared order: exactly one wins it; if the single
    claim wins, the bundle's other order stays untaken."""
    first, second, resident = two_ready_helpers(sessions, world)
    for day in range(5):
        date = DATE + dt.timedelta(days=day)
        shared, other = (
            new_order_on(sessions, resident, date),
            new_order_on(sessions, resident, date),
        )
        results = race(
            sessions,
            [
                lambda s, o=(shared, other): claims.claim_bundle(s, settings, first, o, now=NOW),
                lambda s, o=shared: claims.claim_single(s, settings, second, o, now=NOW),
            ],
        )
        won = [r for r in results if isinstance(r, claims.ClaimOutcome)]
        assert len(won) == 1 and sum(isinstance(r, Conflict) for r in results) == 1, results
        with sessions() as session:
            (assignment,) = live_assignments(session, shared)
            bundle_won = won[0].form == "bundle"
            assert len(live_assignments(session, other)) == (1 if bundle_won else 0)
            holder = assignment.offers[0].helper_id
            assert holder == (first if bundle_won else second)
