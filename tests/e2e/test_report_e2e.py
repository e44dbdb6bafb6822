"""The report for superiors in a real browser: street staff open 统计报表 from the menu, pick the
month of the seeded street's orders and then its quarter, and download the XLSX, which holds the
figures the page shows."""

from __future__ import annotations

from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import func, select

from api.services.reports.periods import period_of
from api.store.statuses import OrderStatus
from api.store.tables import OrderRow
from tests.e2e.conftest import Site, heading_jumps, login, shot, unnamed_controls


def test_staff_open_the_report_switch_period_and_download_it(
    staff_page: Any, site: Site, tmp_path: Any
) -> None:
    """The street's row counts the seeded orders in their month and quarter; the downloaded
    XLSX opens and carries the page's headers and the street's figures."""
    with site.sessions() as session:
        orders = session.scalar(
            select(func.count()).where(
                OrderRow.street_id == site.street.street_id,
                OrderRow.status != OrderStatus.CANCELLED,
            )
        )
    month, quarter = period_of(site.street.date), period_of(site.street.date, "quarter")
    page = staff_page
    login(page, "staff")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="统计报表").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("统计报表")
    assert heading_jumps(page) == [] and unnamed_controls(page) == []
    for period in (month, quarter):
        page.get_by_label("统计期间").select_option(period.code)
        page.get_by_role("button", name="查看").click()
        page.wait_for_url(f"**/s/report?period={period.code}")
        street_row = page.locator("#report tbody tr").first
        expect(street_row.locator("td").nth(0)).to_have_text("街道")
        expect(street_row.locator("td").nth(3)).to_have_text(f"{orders:,}")
    shot(page, "report-quarter")
    headers = page.locator("#report thead th").all_inner_texts()
    street_cells = page.locator("#report tbody tr").first.locator("td").all_inner_texts()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载 Excel 表格（XLSX）").click()
    path = tmp_path / "report.xlsx"
    download_info.value.save_as(path)
    rows = list(load_workbook(path).worksheets[0].iter_rows(values_only=True))
    assert list(rows[0]) == headers
    assert rows[1][0] == street_cells[0] == "街道"
    assert rows[1][3] == orders and int(street_cells[3].replace(",", "")) == orders
