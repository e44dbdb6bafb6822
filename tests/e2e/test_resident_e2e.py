"""The resident pages in a real browser at phone size (360×740): a resident logs in, orders a
service from the catalogue, sees it listed with its status, and cancels it with a reason;
labels, headings and no sideways scrolling."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.services.accounts.auth import add_user
from api.services.offers.assign import create_assignment, refresh_order_status
from api.store.statuses import AssignmentStatus, OrderStatus
from api.store.tables import FeedbackRow, ItemRow, OrderRow, utcnow
from tests.e2e.conftest import (
    MOBILE,
    PASSWORD,
    Site,
    heading_jumps,
    login,
    scroll_width,
    shot,
    unnamed_controls,
)


def resident_account(site: Site, resident_id: int | None = None) -> int:
    """An account ``resident1`` for the resident (by default: of the first seeded order); the
    resident's id."""
    with site.sessions() as session:
        if resident_id is None:
            resident_id = session.scalars(
                select(OrderRow.resident_id).order_by(OrderRow.id)
            ).first()
        assert resident_id is not None
        add_user(session, "resident1", PASSWORD, "resident", resident_id=resident_id)
        session.commit()
    return resident_id


def newest_order(site: Site, resident_id: int) -> OrderRow:
    with site.sessions() as session:
        order = session.scalars(
            select(OrderRow).where(OrderRow.resident_id == resident_id).order_by(OrderRow.id.desc())
        ).first()
        assert order is not None
        return order


def check_phone_page(page: Any) -> None:
    """Every control has a name, headings do not skip, nothing scrolls sideways."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert unnamed_controls(page) == []
    assert heading_jumps(page) == []
    assert scroll_width(page) <= MOBILE["width"]


def test_resident_orders_sees_it_and_cancels_it(volunteer_page: Any, site: Site) -> None:
    """A resident logs in on a phone, lands on their orders, orders a service for tomorrow
    morning with a note, sees it listed as waiting, and cancels it with a reason."""
    page = volunteer_page
    resident_id = resident_account(site)
    login(page, "resident1")
    assert page.url.endswith("/r/")
    assert page.get_by_role("heading", name="我的订单", exact=True).is_visible()
    shot(page, "resident-home")
    check_phone_page(page)

    page.get_by_role("link", name="我要点单").first.click()
    page.wait_for_url("**/r/order")
    check_phone_page(page)  # (unfolds every kind of service)
    page.reload()
    page.locator("details.group summary").first.click()  # a kind of service, unfolded
    first_item = page.locator('input[name="item"]').first
    first_item.check()
    item = first_item.get_attribute("value")
    page.get_by_label("上午（8:00–12:00）").check()
    page.get_by_label("备注").fill("请先打电话")
    shot(page, "resident-order")
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_url("**/r/?msg=*")
    assert "已下单" in page.locator(".notice").inner_text()

    placed = newest_order(site, resident_id)
    assert placed.note == "请先打电话" and placed.window_start == 8 * 60
    assert placed.item == item
    card = page.locator(f"#order-{placed.id}")
    assert "等待安排志愿者" in card.inner_text() and "请先打电话" in card.inner_text()
    shot(page, "resident-ordered")
    check_phone_page(page)  # (opens the cancel forms)
    page.reload()

    page.on("dialog", lambda dialog: dialog.accept())  # the "cancel this order?" question
    card.get_by_text("取消这个订单").click()  # unfold the cancel form
    card.get_by_label("原因", exact=True).select_option("plans_changed")
    card.get_by_role("button", name="取消订单").click()
    page.wait_for_url("**/r/?msg=*")
    assert "订单已取消" in page.locator(".notice").inner_text()
    assert "已取消" in page.locator(f"#order-{placed.id}").inner_text()
    assert newest_order(site, resident_id).status == OrderStatus.CANCELLED
    shot(page, "resident-cancelled")


def done_visit(site: Site) -> OrderRow:
    """An open one-person order taken by a helper who marked it done (in this test's copy)."""
    with site.sessions() as session:
        order = session.scalars(
            select(OrderRow)
            .join(ItemRow, ItemRow.code == OrderRow.item)
            .where(OrderRow.status == OrderStatus.OPEN, ItemRow.team_size == 1)
            .order_by(OrderRow.id)
        ).first()
        assert order is not None, "the seeded street has an open one-person order"
        helper_id = next(iter(site.street.helpers.values()))
        assignment = create_assignment(session, site.settings, order, [helper_id],
                                       source="manual", start_minute=order.window_start,
                                       accepted=[helper_id])  # fmt: skip
        assignment.status, assignment.done_at = AssignmentStatus.DONE, utcnow()
        session.flush()
        refresh_order_status(session, order)
        session.commit()
        return order


def test_resident_rates_a_done_visit(volunteer_page: Any, site: Site) -> None:
    """A resident whose visit is done sees who came (first name only) and rates it 2 with a
    comment; the rating is stored once and shown on the card instead of the form."""
    page = volunteer_page
    order = done_visit(site)
    resident_account(site, order.resident_id)
    login(page, "resident1")
    card = page.locator(f"#order-{order.id}")
    assert "已完成" in card.inner_text() and "上门志愿者" in card.inner_text()
    card.get_by_label("不满意", exact=True).check()
    card.get_by_label("补充说明（可不填）").fill("来晚了半小时")
    shot(page, "resident-rating")
    card.get_by_role("button", name="提交评价").click()
    page.wait_for_url("**/r/?msg=*")
    assert "谢谢您的评价" in page.locator(".notice").inner_text()
    card = page.locator(f"#order-{order.id}")
    assert "2 分" in card.inner_text() and card.locator("form").count() == 0
    with site.sessions() as session:
        feedback = session.scalars(
            select(FeedbackRow).where(FeedbackRow.order_id == order.id)
        ).one()
        assert (feedback.score, feedback.comment) == (2, "来晚了半小时")
