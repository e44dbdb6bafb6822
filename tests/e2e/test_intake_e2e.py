"""Intake in a real browser (issue 11), with the street's review step on: a grid worker enters an
order for a resident of their grid on a phone; staff make a family account on the resident's
page and the daughter orders for her mother on her phone; community staff approve one order and
reject another, and the requester reads the reason on their phone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select, update

from api.services.accounts.auth import add_user
from api.services.actor import actor_of
from api.services.offers.assign import local_today
from api.services.orders import OrderSpec, place_order
from api.store.statuses import OrderStatus
from api.store.tables import OrderRow, ResidentRow, Street, UserRow
from tests.e2e.conftest import MOBILE, PASSWORD, Site, heading_jumps, login, scroll_width, shot
from tests.e2e.conftest import unnamed_controls as unnamed


def first_resident(site: Site) -> ResidentRow:
    """The street reviews orders; its first community's first resident (with a grid)."""
    with site.sessions() as session:
        session.execute(update(Street).values(review_orders=True))
        session.commit()
        resident = session.scalars(
            select(ResidentRow)
            .where(ResidentRow.community_id == site.street.communities[0])
            .order_by(ResidentRow.id)
        ).first()
        assert resident is not None and resident.grid_id is not None
        return resident


def newest(site: Site) -> OrderRow:
    with site.sessions() as session:
        order = session.scalars(select(OrderRow).order_by(OrderRow.id.desc())).first()
        assert order is not None
        return order


def phone_ok(page: Any) -> None:
    """Every control named, no skipped heading, nothing scrolls sideways at 360 px."""
    assert unnamed(page) == [] and heading_jumps(page) == []
    assert scroll_width(page) <= MOBILE["width"]


def order_first_item(page: Any, note: str) -> None:
    """On the order form: the first kind of service, its first item, the morning, a note."""
    page.locator("details.group summary").first.click()
    page.locator('input[name="item"]').first.check()
    page.get_by_label("上午（8:00–12:00）").check()
    page.get_by_label("备注").fill(note)
    page.get_by_role("button", name="提交订单").click()


def test_a_grid_worker_enters_an_order(volunteer_page: Any, site: Site) -> None:
    """A grid worker logs in on a phone, finds a resident of their grid, orders for them, and
    sees the order on the grid's list waiting for the community's review."""
    page = volunteer_page
    resident = first_resident(site)
    with site.sessions() as session:
        add_user(session, "gw1", PASSWORD, "grid_worker", street_id=resident.street_id,
                 community_id=resident.community_id, grid_id=resident.grid_id,
                 display_name="赵网格")  # fmt: skip
        session.commit()
    login(page, "gw1")
    assert page.url.endswith("/g/")
    card = page.locator(f"#resident-{resident.id}")
    assert resident.name in card.inner_text()
    phone_ok(page)
    shot(page, "grid-home")
    card.get_by_role("link", name="为其下单").click()
    page.wait_for_url(f"**/g/order?resident_id={resident.id}")
    assert resident.name in page.locator("#ordering-for").inner_text()
    order_first_item(page, "老人独居，请先电话联系")
    page.wait_for_url("**/g/orders?msg=*")
    placed = newest(site)
    assert placed.resident_id == resident.id and placed.status == OrderStatus.REVIEW
    assert "社区审核中" in page.locator(f"#order-{placed.id}").inner_text()
    phone_ok(page)
    shot(page, "grid-ordered")


def test_a_family_member_is_linked_and_orders_for_her_mother(
    staff_page: Any, volunteer_page: Any, site: Site
) -> None:
    """Community staff make a family account on the mother's page (the password shown once);
    the daughter logs in on her phone with it, orders for her mother, and sees the order."""
    mother = first_resident(site)
    staff_page.set_default_timeout(8000)
    login(staff_page, "staff_c1")
    staff_page.goto(f"/s/residents/{mother.id}")
    staff_page.get_by_text("创建家属账号").click()
    staff_page.get_by_label("家属姓名").fill("李女儿")
    staff_page.get_by_label("手机号（作为登录账号）").fill("13900001111")
    staff_page.get_by_label("关系（如：女儿）").fill("女儿")
    staff_page.get_by_role("button", name="创建账号").click()
    staff_page.wait_for_url(f"**/s/residents/{mother.id}/family")
    password = staff_page.locator("#family-password").inner_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", password)
    shot(staff_page, "family-account-made")

    page = volunteer_page
    login(page, "13900001111", password)
    assert page.url.endswith("/r/")
    assert mother.name in page.locator("#acting-for").inner_text()
    page.get_by_role("link", name="我要点单").first.click()
    page.wait_for_url("**/r/order")
    order_first_item(page, "妈妈腿脚不便")
    page.wait_for_url("**/r/?msg=*")
    placed = newest(site)
    assert placed.resident_id == mother.id and placed.status == OrderStatus.REVIEW
    with site.sessions() as session:
        daughter = session.scalars(select(UserRow).where(UserRow.username == "13900001111")).one()
        assert placed.placed_by == daughter.id
    assert "社区审核中" in page.locator(f"#order-{placed.id}").inner_text()
    phone_ok(page)
    shot(page, "family-ordered")


def test_staff_approve_one_reject_one_and_the_requester_reads_why(
    staff_page: Any, volunteer_page: Any, site: Site
) -> None:
    """Two orders a resident placed wait on the review page; staff approve one (it goes to
    matching) and reject the other with a reason, which the resident then reads on her phone."""
    resident = first_resident(site)
    day = local_today(site.settings) + dt.timedelta(days=1)
    with site.sessions() as session:
        account = add_user(session, "mother", PASSWORD, "resident", resident_id=resident.id)
        session.commit()
        asker = actor_of(account)
        approve = place_order(session, site.settings, asker, OrderSpec(item="L01", date=day)).id
        reject = place_order(session, site.settings, asker, OrderSpec(item="L01", date=day)).id
    login(staff_page, "staff_c1")
    staff_page.goto("/s/review")
    shot(staff_page, "review-queue")
    staff_page.locator(f"#order-{approve}").get_by_role("button", name="通过").click()
    staff_page.wait_for_url("**/s/review?msg=*")
    staff_page.on("dialog", lambda dialog: dialog.accept())  # "reject this order?"
    card = staff_page.locator(f"#order-{reject}")
    card.get_by_text("退回", exact=True).click()
    card.get_by_label("退回原因（下单人可见）").fill("本周助浴已排满，请下周再约")
    card.get_by_role("button", name="退回订单").click()
    staff_page.wait_for_url("**/s/review?msg=*")
    assert staff_page.locator(f"#order-{reject}").count() == 0
    with site.sessions() as session:
        assert session.get_one(OrderRow, approve).status == OrderStatus.OPEN
        assert session.get_one(OrderRow, reject).status == OrderStatus.REJECTED

    page = volunteer_page
    login(page, "mother")
    card = page.locator(f"#order-{reject}")
    assert "未通过审核" in card.inner_text() and "本周助浴已排满" in card.inner_text()
    assert "等待安排志愿者" in page.locator(f"#order-{approve}").inner_text()
    phone_ok(page)
    shot(page, "resident-rejected")
