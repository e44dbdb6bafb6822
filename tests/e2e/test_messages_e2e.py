"""The staff messages page in a real browser: staff find a message that failed to send,
resend it from the page, and see it waiting for the next round; the page speaks English after
the language switch, and every control on it is named."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from api.services.messages.notify import enqueue
from api.services.messages.outbox import MAX_ATTEMPTS
from api.store.tables import AuditEntry, HelperRow, NotificationRow
from tests.e2e.conftest import Site, heading_jumps, login, shot, unnamed_controls

ERROR = "HTTPStatusError: Server error '503 Service Unavailable'"


def seed_messages(site: Site) -> tuple[int, int, int, str]:
    """Three messages to the street's first helper, newer than the offers the nightly run
    queued: one that failed MAX_ATTEMPTS times, one pending after a failure and one sent;
    their ids and the helper's name."""
    with site.sessions() as session:
        helper = session.get_one(HelperRow, min(site.street.helpers.values()))
        rows = [
            enqueue(
                session,
                helper_id=helper.id,
                kind=kind,
                text_zh=f"测试消息 {kind}",
                text_en=f"test message {kind}",
            )
            for kind in ("offer", "reminder", "change")
        ]
        failed, pending, sent = (row for row in rows if row is not None)
        session.flush()
        failed.status, failed.attempts, failed.last_error = "failed", MAX_ATTEMPTS, ERROR
        pending.attempts, pending.last_error = 1, ERROR
        sent.status = "sent"
        session.commit()
        return failed.id, pending.id, sent.id, helper.name


def test_staff_resend_a_failed_message_from_the_page(staff_page: Any, site: Site) -> None:
    """Staff open 消息 from the menu and see the failed and the pending messages (kind,
    helper, attempts, last error), not the sent one; 重新发送 on the failed one makes it
    pending again with no attempts, says so, and is audited."""
    failed_id, pending_id, sent_id, helper_name = seed_messages(site)
    page = staff_page
    login(page, "staff")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="消息").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("消息发送")
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    expect(page.locator(f"#message-{sent_id}")).to_have_count(0)  # not listed by default
    failed_row = page.locator(f"#message-{failed_id}")
    for text in ("派单", helper_name, "发送失败", str(MAX_ATTEMPTS), "503 Service Unavailable"):
        expect(failed_row).to_contain_text(text)
    pending_row = page.locator(f"#message-{pending_id}")
    expect(pending_row).to_contain_text("待发送")
    expect(pending_row.get_by_role("button")).to_have_count(0)  # only failed ones are resent
    shot(page, "staff-messages")
    failed_row.get_by_role("button", name="重新发送").click()
    expect(page.get_by_role("status")).to_contain_text(f"消息 {failed_id} 将在下一轮重新发送")
    expect(failed_row).to_contain_text("待发送")
    expect(failed_row.get_by_role("button")).to_have_count(0)
    with site.sessions() as session:
        message = session.get_one(NotificationRow, failed_id)
        assert (message.status, message.attempts, message.next_attempt_at) == ("pending", 0, None)
        actions = session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity == "notification", AuditEntry.entity_id == str(failed_id)
            )
        ).all()
        assert actions == ["notification.resend"]


def test_the_messages_page_in_english(staff_page: Any, site: Site) -> None:
    """After the language switch the page, its filter and its button are in English only."""
    failed_id, *_others = seed_messages(site)
    page = staff_page
    login(page, "staff")
    page.goto("/lang/en")
    page.goto("/s/messages?status=failed")
    expect(page.get_by_role("heading", level=1)).to_have_text("Messages")
    expect(page.get_by_label("Status")).to_have_value("failed")
    row = page.locator(f"#message-{failed_id}")
    expect(row).to_contain_text("offer")
    expect(row.get_by_role("button", name="Resend")).to_be_visible()
    assert "重新发送" not in page.locator("main").inner_text()
    shot(page, "staff-messages-en")
