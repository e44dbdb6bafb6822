"""The ledger's kinds in a real browser: street staff open 管理型 from the menu, add a person
the office looks after through grid visits and see them listed; on a resident's page they
record that the resident is also a helper, and both pages show it."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from api.store.tables import HelperRow, ResidentRow
from tests.e2e.conftest import Site, heading_jumps, login, shot, unnamed_controls


def test_staff_add_a_management_type_person_and_link_the_same_person(
    staff_page: Any, site: Site
) -> None:
    """A management-type person added on /s/managed is listed there; a resident linked to a
    helper's code shows the helper, and the helper's page shows the resident."""
    with site.sessions() as session:
        resident = session.scalars(select(ResidentRow).order_by(ResidentRow.id)).first()
        helper = session.scalars(select(HelperRow).order_by(HelperRow.id)).first()
        assert resident is not None and helper is not None
        resident_id, helper_id, helper_code = resident.id, helper.id, helper.code
    page = staff_page
    login(page, "staff")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="管理型").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("管理型人员")
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    page.get_by_label("台账编号").fill("M-001")
    page.get_by_label("姓名").fill("关注对象甲")
    page.get_by_label("关注原因").fill("独居，每周走访")
    page.get_by_role("button", name="添加").click()
    expect(page.locator(".notice")).to_contain_text("M-001")
    expect(page.locator("#managed-M-001")).to_contain_text("独居，每周走访")
    shot(page, "managed-people")
    page.goto(f"/s/residents/{resident_id}")
    page.get_by_label("与该志愿者为同一人（编号）").fill(helper_code.lower())
    page.locator("#same-person-form").get_by_role("button", name="保存").click()
    expect(page.locator("#same-person")).to_contain_text(helper_code)
    page.goto(f"/s/helpers/{helper_id}")
    expect(page.locator("#same-person")).to_contain_text(resident.name)
