"""The language switch in a real browser: a signed-in volunteer picks English from the page
header, the page comes back in English, and the choice follows the account to another device
(a fresh browser whose language is Chinese)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from api.store.tables import UserRow
from tests.e2e.conftest import MOBILE, Site, login


def test_the_header_switch_keeps_the_choice_on_the_account(
    volunteer_page: Any, browser: Any, site: Site
) -> None:
    """Clicking "English" in the header of a signed-in page stores the choice: the page is
    English at once, and another browser (Chinese, no cookie) shows English after the login."""
    page = volunteer_page
    login(page, "helper1")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert page.url.endswith("/v/")
    with site.sessions() as session:
        stored = session.scalars(select(UserRow.language).where(UserRow.username == "helper1"))
        assert stored.one() == "en"
    other = browser.new_context(viewport=MOBILE, base_url=site.url, locale="zh-CN")
    try:
        elsewhere = other.new_page()
        login(elsewhere, "helper1")  # the login form itself follows the browser: Chinese
        expect(elsewhere.locator("html")).to_have_attribute("lang", "en")
        expect(elsewhere.get_by_role("button", name="中文")).to_be_visible()
    finally:
        other.close()
