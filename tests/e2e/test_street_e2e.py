"""The street set-up page in a real browser: after ``qunbang street init`` of the example file,
its street staff log in with the printed password, open 街道设置 from the menu and see the
communities, grids, buildings, settings and catalogue settings; community staff see their own
community only."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from api.i18n import use_locale
from api.services.ledger.street_setup import init_street
from seeds import SEEDS_DIR
from tests.e2e.conftest import Site, heading_jumps, login, shot, unnamed_controls


def test_street_staff_see_the_street_set_up_from_its_file(staff_page: Any, site: Site) -> None:
    """The example file's street shows on /s/street as the file describes it."""
    with use_locale("en"):
        result = init_street(site.sessions, SEEDS_DIR / "example-street.yaml")
    passwords = dict(result.passwords)
    page = staff_page
    login(page, "qs-admin", passwords["qs-admin"])
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="街道设置").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("街道设置")
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    expect(page.locator("#street-settings")).to_contain_text("青山街道")
    expect(page.locator("#street-settings")).to_contain_text("须经社区工作人员审核")
    for code, name in (("DH", "东湖社区"), ("XY", "新苑社区")):
        expect(page.locator(f"#community-{code}")).to_contain_text(name)
    expect(page.locator("#community-XY")).to_contain_text("新苑小区A1栋")
    expect(page.locator("#item-P20")).to_contain_text("80.50")
    expect(page.locator("#item-S05")).to_contain_text("否")
    shot(page, "street-setup")
    page.context.clear_cookies()
    login(page, "dh-staff", passwords["dh-staff"])
    page.goto("/s/street")
    expect(page.locator("#community-DH")).to_contain_text("东湖社区")
    expect(page.locator("#community-XY")).to_have_count(0)
