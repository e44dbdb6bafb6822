"""The shop's and the wish board's pages: a helper redeems on the phone and sees the receipt's
code, staff check it and mark it used; a resident posts a wish, a helper claims it, staff
confirm it and the points show on the helper's points page; forms refuse what the services
refuse, with the reason."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.closing import points
from api.services.shop import items
from api.settings import Settings
from api.store.tables import RedemptionRow, ResidentRow
from tests.api.conftest import PASSWORD, SharedEngines, World, actor_named, kept_engine_app
from tests.api.test_one_language import log_in_as

Sessions = sessionmaker[Session]


@pytest.fixture
def pages(settings: Settings, world: World, shared_engines: SharedEngines) -> Iterator[TestClient]:
    with TestClient(kept_engine_app(settings, shared_engines)) as client:
        yield client


def test_a_helper_redeems_on_the_phone_and_staff_use_the_receipt(
    pages: TestClient, sessions: Sessions, world: World
) -> None:
    """The phone shop shows the balance; redeeming shows the receipt's code; staff find the
    code, mark it used, and the receipt reads "used" on the helper's page."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        item = items.add_item(session, staff, "老花镜", "goods", 10, 2)
        points.grant_bonus(session, staff, world.helper_ids[0], 25, "测试")
    log_in_as(pages, "helper1", "zh_CN")
    shop = pages.get("/v/shop")
    assert shop.status_code == 200 and 'id="balance">25<' in shop.text
    done = pages.post(f"/v/shop/{item.id}/redeem", data={"quantity": "1"})
    assert done.status_code == 200 and 'id="balance">15<' in done.text
    with sessions() as session:
        code = session.scalars(select(RedemptionRow.code)).one()
    shown = f"{code[:4]}-{code[4:]}"
    assert shown in done.text
    log_in_as(pages, "staff", "en")
    found = pages.get("/s/shop", params={"code": code.lower()})
    assert found.status_code == 200 and shown in found.text and "not used yet" in found.text
    used = pages.post("/s/shop/receipts/use", data={"code": shown})
    assert used.status_code == 200 and f"receipt {shown} used" in used.text
    again = pages.post("/s/shop/receipts/use", data={"code": shown})
    assert "was used already" in again.text
    log_in_as(pages, "helper1", "en")
    assert "used" in pages.get("/v/shop").text


def test_a_wish_is_posted_claimed_and_confirmed_through_the_pages(
    pages: TestClient, sessions: Sessions, world: World
) -> None:
    """A resident posts a wish; staff set 12 points; a helper claims it on the phone; staff
    confirm it; the helper's points page shows +12 for the micro-wish."""
    with sessions() as session:
        resident_id = session.scalars(select(ResidentRow.id).order_by(ResidentRow.id)).first()
        add_user(session, "resident1", PASSWORD, "resident", resident_id=resident_id)
        session.commit()
    log_in_as(pages, "resident1", "zh_CN")
    posted = pages.post("/r/wishes", data={"title": "一副老花镜", "kind": "thing"})
    assert posted.status_code == 200 and "一副老花镜" in posted.text
    wish_id = int(re.findall(r'id="wish-(\d+)"', posted.text)[0])
    log_in_as(pages, "staff", "en")
    set_points = pages.post(f"/s/wishes/{wish_id}/points", data={"points": "12"})
    assert f"wish {wish_id} saved" in set_points.text
    log_in_as(pages, "helper1", "en")
    claimed = pages.post(f"/v/wishes/{wish_id}/claim", data={})
    assert "Wish claimed" in claimed.text
    log_in_as(pages, "staff", "en")
    confirmed = pages.post(f"/s/wishes/{wish_id}/confirm", data={"next": "/s/wishes?show_=all"})
    assert f"wish {wish_id} confirmed: 12 points paid" in confirmed.text
    log_in_as(pages, "helper1", "en")
    mine = pages.get("/v/points")
    assert "+12" in mine.text and "Micro-wish fulfilled" in mine.text


def test_staff_keep_units_teams_and_items_and_bad_forms_say_why(
    pages: TestClient, world: World
) -> None:
    """Staff add a partner unit, a team and an item through the forms; a team naming a
    non-number, an item without a price and an unknown receipt code are refused with reasons."""
    log_in_as(pages, "staff", "en")
    unit = pages.post("/s/partners", data={"name": "幸福超市", "kind": "company"})
    assert "partner unit 幸福超市 added" in unit.text
    members = ", ".join(str(h) for h in world.helper_ids[:2])
    team = pages.post("/s/teams", data={"name": "红马甲", "helper_ids": members})
    assert "team 红马甲 added" in team.text
    assert "whole number" in pages.post("/s/teams", data={"name": "x", "helper_ids": "a"}).text
    item = pages.post(
        "/s/shop/items", data={"name": "理发券", "kind": "service", "price": "30", "stock": "5"}
    )
    assert "item 理发券 added" in item.text
    assert "whole number" in pages.post("/s/shop/items", data={"name": "y", "stock": "1"}).text
    assert "no receipt with code" in pages.get("/s/shop", params={"code": "ZZZZ-ZZZZ"}).text
    log_in_as(pages, "helper1", "en")
    assert "理发券" in pages.get("/v/shop").text
    assert "No open wishes right now." in pages.get("/v/wishes").text
