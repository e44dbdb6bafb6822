"""The intake pages through the HTTP client: a grid worker's /g/ (their grid's residents only,
ordering for one, the grid's orders, follow-ups), family members on the resident pages (sent to
/r/family until a link is approved, then acting for the chosen resident), staff review at
/s/review (approve, change then approve, reject with a reason the requester reads), family links
at /s/family and a family account made on the resident's page (its password shown once)."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.http.pages.render import csrf_token
from api.services.accounts.auth import add_user
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.statuses import OrderStatus
from api.store.tables import FamilyLinkRow, OrderRow, ResidentRow, Street, UserRow
from tests.api.conftest import PASSWORD, StateContext, World, database_state
from tests.api.test_web_resident import as_user

Sessions = sessionmaker[Session]


def _people(state: StateContext) -> tuple[int, int]:
    """The street reviews orders; a grid worker ``gw`` of the first resident's grid, that
    resident's account ``res``; the first resident and one of another grid."""
    world: World = state.values["world"]
    with state.sessions() as session:
        residents = session.scalars(
            select(ResidentRow)
            .where(ResidentRow.community_id == world.communities[0])
            .order_by(ResidentRow.id)
        ).all()
        mine = residents[0]
        other = next(r for r in residents if r.grid_id != mine.grid_id)
        other.phone = "13512345678"
        add_user(session, "gw", PASSWORD, "grid_worker", street_id=world.street_id,
                 community_id=mine.community_id, grid_id=mine.grid_id)  # fmt: skip
        add_user(session, "res", PASSWORD, "resident", resident_id=mine.id)
        session.execute(update(Street).values(review_orders=True))
        session.commit()
        return mine.id, other.id


people = database_state("people", _people)


def tomorrow(settings: Settings) -> str:
    return (local_today(settings) + dt.timedelta(days=1)).isoformat()


def latest_order(sessions: Sessions) -> OrderRow:
    with sessions() as session:
        return session.scalars(select(OrderRow).order_by(OrderRow.id.desc())).first()  # type: ignore[return-value]


