"""The staff pages in a real browser at desk size (1280×900): log in, enter an order, run the
matching and see it matched, hand an uncovered order to a candidate with the keyboard, an
import with a bad row; every main page labelled, and photographed for a person to look at."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import func, select

from api.store.tables import HelperRow, OrderRow, ResidentRow
from tests.e2e.conftest import (
    Site,
    heading_jumps,
    login,
    make_roomy,
    shot,
    tab_to,
    unnamed_controls,
)

ITEM = "S01"  # 陪伴聊天: one person, companionship, no distance limit
HELPER_HEADER = "编号,姓名,社区,网格,电话,纬度,经度,类型,技能,每日最多单数,可服务时段"
GOOD_ROW = "E2E-1,好人,青山社区,第1网格,13800000000,40.84,111.75,党员,陪伴聊天,2,08:00-12:00"
BAD_ROW = "E2E-2,坏行,青山社区,第1网格,13800000001,北纬40,111.75,党员,陪伴聊天,2,08:00-12:00"


def a_resident(site: Site) -> ResidentRow:
    """An active resident with a name no one else has, and no wishes a helper must meet."""
    with site.sessions() as session:
        unique = (
            select(ResidentRow.name).group_by(ResidentRow.name).having(func.count() == 1)
        ).scalar_subquery()
        found = session.scalars(
            select(ResidentRow)
            .where(ResidentRow.active, ResidentRow.preferred_gender.is_(None))
            .where(ResidentRow.name.in_(unique))
            .order_by(ResidentRow.id)
        ).first()
        assert found is not None
        return found


def orders_of(site: Site, resident_id: int) -> list[OrderRow]:
    with site.sessions() as session:
        return list(
            session.scalars(
                select(OrderRow).where(OrderRow.resident_id == resident_id).order_by(OrderRow.id)
            )
        )


def accept_dialogs(page: Any) -> None:
    """Say yes to ``data-confirm`` questions (Playwright would otherwise dismiss them)."""
    page.on("dialog", lambda dialog: dialog.accept())


def test_staff_logs_in_and_lands_on_the_run(staff_page: Any, site: Site) -> None:
    """Staff who log in through the form land on /s/, tonight's run, with its figures; Tab
    reaches the button that runs the matching."""
    login(staff_page, "staff")
    assert re.search(r"/s/$", staff_page.url)
    assert staff_page.get_by_role("heading", level=1).inner_text() == "今晚的匹配"
    expect(staff_page.get_by_role("heading", name="运行结果")).to_be_visible()
    assert tab_to(staff_page, staff_page.get_by_role("button", name="运行匹配"))


def test_staff_enter_an_order_run_matching_and_see_it_matched(staff_page: Any, site: Site) -> None:
    """An order entered for a resident found by name is matched by the run started from the
    run page: the resident's order list then shows it offered to a helper."""
    page = staff_page
    accept_dialogs(page)
    resident = a_resident(site)
    make_roomy(site, site.street.idle_helper())  # someone free to take it
    login(page, "staff")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="录入订单").click()
    page.get_by_label("居民姓名或身份证后四位").fill(resident.name)
    page.get_by_role("button", name="查找居民").click()
    page.get_by_role("link", name=f"为 {resident.name} 录入订单").click()
    page.get_by_label("服务项目").select_option(ITEM)
    assert page.get_by_label("服务日期（重复时为开始日期）").input_value() == (
        site.street.date.isoformat()
    )
    page.get_by_label("优先级（1 普通 – 5 最急）").select_option("5")
    page.get_by_label("备注").fill("端到端测试")
    shot(page, "staff-new-order")
    page.get_by_role("button", name="录入订单").click()
    assert page.get_by_role("status").inner_text().startswith("已录入订单")
    entered = orders_of(site, resident.id)[-1]
    assert (entered.item, entered.status, entered.note) == (ITEM, "open", "端到端测试")

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="匹配").click()
    page.get_by_role("button", name="运行匹配").click()
    assert page.get_by_role("status").filter(has_text="已开始").count() == 1
    # The page follows the run, reloading itself, until its figures show.
    page.locator("#figures-heading ~ .figures").wait_for(timeout=45_000)
    assert page.locator(f"#order-{entered.id}").count() == 0  # not among the uncovered
    page.goto(f"/s/orders/new?resident_id={resident.id}")
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=str(entered.id)))
    assert "已派单，待回复" in row.inner_text()
    assert orders_of(site, resident.id)[-1].status == "offered"


def test_an_uncovered_order_is_assigned_with_the_keyboard(staff_page: Any, site: Site) -> None:
    """With a helper free to take them, uncovered orders list candidates; Tab reaches the first
    one's button and Enter hands the order over: it leaves the open ones."""
    page = staff_page
    make_roomy(site, site.street.idle_helper())
    login(page, "staff")
    assign_button = page.get_by_role("button", name=re.compile(r"^派给 "))
    assign = assign_button.first
    card = page.get_by_role("listitem").filter(has=assign_button).first
    order_id = int((card.get_attribute("id") or "").removeprefix("order-"))
    assert tab_to(page, assign, limit=120), "Tab never reached a 派给 (assign) button"
    page.keyboard.press("Enter")
    assert "已派给" in page.get_by_role("status").inner_text()
    with site.sessions() as session:
        order = session.get(OrderRow, order_id)
        assert order is not None and order.status == "offered"


def test_an_import_with_a_bad_row_shows_the_error(staff_page: Any, site: Site) -> None:
    """A helper ledger with one bad latitude comes back with a table naming its row and
    column; nothing is imported, not even the good row."""
    page = staff_page
    login(page, "staff")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="志愿者").click()
    page.get_by_role("link", name="导入志愿者台账（CSV / XLSX）").click()
    content = "\r\n".join((HELPER_HEADER, GOOD_ROW, BAD_ROW)).encode("utf-8")
    page.get_by_label("台账文件").set_input_files(
        {"name": "台账.csv", "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("未导入任何数据")
    table = page.get_by_role("table")
    assert "未导入任何数据" in table.inner_text()
    rows = [r.inner_text().split("\t") for r in table.get_by_role("row").all()[1:]]
    assert [(row[0], row[1]) for row in rows] == [("3", "纬度")]
    shot(page, "staff-import-error")
    with site.sessions() as session:
        codes = session.scalars(select(HelperRow.code).where(HelperRow.code.like("E2E-%")))
        assert list(codes) == []


def test_staff_pages_are_labelled_and_photographed(staff_page: Any, site: Site) -> None:
    """Every control on the run, order entry, residents, helpers, map and import pages has an
    accessible name and headings go down one level at a time; each page is photographed."""
    page = staff_page
    resident = a_resident(site)
    login(page, "staff")
    pages = {
        "/s/": "staff-run",
        f"/s/orders/new?resident_id={resident.id}": "staff-new-order",
        "/s/residents": "staff-residents",
        "/s/helpers": "staff-helpers",
        "/s/map": "staff-map",
        "/s/import/helpers": "staff-import",
    }
    problems = {}
    for path, name in pages.items():
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        shot(page, name)
        unnamed, jumps = unnamed_controls(page), heading_jumps(page)
        if unnamed or jumps:
            problems[path] = {"unnamed": unnamed, "headings": jumps}
    assert problems == {}
