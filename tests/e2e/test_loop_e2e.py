"""Closing an order's loop in a real browser: staff find a visit a helper marked done in the
order list, confirm it on its page, enter the score a resident gave on the phone, and grant the
helper a bonus on their page; a volunteer reads their messages in the inbox. Every page is
labelled and its headings in order; screenshots under tests/artifacts/."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from api.services.closing import points
from api.services.offers.answers import mark_done
from api.services.offers.assign import create_assignment, local_today
from api.services.orders import OrderSpec, place_order
from api.store.tables import FollowUpRow, HelperRow, NotificationRow, OrderRow, ResidentRow
from tests.api.conftest import actor_named
from tests.e2e.conftest import Site, heading_jumps, login, shot, unnamed_controls

ITEM = "S01"  # 陪伴聊天: one person, 6 points in seeds/catalogue.yaml
BASE = 6


def done_visit(site: Site) -> tuple[int, int, str]:
    """An order of today that helper1 took and marked done: (order id, helper id, helper's
    name)."""
    helper_id = site.street.helpers["helper1"]
    with site.sessions() as session:
        resident = session.scalars(
            select(ResidentRow).where(ResidentRow.active).order_by(ResidentRow.id)
        ).first()
        assert resident is not None
        staff = actor_named(session, "staff")
        spec = OrderSpec(item=ITEM, date=local_today(site.settings), resident_id=resident.id)
        view = place_order(session, site.settings, staff, spec)
        order = session.get_one(OrderRow, view.id)
        assignment = create_assignment(
            session,
            site.settings,
            order,
            [helper_id],
            source="manual",
            start_minute=600,
            accepted=[helper_id],
        )
        assignment.override_reason = "tests: given by hand"
        session.commit()
        mark_done(session, site.settings, helper_id, assignment.id)
        return order.id, helper_id, session.get_one(HelperRow, helper_id).name


def test_staff_confirm_a_done_visit_enter_feedback_and_grant_a_bonus(
    staff_page: Any, site: Site
) -> None:
    """From the menu's order list (done visits), the order's page: confirm the visit (the
    helper gets the item's points), enter a score of 2 with the resident's words (a follow-up
    is scheduled), then on the helper's page grant 5 bonus points with a reason."""
    order_id, helper_id, helper_name = done_visit(site)
    page = staff_page
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, "staff")
    page.get_by_role("navigation", name="主菜单").get_by_role(
        "link", name="订单", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("订单")
    page.get_by_label("状态").select_option("done")
    page.get_by_role("button", name="查看").click()
    row = page.locator(f"#order-{order_id}")
    expect(row).to_contain_text("已完成")
    expect(row.get_by_role("checkbox", name=f"确认订单 {order_id}")).to_be_visible()
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    shot(page, "staff-orders")

    row.get_by_role("link", name=str(order_id), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"订单 {order_id}")
    expect(page.locator("main")).to_contain_text(helper_name)
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    page.get_by_role("button", name="确认服务完成").click()
    expect(page.get_by_role("status")).to_have_text(f"订单 {order_id} 的上门服务已确认")
    expect(page.locator("h1 .badge")).to_have_text("已确认")

    page.get_by_label("2 分", exact=True).check()
    page.get_by_label("居民的话（可不填）").fill("志愿者来晚了")
    page.get_by_role("button", name="保存评价").click()
    expect(page.get_by_role("status")).to_contain_text("已安排回访")
    expect(page.locator("#score")).to_have_text("2 分")
    expect(page.locator("main")).to_contain_text("志愿者来晚了")
    shot(page, "staff-order-closed")

    page.get_by_role("link", name=helper_name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(helper_name)
    expect(page.locator("#balance")).to_have_text(str(BASE))
    page.get_by_label("赠分数").fill("5")
    page.locator("#bonus").get_by_label("原因").fill("雪天坚持上门")
    page.get_by_role("button", name="赠送积分").click()
    expect(page.get_by_role("status")).to_have_text("已赠送 5 积分")
    expect(page.locator("#balance")).to_have_text(str(BASE + 5))
    expect(page.locator("main")).to_contain_text("雪天坚持上门")
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    shot(page, "staff-helper-points")
    with site.sessions() as session:
        assert session.get_one(OrderRow, order_id).status == "confirmed"
        assert points.balance(session, helper_id) == BASE + 5
        assert session.scalars(select(FollowUpRow.order_id)).all() == [order_id]


def test_a_volunteer_reads_their_messages(volunteer_page: Any, site: Site) -> None:
    """A helper with offers opens 我的消息 from the home page: their offer messages, in Chinese,
    newest first; the page is labelled."""
    username = site.street.helper_with(1)
    page = volunteer_page
    login(page, username)
    page.get_by_role("link", name="我的消息：派单、提醒、变更").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我的消息")
    cards = page.locator("li.card")
    expect(cards.first).to_contain_text("派单")
    with site.sessions() as session:
        mine = session.scalars(
            select(NotificationRow.id)
            .where(NotificationRow.helper_id == site.street.helpers[username])
            .order_by(NotificationRow.id.desc())
        ).all()
    assert len(mine) >= site.street.offers[username]
    shown = [
        int(i.removeprefix("message-")) for i in cards.evaluate_all("els => els.map(e => e.id)")
    ]
    assert shown == list(mine)
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    shot(page, "volunteer-inbox")
