"""Spreadsheets in and out, as offices use them: CSV (UTF-8 with or without a BOM, GB18030 as
Chinese Excel saves it, or UTF-16) and XLSX (the first sheet). Reading gives every row with its
spreadsheet row number and each cell as text; writing makes CSV with a UTF-8 BOM, so that Excel
shows Chinese correctly, and XLSX with a bold header row."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import zipfile
from collections.abc import Iterable, Sequence
from typing import TypeGuard

import rustpy_xlsxwriter as xlsx
from openpyxl import load_workbook

from api.i18n import N_
from api.i18n import gettext as _

log = logging.getLogger("qunbang.sheets")
Row = tuple[int, list[str]]  # (spreadsheet row number, cells as text)
Value = str | int | float | None
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA = "text/csv; charset=utf-8"
# Cells a spreadsheet would run as a formula (CSV/formula injection) are written as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# An XLSX is a zip: a small upload can unpack to gigabytes (a "zip bomb"). The sizes its
# directory declares bound what zipfile will inflate, so they are checked before openpyxl reads.
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024  # a 20,000-row ledger unpacks to about 20 MB
MAX_COLUMNS = 1000
XLSX_CELL_CHARS = 32_767  # the most an Excel cell holds
DAMAGED = N_("cannot read the Excel file: it may be damaged")


class SheetError(ValueError):
    """A file that cannot be read as a spreadsheet; the message is in the reader's language."""


def read_rows(data: bytes, filename: str | None = None, max_rows: int | None = None) -> list[Row]:
    """Every row of a CSV or XLSX file (the first sheet), numbered as the spreadsheet shows it;
    a file with more than ``max_rows`` rows (blank ones included) is refused while reading.
    The format is told by the content (an XLSX file is a zip), not trusted from the name."""
    if not data.strip():
        raise SheetError(_("the file is empty"))
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data, max_rows)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetError(_("old .xls files are not supported: save the sheet as .xlsx or .csv"))
    if filename and filename.lower().endswith((".xlsx", ".xlsm")):
        raise SheetError(_(DAMAGED))
    return _read_csv(_decode(data), max_rows)


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8", "gb18030"]  # GB18030 covers GBK and GB2312, as Excel writes them
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise SheetError(_("cannot read the file: upload a CSV (UTF-8 or GB18030) or an XLSX file"))


def _read_csv(text: str, max_rows: int | None) -> list[Row]:
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first.count)
    rows: list[Row] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, 1):
            _check_count(number, max_rows)
            rows.append((number, [cell.strip() for cell in row]))
    except csv.Error as error:  # its messages name the problem, not the cell's text
        raise SheetError(
            _("row %(line_num)s: malformed CSV (%(error)s)", line_num=reader.line_num, error=error)
        ) from error
    return rows


def _check_count(number: int, max_rows: int | None) -> None:
    if max_rows is not None and number > max_rows:
        raise SheetError(_("more than %(max_rows)s rows", max_rows=max_rows))


def _read_xlsx(data: bytes, max_rows: int | None) -> list[Row]:
    _check_zip(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds on a damaged file: all "unreadable"
        log.info("unreadable xlsx: %r", error)
        raise SheetError(_(DAMAGED)) from error
    try:
        if not book.worksheets:
            raise SheetError(_("the Excel file has no sheet"))
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some writers store wrong dimensions; read what is there
        # Read-only rows come padded from row 1 (empty rows as empty tuples), so counting
        # gives the row numbers the office sees.
        rows: list[Row] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            _check_count(number, max_rows)
            if len(values) > MAX_COLUMNS:
                raise SheetError(
                    _(
                        "row %(number)s: more than %(MAX_COLUMNS)s columns",
                        number=number,
                        MAX_COLUMNS=MAX_COLUMNS,
                    )
                )
            rows.append((number, [_cell_text(value) for value in values]))
        return rows
    except SheetError:
        raise
    except Exception as error:  # the sheet is read lazily: damage inside it shows up here
        log.info("damaged xlsx sheet: %r", error)
        raise SheetError(_(DAMAGED)) from error
    finally:
        book.close()


def _check_zip(data: bytes) -> None:
    """A readable zip whose members unpack to at most ``MAX_UNZIPPED_BYTES``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as error:
        log.info("unreadable xlsx zip: %r", error)
        raise SheetError(_(DAMAGED)) from error
    if unpacked > MAX_UNZIPPED_BYTES:
        raise SheetError(
            _("the Excel file unpacks to more than %(value)s MB", value=MAX_UNZIPPED_BYTES // 2**20)
        )


def _cell_text(value: object) -> str:
    """A cell as the office typed it: 1001.0 → ``1001``, a time → ``08:00``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[Value]]) -> bytes:
    """CSV with a UTF-8 BOM and CRLF line ends, as Excel expects."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    # The guard is written out, not called per cell: a city street's roll has 115,000 cells.
    writer.writerows(
        [
            ""
            if value is None
            else "'" + value
            if value.__class__ is str and value.startswith(FORMULA_START)
            else value
            for value in row
        ]
        for row in rows
    )
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def _too_long(value: Value) -> TypeGuard[str]:
    """Whether a cell's value is a text longer than an Excel cell holds."""
    return isinstance(value, str) and len(value) > XLSX_CELL_CHARS


def _cut(record: dict[str, Value]) -> dict[str, Value]:
    """A row with each text longer than a cell holds cut to what it holds, marked with an
    ellipsis."""
    return {
        key: value[: XLSX_CELL_CHARS - 1] + "…" if _too_long(value) else value
        for key, value in record.items()
    }


def write_xlsx(headers: Sequence[str], rows: Iterable[Sequence[Value]], title: str) -> bytes:
    """One sheet named ``title``: a bold header row, then the rows; strings stay strings (a
    text starting with "=" is text, never a formula), numbers stay numbers, nothing is an empty
    cell. Written by rust_xlsxwriter (``rustpy-xlsxwriter``); a text longer than a cell holds
    is cut (``_cut``)."""
    if len(set(headers)) != len(headers):  # the writer keys each row's cells by its header
        raise ValueError(f"two columns have the same header: {list(headers)}")
    keys = list(headers)
    # The writer takes the header row from the first row's keys: a sheet without rows gets
    # one row of empty cells, which it leaves out, so that the headers are written. Rows are
    # keyed whole, not cell by cell (a city street's roll, 14,000 rows: 20 ms less), and kept
    # for the rare second pass.
    records = [dict(zip(keys, row, strict=True)) for row in rows] or [dict.fromkeys(keys)]
    try:
        return _xlsx_bytes(records, title, headers)
    except RuntimeError:  # the writer refuses a text longer than a cell holds: cut it, again
        if not any(_too_long(value) for record in records for value in record.values()):
            raise
        return _xlsx_bytes([_cut(record) for record in records], title, headers)


def _xlsx_bytes(records: list[dict[str, Value]], title: str, headers: Sequence[str]) -> bytes:
    out = io.BytesIO()
    xlsx.write_worksheet(
        records,
        out,
        sheet_name=title[:31],
        bold_headers=True,
        column_widths=[max(10, 2 * len(header) + 2) for header in headers],
    )
    return out.getvalue()
