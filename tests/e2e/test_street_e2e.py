"""The street set-up page in a real browser: after ``qunbang street init`` of the example file,
its street staff log in with the printed password, open 街道设置 from the menu and see the
communities, grids, buildings, settings and catalogue settings; community staff see their own
community only."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from api.i18n import use_locale
from api.services.accounts.auth import add_user
from api.services.ledger.street_setup import init_street
from api.store.tables import Grid, OrderRow
from seeds import SEEDS_DIR
from tests.e2e.conftest import (
    PASSWORD,
    Site,
    heading_jumps,
    login,
    shot,
    unnamed_controls,
)


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
    expect(page.locator("#item-P20 input[name=price_yuan]")).to_have_value("80.50")
    expect(page.locator("#item-S05 input[name=enabled]")).not_to_be_checked()
    shot(page, "street-setup")
    page.context.clear_cookies()
    login(page, "dh-staff", passwords["dh-staff"])
    page.goto("/s/street")
    expect(page.locator("#community-DH")).to_contain_text("东湖社区")
    expect(page.locator("#community-XY")).to_have_count(0)


def test_street_staff_edit_the_street_and_residents_see_the_price(
    staff_page: Any, site: Site
) -> None:
    """Street staff rename a grid, disable an item and set a paid item's price on /s/street;
    a resident then sees the price on the order page and no longer finds the disabled item."""
    with site.sessions() as session:
        grid = session.scalars(select(Grid).order_by(Grid.id)).first()
        resident_id = session.scalars(select(OrderRow.resident_id).order_by(OrderRow.id)).first()
        assert grid is not None and resident_id is not None
        add_user(session, "resident1", PASSWORD, "resident", resident_id=resident_id)
        session.commit()
    page = staff_page
    login(page, "staff")
    page.goto("/s/street")
    assert unnamed_controls(page) == []
    row = page.locator("tr[id^='grid-']").first
    rename = row.locator("form.rename").first
    rename.locator("input[name=name]").fill("幸福网格")
    rename.get_by_role("button", name="改名").click()
    expect(page.locator(".notice")).to_contain_text("幸福网格")
    item = page.locator("#item-S01")
    item.locator("input[name=enabled]").uncheck()
    item.get_by_role("button", name="保存").click()
    expect(page.locator("#item-S01 input[name=enabled]")).not_to_be_checked()
    paid = page.locator("#item-P01")
    paid.locator("input[name=price_yuan]").fill("42")
    paid.get_by_role("button", name="保存").click()
    expect(page.locator("#item-P01 input[name=price_yuan]")).to_have_value("42.00")
    renamed = page.locator("tr[id^='grid-'] form.rename input[name=name]").first
    expect(renamed).to_have_value("幸福网格")
    shot(page, "street-edited")
    page.context.clear_cookies()
    login(page, "resident1")
    page.goto("/r/order")
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    expect(page.locator("label.choice", has_text="家庭保洁")).to_contain_text("42.00")
    expect(page.locator("input[name=item][value=S01]")).to_have_count(0)
    shot(page, "resident-order-price")