def test_a_grid_worker_orders_for_a_resident_of_their_grid(
    client: TestClient, sessions: Sessions, settings: Settings, people: tuple[int, int]
) -> None:
    """The grid worker lands on /g/, which lists their grid's residents only; ordering for one
    enters an order waiting for review with the grid worker as requester; ordering for a
    resident of another grid is "not found"; staff pages send them home."""
    mine, other = people
    assert as_user(client, "gw").headers["location"] == "/g/"
    home = client.get("/g/")
    assert home.status_code == 200 and f'id="resident-{mine}"' in home.text
    assert f'id="resident-{other}"' not in home.text
    form = client.get(f"/g/order?resident_id={mine}")
    assert form.status_code == 200 and 'name="resident_id"' in form.text
    assert client.get(f"/g/order?resident_id={other}").status_code == 404
    wanted = {"resident_id": str(mine), "item": "L01", "date": tomorrow(settings),
              "window": "morning", "note": "网格员代下单"}  # fmt: skip
    sent = client.post("/g/order", data=wanted, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/g/orders")
    order = latest_order(sessions)
    assert order.status == OrderStatus.REVIEW and order.resident_id == mine
    with sessions() as session:
        gw = session.scalars(select(UserRow).where(UserRow.username == "gw")).one()
        assert order.placed_by == gw.id
    listing = client.get(sent.headers["location"])
    assert f'id="order-{order.id}"' in listing.text and "社区审核中" in listing.text
    refused = client.post("/g/order", data={"resident_id": str(other), "item": "L01",
                                            "date": tomorrow(settings)})  # fmt: skip
    assert refused.status_code == 404
    assert client.get("/s/orders", follow_redirects=False).headers["location"] == "/g/"
    assert client.get("/g/follow-ups").status_code == 200


def test_staff_approve_and_reject_and_the_requester_reads_why(
    client: TestClient, sessions: Sessions, settings: Settings, people: tuple[int, int]
) -> None:
    """Two orders a resident entered wait on /s/review; staff approve one after changing its
    day (it goes to matching, staff own it) and reject the other with a reason, which the
    resident's page then shows; the staff order page names who entered and reviewed it."""
    as_user(client, "res")
    ids = []
    for _ in range(2):
        client.post("/r/order", data={"item": "L01", "date": tomorrow(settings)})
        ids.append(latest_order(sessions).id)
    as_user(client, "staff_c1")
    queue = client.get("/s/review")
    assert all(f'id="order-{i}"' in queue.text for i in ids)
    later = (local_today(settings) + dt.timedelta(days=3)).isoformat()
    approved = client.post(f"/s/review/{ids[0]}/approve", data={"date": later, "item": "L01",
                           "any_time": "1", "note": ""}, follow_redirects=False)  # fmt: skip
    assert approved.status_code == 303 and "err=" not in approved.headers["location"]
    rejected = client.post(f"/s/review/{ids[1]}/reject", data={"reason": "本周已排满"},
                           follow_redirects=False)  # fmt: skip
    assert "err=" not in rejected.headers["location"]
    with sessions() as session:
        first, second = (session.get_one(OrderRow, i) for i in ids)
        staff = session.scalars(select(UserRow).where(UserRow.username == "staff_c1")).one()
        assert first.status == OrderStatus.OPEN and first.owner_id == staff.id
        assert first.date.isoformat() == later
        assert second.status == OrderStatus.REJECTED and second.reject_reason == "本周已排满"
    page = client.get(f"/s/orders/{ids[1]}")
    assert "本周已排满" in page.text and 'id="entered-by"' in page.text and "居民" in page.text
    empty = client.post(f"/s/review/{ids[1]}/reject", data={"reason": "x"},
                        follow_redirects=False)  # fmt: skip
    assert "err=" in empty.headers["location"]
    as_user(client, "res")
    home = client.get("/r/")
    assert "本周已排满" in home.text and "未通过审核" in home.text


def test_a_family_member_is_linked_then_orders_for_their_mother(
    client: TestClient, sessions: Sessions, settings: Settings, people: tuple[int, int]
) -> None:
    """Staff make a family account on the resident's page (password shown once); the family
    member logs in, orders for the resident on /r/order and sees it on /r/; a request for
    another resident waits on /s/family until staff approve it, then /r/for switches to them."""
    mine, other = people
    as_user(client, "staff_c1")
    account = {"name": "李女儿", "phone": "13900001111", "relation": "女儿"}
    made = client.post(f"/s/residents/{mine}/family", data=account)
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    password = re.search(r'id="family-password"><code>([^<]+)</code>', made.text)
    assert password is not None
    assert "李女儿" in client.get(f"/s/residents/{mine}").text
    client.cookies.clear()
    login = client.post("/login", data={"username": "13900001111", "password": password[1]},
                        follow_redirects=False)  # fmt: skip
    assert login.headers["location"] == "/r/"
    client.headers["X-CSRF-Token"] = csrf_token(client.cookies["qb_token"])
    home = client.get("/r/")
    assert home.status_code == 200 and 'id="acting-for"' in home.text
    client.post("/r/order", data={"item": "L01", "date": tomorrow(settings), "note": "妈妈腿不好"})
    order = latest_order(sessions)
    assert order.resident_id == mine and order.status == OrderStatus.REVIEW
    assert f'id="order-{order.id}"' in client.get("/r/").text
    with sessions() as session:
        code = session.get_one(ResidentRow, other).code
    request = {"code": code, "phone_tail": "5678", "relation": "女儿"}
    asked = client.post("/r/family/link", data=request, follow_redirects=False)
    assert "err=" not in asked.headers["location"]
    switch = client.post("/r/for", data={"resident_id": str(other)}, follow_redirects=False)
    assert "err=" in switch.headers["location"]  # not approved yet
    with sessions() as session:
        link = session.scalars(select(FamilyLinkRow).where(FamilyLinkRow.status == "pending")).one()
    as_user(client, "staff_c1")
    assert f'id="link-{link.id}"' in client.get("/s/family").text
    client.post(f"/s/family/{link.id}/approve")
    client.cookies.clear()
    client.post("/login", data={"username": "13900001111", "password": password[1]})
    client.headers["X-CSRF-Token"] = csrf_token(client.cookies["qb_token"])
    switch = client.post("/r/for", data={"resident_id": str(other)}, follow_redirects=False)
    assert switch.headers["location"] == "/r/" and client.cookies.get("qb_for") == str(other)
    client.post("/r/order", data={"item": "L01", "date": tomorrow(settings)})
    assert latest_order(sessions).resident_id == other


def test_a_family_account_without_a_link_is_sent_to_its_family_page(
    client: TestClient, sessions: Sessions, world: World, people: tuple[int, int]
) -> None:
    """A family account no staff approved sees no resident's orders: /r/ and /r/order send it
    to /r/family; other accounts asking for /r/family are sent home or shown "not found"."""
    with sessions() as session:
        add_user(session, "fam", PASSWORD, "family", street_id=world.street_id)
        session.commit()
    as_user(client, "fam")
    for path in ("/r/", "/r/order"):
        assert client.get(path, follow_redirects=False).headers["location"] == "/r/family"
    assert client.get("/r/family").status_code == 200
    as_user(client, "res")
    assert client.get("/r/family").status_code == 404
    as_user(client, "staff")
    assert client.get("/r/family", follow_redirects=False).headers["location"] == "/s/"
