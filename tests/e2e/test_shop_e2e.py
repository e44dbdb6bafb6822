"""The points shop and the micro-wish board in a real browser: a helper redeems an item on the
phone and sees the receipt's code; staff check the code at the desk and mark it used; a wish is
posted by staff, claimed by a helper on the phone and confirmed by staff, its points paid."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from api.services.actor import actor_of
from api.services.closing import points
from api.services.shop import items
from api.store.tables import RedemptionRow, ResidentRow, UserRow
from tests.e2e.conftest import Site, heading_jumps, login, scroll_width, shot, unnamed_controls


def staff_of(site: Site) -> Any:
    with site.sessions() as session:
        return actor_of(session.scalars(select(UserRow).where(UserRow.username == "staff")).one())


def test_a_helper_redeems_on_the_phone_and_staff_use_the_receipt(
    volunteer_page: Any, staff_page: Any, site: Site
) -> None:
    """The phone shop shows balance 30; redeeming the glasses shows a receipt code and balance
    20; at the desk staff type the code, see the receipt, and mark it used."""
    helper = site.street.idle_helper()
    staff = staff_of(site)
    with site.sessions() as session:
        item = items.add_item(session, staff, "老花镜", "goods", 10, 3)
        points.grant_bonus(session, staff, site.street.helpers[helper], 30, "测试")
    phone = volunteer_page
    login(phone, helper)
    phone.goto("/v/shop")
    assert phone.locator("#balance").inner_text() == "30"
    assert unnamed_controls(phone) == [] and heading_jumps(phone) == []
    phone.locator(f"#item-{item.id}").get_by_role("button", name="兑换").click()
    phone.wait_for_url(re.compile(r"/v/shop\?msg="))
    assert phone.locator("#balance").inner_text() == "20"
    code = phone.locator(".receipt-code").first.inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert scroll_width(phone) <= 360
    shot(phone, "shop-receipt")
    with site.sessions() as session:
        assert session.scalars(select(RedemptionRow.status)).one() == "issued"

    desk = staff_page
    login(desk, "staff")
    desk.goto("/s/shop")
    desk.get_by_label("兑换码").fill(code.replace("-", "").lower())
    desk.get_by_role("button", name="核验").click()
    assert desk.locator("#receipt-status").inner_text() == "未使用"
    desk.get_by_role("button", name="已交付，核销").click()
    desk.wait_for_url(re.compile(r"/s/shop\?code="))
    assert desk.locator("#receipt-status").inner_text() == "已使用"
    shot(desk, "shop-receipt-used")
    with site.sessions() as session:
        assert session.scalars(select(RedemptionRow.status)).one() == "used"


def test_a_wish_is_posted_claimed_and_confirmed(
    volunteer_page: Any, staff_page: Any, site: Site
) -> None:
    """Staff post a 15-point wish for a resident; a helper claims it on the phone and then
    sees whom it is for; staff confirm it fulfilled; the helper's points show +15."""
    helper = site.street.idle_helper()
    with site.sessions() as session:
        resident = session.scalars(
            select(ResidentRow).where(ResidentRow.street_id == site.street.street_id)
        ).first()
        assert resident is not None
    desk = staff_page
    login(desk, "staff")
    desk.goto("/s/wishes")
    desk.get_by_label("居民编号").fill(str(resident.id))
    desk.get_by_label("心愿内容").fill("春节前理个发")
    desk.locator("#wish-kind").select_option("service")
    desk.locator("#wish-points").fill("15")
    desk.get_by_role("button", name="发布心愿").click()
    desk.wait_for_url(re.compile(r"/s/wishes\?msg="))
    wish = desk.locator(".card", has_text="春节前理个发")
    wish_id = (wish.get_attribute("id") or "").removeprefix("wish-")
    assert wish_id.isdigit()

    phone = volunteer_page
    login(phone, helper)
    phone.goto("/v/wishes")
    card = phone.locator(f"#wish-{wish_id}")
    assert resident.name not in card.inner_text()  # not before claiming
    card.get_by_role("button", name="认领这个心愿").click()
    phone.wait_for_url(re.compile(r"/v/wishes\?msg="))
    assert resident.name in phone.locator(f"#wish-{wish_id}").inner_text()
    assert scroll_width(phone) <= 360
    shot(phone, "wish-claimed")

    desk.goto("/s/wishes?show_=claimed")
    desk.locator(f"#wish-{wish_id}").get_by_role("button", name="确认已实现").click()
    desk.wait_for_url(re.compile(r"msg="))
    assert "共发放 15 积分" in desk.locator("body").inner_text()

    phone.goto("/v/points")
    assert phone.locator("#balance").inner_text() == "15"
    assert "微心愿积分" in phone.locator("body").inner_text()
