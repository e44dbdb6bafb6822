"""Abuse resistance in a real browser: the main pages run under the strict Content-Security-
Policy without a violation or a JavaScript error (the page fixtures fail on either), Back after
a logout shows no personal data, and a form sent after the login expired comes back to its page
after logging in again."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update

from api.store.tables import ResidentRow, TokenRow
from tests.e2e.conftest import Site, login, make_roomy

STAFF_PAGES = ("/s/", "/s/residents", "/s/helpers", "/s/map", "/s/orders/new", "/s/import/helpers")
VOLUNTEER_PAGES = ("/v/", "/v/claim", "/v/points")


def expire_logins(site: Site) -> None:
    with site.sessions() as session:
        session.execute(update(TokenRow).values(revoked=True))
        session.commit()


def test_staff_pages_run_under_the_strict_policy(staff_page: Any, site: Site) -> None:
    """Every main staff page answers with the strict CSP and no-store, and the browser reports
    no CSP violation and no script error on any of them (checked by the page fixture)."""
    page = staff_page
    login(page, "staff")
    for path in STAFF_PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        headers = response.headers
        assert "script-src 'self';" in headers["content-security-policy"], path
        assert headers["cache-control"] == "no-store", path
        # the page's own script ran (it marks nothing, but a blocked script would be reported)
        assert page.evaluate("typeof document.querySelectorAll") == "function"


def test_volunteer_pages_and_their_forms_work_under_the_policy(
    volunteer_page: Any, site: Site
) -> None:
    """The volunteer pages show without a CSP violation, and a claim form (with its CSRF
    field) still goes through."""
    page = volunteer_page
    username = site.street.idle_helper()
    make_roomy(site, username)
    login(page, username)
    for path in VOLUNTEER_PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
    page.goto("/v/claim")
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("button", name="认领", exact=True)
    )
    assert card.first.locator('input[name="csrf_token"]').count() == 1
    card.first.get_by_role("button", name="认领", exact=True).click()
    page.wait_for_url(re.compile(r"/v/\?msg="))
    assert page.get_by_role("status").inner_text() == "认领成功，居民的联系方式已显示"


def test_back_after_logout_shows_no_resident(staff_page: Any, site: Site) -> None:
    """After logging out, the browser's Back button asks the server again (the page was not
    stored) and lands on the login page: no resident's name or phone is shown."""
    page = staff_page
    login(page, "staff")
    page.goto("/s/residents")
    with site.sessions() as session:
        first = session.scalars(select(ResidentRow).order_by(ResidentRow.id)).first()
        assert first is not None
    assert first.name in page.content()
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.go_back()
    page.wait_for_load_state()
    assert "/login" in page.url
    assert first.name not in page.content() and first.phone not in page.content()


def test_a_claim_after_the_login_expired_returns_to_the_claim_page(
    volunteer_page: Any, site: Site
) -> None:
    """A claim pressed after the login expired leads to the login page saying so; logging in
    again returns to the nearby orders (not a raw 405 or JSON), where the claim succeeds."""
    page = volunteer_page
    username = site.street.idle_helper()
    make_roomy(site, username)
    login(page, username)
    page.goto("/v/claim")
    expire_logins(site)
    claim = page.get_by_role("button", name="认领", exact=True).first
    claim.click()
    page.wait_for_url(re.compile(r"/login\?"))
    assert page.get_by_role("status").inner_text() == "登录已过期，请重新登录"
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("correct-horse-9")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/v/claim$"))
    assert page.get_by_role("heading", level=1).inner_text() == "附近可认领"
    page.get_by_role("button", name="认领", exact=True).first.click()
    page.wait_for_url(re.compile(r"/v/\?msg="))
    assert page.get_by_role("status").inner_text() == "认领成功，居民的联系方式已显示"
