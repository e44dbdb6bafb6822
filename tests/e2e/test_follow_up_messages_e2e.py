"""Result fed back and follow-ups in a real browser: a resident sees "helper found" then "done"
in their phone inbox; staff see the follow-up the street's rules scheduled flagged overdue, and
the message about it in their own inbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from api.services.actor import actor_of
from api.services.closing.visits import confirm_done
from api.services.messages.watch import watch_deadlines
from api.services.offers.answers import accept
from api.services.offers.assign import create_assignment, to_utc
from api.store.statuses import OrderStatus
from api.store.tables import (
    AssignmentRow,
    FollowUpRow,
    ItemRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    Street,
    UserRow,
)
from tests.e2e.conftest import Site, login, shot
from tests.e2e.test_resident_e2e import resident_account


def _user(site: Site, username: str) -> UserRow:
    with site.sessions() as session:
        return session.scalars(select(UserRow).where(UserRow.username == username)).one()


def offered_order(site: Site) -> tuple[int, int, int]:
    """An open one-person order owned by ``staff`` and offered to one helper: (order, helper,
    offer)."""
    staff = _user(site, "staff")
    with site.sessions() as session:
        order = session.scalars(
            select(OrderRow)
            .join(ItemRow, ItemRow.code == OrderRow.item)
            .where(OrderRow.status == OrderStatus.OPEN, ItemRow.team_size == 1)
            .order_by(OrderRow.id)
        ).first()
        assert order is not None, "the seeded street has an open one-person order"
        order.owner_id = staff.id
        helper_id = next(iter(site.street.helpers.values()))
        start = order.window_start
        assignment = create_assignment(session, site.settings, order, [helper_id],
                                       source="manual", start_minute=start)  # fmt: skip
        assignment.override_reason = "e2e: given by hand"
        session.commit()
        offer_id = assignment.offers[0].id
        return order.id, helper_id, offer_id


def test_resident_sees_matched_then_done_and_staff_see_the_overdue_follow_up(
    volunteer_page: Any, staff_page: Any, site: Site
) -> None:
    """The helper accepts: the resident's inbox shows "helper found"; staff confirm the visit:
    it shows "done" above it. The street follows up every visit to the resident's category, so
    confirming scheduled a follow-up; once past its day it is flagged on the follow-ups page
    (filter "overdue") and the staff member who owns it finds it in their messages."""
    order_id, helper_id, offer_id = offered_order(site)
    with site.sessions() as session:
        order = session.get_one(OrderRow, order_id)
        resident = session.get_one(ResidentRow, order.resident_id)
        session.execute(
            update(Street)
            .where(Street.id == site.street.street_id)
            .values(follow_up_categories=[resident.category], follow_up_days=1)
        )
        session.commit()
    resident_account(site, order.resident_id)  # the resident's own account: told the result
    with site.sessions() as session:
        accept(session, site.settings, helper_id, offer_id)
    phone = volunteer_page
    login(phone, "resident1")
    phone.get_by_role("link", name="我的消息").click()
    phone.wait_for_url("**/r/inbox")
    assert "已接单" in phone.locator(".cards").inner_text()

    on_the_day = to_utc(site.settings, order.date, 12 * 60)
    with site.sessions() as session:
        assignment = session.scalars(
            select(AssignmentRow).join(OfferRow).where(OfferRow.id == offer_id)
        ).one()
        assignment.status, assignment.done_at = "done", on_the_day
        session.commit()
        staff = actor_of(_user(site, "staff"))
        confirm_done(session, site.settings, staff, order_id, now=on_the_day)
    phone.reload()
    kinds = phone.locator(".cards h2").all_inner_texts()
    assert kinds[:2] == ["已办结", "已接单"], kinds
    shot(phone, "resident-inbox")

    with site.sessions() as session:
        follow_up = session.scalars(
            select(FollowUpRow).where(FollowUpRow.order_id == order_id)
        ).one()
        assert follow_up.reason == "category"
        past = dt.date.today() - dt.timedelta(days=2)
        follow_up.due_date = past
        session.commit()
        watch_deadlines(session, site.settings)
    desk = staff_page
    login(desk, "staff")
    desk.goto("/s/follow-ups?show_=overdue")
    card = desk.locator(f"#follow-up-{follow_up.id}")
    assert "已逾期" in card.inner_text() and "重点人群" in card.inner_text()
    shot(desk, "staff-follow-ups-overdue")
    desk.get_by_role("link", name="我的提醒").click()
    desk.wait_for_url("**/s/inbox")
    assert "回访逾期" in desk.locator(".cards").inner_text()
    shot(desk, "staff-inbox")
