"""Care circles in a real browser: street staff open a resident's 帮扶圈 from the resident's
page, add a helper by ledger code, see the resident on that helper's circles page, take the
helper out and add them again; the run page counts the residents meeting the street's target."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from api.store.tables import HelperRow, ResidentRow
from tests.e2e.conftest import Site, heading_jumps, login, shot, unnamed_controls


def test_staff_add_and_remove_a_circle_member_and_see_the_helpers_list(
    staff_page: Any, site: Site
) -> None:
    """Adding by code lists the helper in the circle and the resident on the helper's circles
    page; taking them out moves them to 已移出 (by staff) and off the helper's list; adding
    again brings them back."""
    with site.sessions() as session:
        resident = session.scalars(
            select(ResidentRow)
            .where(ResidentRow.street_id == site.street.street_id)
            .order_by(ResidentRow.id)
        ).first()
        helper = session.scalars(
            select(HelperRow)
            .where(HelperRow.street_id == site.street.street_id)
            .order_by(HelperRow.id.desc())
        ).first()
        assert resident is not None and helper is not None
        resident_id, helper_id, code, name = resident.id, helper.id, helper.code, helper.name
    page = staff_page
    login(page, "staff")
    expect(page.locator("#circle-targets")).to_contain_text("帮扶圈")
    page.goto(f"/s/residents/{resident_id}")
    page.locator("#circle-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("帮扶圈")
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    page.get_by_label("志愿者台账编号").fill(code)
    page.get_by_role("button", name="加入帮扶圈").click()
    expect(page.locator(".notice")).to_have_text("已加入帮扶圈")
    member = page.locator(f"#member-{helper_id}")
    expect(member).to_contain_text(name)
    shot(page, "circle-added")
    page.goto(f"/s/helpers/{helper_id}")
    page.locator("#circles-link").click()
    expect(page.locator(f"#circle-{resident_id}")).to_be_visible()
    page.locator(f"#circle-{resident_id} a").click()
    page.locator(f"#member-{helper_id}").get_by_role("button", name="移出").click()
    expect(page.locator(f"#member-{helper_id}")).to_have_count(0)
    expect(page.locator(f"#other-{helper_id}")).to_contain_text("工作人员移出")
    page.goto(f"/s/helpers/{helper_id}/circles")
    expect(page.locator(f"#circle-{resident_id}")).to_have_count(0)
    page.goto(f"/s/residents/{resident_id}/circle")
    page.locator(f"#other-{helper_id}").get_by_role("button", name="重新加入").click()
    expect(page.locator(f"#member-{helper_id}")).to_contain_text(name)
    shot(page, "circle-again")


def test_staff_add_a_helper_the_planner_proposes(staff_page: Any, site: Site) -> None:
    """The circle planner (from the menu) counts the residents meeting the target; made on
    demand, the plan lists those short of it with proposals; adding the first proposal lands on
    that resident's circle with the helper in it."""
    page = staff_page
    login(page, "staff")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="帮扶圈").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("帮扶圈规划")
    expect(page.locator("#circle-target-count")).to_contain_text("位居民中")
    expect(page.locator("#circle-plan-made")).to_contain_text("本街道尚未生成帮扶圈计划")
    page.locator("#circle-plan-make").get_by_role("button", name="生成计划").click()
    expect(page.locator(".notice")).to_contain_text("帮扶圈计划已生成")
    expect(page.locator("#circle-plan-made")).to_contain_text("本计划生成于")
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    proposal = page.locator(".circle-plan li form").first
    helper_id = proposal.locator("input[name=helper]").get_attribute("value")
    shot(page, "circle-planner")
    proposal.get_by_role("button", name="加入帮扶圈").click()
    expect(page.locator(".notice")).to_have_text("已加入帮扶圈")
    expect(page.locator(f"#member-{helper_id}")).to_be_visible()


def test_staff_widen_the_target_and_page_through_the_planner(staff_page: Any) -> None:
    """Street staff set the target (3 members, every category) in the planner's form and make
    the plan again; the residents short of it then fill two pages: 下一页 shows others, each
    with proposals, and the first proposal of page 2 adds that helper to that resident's
    circle."""
    page = staff_page
    login(page, "staff")
    page.goto("/s/circles")
    page.get_by_text("修改目标").click()
    page.get_by_label("成员至少").fill("3")
    for box in page.locator("#circle-target input[type=checkbox]").all():
        box.check()
    page.locator("#circle-target").get_by_role("button").click()
    expect(page.locator(".notice")).to_have_text("帮扶圈目标已保存")
    page.locator("#circle-plan-make").get_by_role("button").click()
    expect(page.locator(".notice")).to_contain_text("帮扶圈计划已生成")
    expect(page.locator("#circle-plan-stale")).to_have_count(0)
    first = set(page.locator(".circle-plan").evaluate_all("els => els.map(e => e.id)"))
    assert len(first) == 20
    page.locator(".pager").get_by_role("link", name="下一页").click()
    expect(page.locator(".pager")).to_contain_text("2 / 2")
    second = set(page.locator(".circle-plan").evaluate_all("els => els.map(e => e.id)"))
    assert second and not second & first
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    shot(page, "circle-planner-page-2")
    proposal = page.locator(".circle-plan li form").first
    helper_id = proposal.locator("input[name=helper]").get_attribute("value")
    proposal.get_by_role("button", name="加入帮扶圈").click()
    expect(page.locator(".notice")).to_have_text("已加入帮扶圈")
    expect(page.locator(f"#member-{helper_id}")).to_be_visible()
