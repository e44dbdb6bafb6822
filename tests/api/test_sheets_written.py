"""The CSV and XLSX files Qunbang writes (``api.services.ledger.sheets``): what an office opens
is what was written, texts that look like formulas stay texts, and every download's columns have
headers of their own in each language (the XLSX writer keys a row's cells by header)."""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from openpyxl import load_workbook

from api import i18n
from api.services.hours import honour
from api.services.ledger import exports
from api.services.ledger.import_columns import COLUMNS
from api.services.ledger.sheets import Value, read_rows, write_csv, write_xlsx
from api.services.reports import sheet as report_sheet

HEADERS = ["排名", "姓名", "时长", "备注"]
ROWS: list[list[Value]] = [
    [1, "张伟", 2.5, None],
    [2, '=HYPERLINK("http://x")', 12, "+86 139"],
    [3, "@SUM(A1)", -1.25, "-"],
    [10**6, "李娜\u3000小组", 0, "http://example.org"],
]


def test_xlsx_cells_come_back_as_written() -> None:
    book = load_workbook(io.BytesIO(write_xlsx(HEADERS, iter(ROWS), "先锋榜")))
    sheet = book.worksheets[0]
    assert sheet.title == "先锋榜"
    cells = list(sheet.iter_rows())
    assert [cell.value for cell in cells[0]] == HEADERS and all(cell.font.b for cell in cells[0])
    assert not any(cell.font.b for row in cells[1:] for cell in row)
    for row, written in zip(cells[1:], ROWS, strict=True):
        for cell, value in zip(row, written, strict=False):
            if isinstance(value, str):  # a text never turns into a formula, a link or a number
                assert (cell.value, cell.data_type) == (value, "s")
            elif value is None:
                assert cell.value is None
            else:
                assert (cell.value, cell.data_type) == (value, "n")
    assert [sheet.column_dimensions[c].width >= 10 for c in "ABCD"] == [True] * 4


def test_xlsx_of_no_rows_has_its_header_row_and_long_titles_are_cut() -> None:
    content = write_xlsx(HEADERS, iter([]), "一" * 40)
    assert read_rows(content) == [(1, HEADERS)]
    assert load_workbook(io.BytesIO(content)).worksheets[0].title == "一" * 31


def test_xlsx_refuses_two_columns_with_one_header() -> None:
    with pytest.raises(ValueError, match="same header"):
        write_xlsx(["姓名", "姓名"], iter([["a", "b"]]), "x")


def test_csv_guards_formula_texts_and_keeps_the_rest() -> None:
    content = write_csv(HEADERS, ROWS)
    assert content.startswith(codecs.BOM_UTF8)
    lines = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert lines[0] == HEADERS
    assert lines[2][1] == '\'=HYPERLINK("http://x")' and lines[2][3] == "'+86 139"
    assert lines[3][1] == "'@SUM(A1)" and lines[3][3] == "'-"
    assert lines[1] == ["1", "张伟", "2.5", ""] and lines[4][3] == "http://example.org"


@pytest.mark.parametrize("locale", i18n.shipped())
def test_every_download_has_distinct_headers_in_each_language(locale: str) -> None:
    with i18n.use_locale(locale):
        downloads = {
            "honour roll": honour.sheet_headers(),
            "assignment sheet": [i18n.gettext(header) for header in exports.SHEET_HEADERS],
            "monthly report": report_sheet.headers(),
            **{kind: [column.header for column in columns] for kind, columns in COLUMNS.items()},
        }
    for name, headers in downloads.items():
        assert len(set(headers)) == len(headers), (locale, name, headers)


def test_xlsx_cuts_a_text_longer_than_a_cell_holds_and_keeps_control_characters() -> None:
    long = "长" * 40_000
    content = write_xlsx(HEADERS, iter([[1, long, 2, "a\x0bb"]]), "x")
    cells = list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))[1]
    assert cells[1] == "长" * 32_766 + "…"
    assert cells[3] in ("a\x0bb", "a_x000B_b")  # Excel's escape for a control character
