"""Ledger import (台账导入): helpers, residents or management-type people (``managed``) from an
office's CSV or XLSX file.

Every row is checked and every bad one reported as (row, column, reason), with the spreadsheet's
row number and the column's header as written in the file; nothing is written unless every row is
good (one transaction). Rows are matched by ledger code (编号): a known code updates that record,
a new one inserts. For the columns a file has, an empty cell means the field's empty value (no
phone, no grid, the default radius …), for inserts and updates alike; columns a file lacks leave
an existing record's fields as they are. Unknown columns are ignored and named in the report.
A title row above the header (common in office sheets) is skipped: the header is the first row,
among the first ten, that has at least two known column names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden
from api.services.files import FileRefused, read_regular_file
from api.services.ledger.import_columns import COLUMNS, Column, by_header, header_key
from api.services.ledger.import_rows import (
    TABLES,
    Header,
    ImportRejected,
    Record,
    RowError,
    check_rows,
)
from api.services.ledger.sheets import SheetError, read_rows
from api.store.db import begin_write
from api.store.tables import Community, UserRow

log = logging.getLogger("qunbang.imports")
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
HEADER_SEARCH_ROWS = 10
__all__ = ["ImportRejected", "ImportReport", "RowError", "import_file"]


@dataclass(frozen=True)
class ImportReport:
    inserted: int
    updated: int
    ignored_columns: list[str]


def import_file(
    session: Session,
    actor_or_user_id: Actor | int,
    kind: str,
    path_or_bytes: bytes | str | Path,
    filename: str | None = None,
) -> ImportReport:
    """Import helpers or residents (``kind``) from a CSV or XLSX file given as bytes or a path,
    for a staff member (an ``Actor`` or a user id). Raises ``ImportRejected`` listing every bad
    row, and then nothing is written."""
    if kind not in TABLES:
        raise BadInput(
            _("unknown ledger %(kind)s: helpers, residents or managed", kind=repr(kind)), "kind"
        )
    actor = _actor(session, actor_or_user_id)
    if isinstance(path_or_bytes, str | Path):
        filename = filename or Path(path_or_bytes).name
        path_or_bytes = _read_path(Path(path_or_bytes))
    name = _shown_name(filename)
    if len(path_or_bytes) > MAX_BYTES:
        raise _file_rejected(name, _("the file is over %(MAX_BYTES)s bytes", MAX_BYTES=MAX_BYTES))
    try:
        # the header may sit below a title and blank rows: a few rows more than MAX_ROWS
        rows = read_rows(path_or_bytes, filename, MAX_ROWS + HEADER_SEARCH_ROWS + 100)
        header, body = _split(rows, COLUMNS[kind])
    except SheetError as error:
        raise _file_rejected(name, str(error)) from error
    except ImportRejected as rejected:
        raise _file_rejected(name, rejected.message, rejected.errors) from None
    begin_write(session)  # checks and writes see the same ledger
    try:
        records = check_rows(session, actor, kind, header, body)
    except ImportRejected as rejected:  # the file named, each cell by row, column and value
        raise _file_rejected(name, rejected.message, rejected.errors) from None
    report = _write(session, actor, kind, records, header)
    audit(
        session,
        actor.user_id,
        f"{kind.removesuffix('s')}.import",
        kind.removesuffix("s"),
        "",
        {"filename": filename or "", "inserted": report.inserted, "updated": report.updated},
    )
    session.commit()
    log.info("import %s from %s: %s", kind, filename, report)
    return report


def _actor(session: Session, actor_or_user_id: Actor | int) -> Actor:
    if isinstance(actor_or_user_id, Actor):
        actor = actor_or_user_id
    else:
        user = session.get(UserRow, actor_or_user_id)
        if user is None or not user.active:
            raise Forbidden(
                _("unknown user %(actor_or_user_id)s", actor_or_user_id=actor_or_user_id)
            )
        actor = Actor(
            user.id, user.username, user.role, user.street_id, user.community_id, None, None
        )
    if actor.role != "staff" or actor.street_id is None:
        raise Forbidden(_("only staff import the ledger"))
    return actor


def _read_path(path: Path) -> bytes:
    """A regular file of at most ``MAX_BYTES`` (no device or FIFO: those would hang)."""
    try:
        return read_regular_file(path, MAX_BYTES)
    except FileRefused as error:
        raise ImportRejected(_("cannot read the file: %(error)s", error=error)) from error


def _shown_name(filename: str | None) -> str:
    """The upload's name as messages show it: short, without slashes."""
    name = Path((filename or "").replace("\\", "/")).name.replace("/", "_")
    return name[:80] + "…" if len(name) > 80 else name


def _file_rejected(name: str, message: str, errors: list[RowError] | None = None) -> ImportRejected:
    """``message`` with the uploaded file named before it."""
    if not name:
        return ImportRejected(message, errors or [])
    named = _("%(name)s: %(message)s", name=name, message=message) if message else name
    return ImportRejected(named, errors or [])


# ----------------------------------------------------------------------------- the header


def _split(
    rows: list[tuple[int, list[str]]], columns: tuple[Column, ...]
) -> tuple[Header, list[tuple[int, list[str]]]]:
    """The header and the data rows after it (blank rows dropped, numbers kept)."""
    filled = [(number, cells) for number, cells in rows if any(cells)]
    if not filled:
        raise ImportRejected(_("the file is empty"))
    known = by_header(columns)
    at = next(
        (
            index
            for index, (_, cells) in enumerate(filled[:HEADER_SEARCH_ROWS])
            if sum(header_key(cell) in known for cell in cells if cell) >= 2
        ),
        0,
    )
    header = _header(*filled[at], columns, known)
    body = filled[at + 1 :]
    if not body:
        raise ImportRejected(_("the file has a header but no data rows"))
    if len(body) > MAX_ROWS:
        raise ImportRejected(_("more than %(MAX_ROWS)s rows", MAX_ROWS=MAX_ROWS))
    return header, body


def _header(
    number: int, cells: list[str], columns: tuple[Column, ...], known: dict[str, Column]
) -> Header:
    found: dict[str, tuple[int, str]] = {}
    ignored: list[str] = []
    errors: list[RowError] = []
    for index, written in enumerate(cells):
        column = known.get(header_key(written)) if written else None
        if column is None:
            ignored += [written] if written else []
        elif column.field in found:
            first = found[column.field][1]
            errors.append(
                RowError(
                    number,
                    written,
                    _("same column as %(first2)s (%(first)s)", first=first, first2=repr(first)),
                )
            )
        else:
            found[column.field] = (index, written)
    missing = [c.header for c in columns if c.required and c.field not in found]
    errors += [RowError(number, name, _("required column missing")) for name in missing]
    if errors:
        raise ImportRejected(
            _(
                "bad header row (missing required columns: %(columns)s); nothing was imported",
                columns=_(", ").join(missing) or "-",
            ),
            errors,
        )
    return Header(number, found, ignored)


# ----------------------------------------------------------------------------- writing


def _write(
    session: Session, actor: Actor, kind: str, records: list[Record], header: Header
) -> ImportReport:
    table = TABLES[kind]
    communities = select(Community).where(Community.street_id == actor.street_id)
    street = {community.id: community.street_id for community in session.scalars(communities)}
    inserted = updated = 0
    for record in records:
        values = record.values
        if record.existing is None:
            session.add(table(**values, street_id=street[values["community_id"]]))
            inserted += 1
            continue
        row = record.existing
        for name in record.given:
            setattr(row, name, values[name])
        row.street_id = street[row.community_id]
        updated += 1
    try:
        session.flush()
    except IntegrityError as error:  # the same code added by someone else at the same moment
        raise Conflict(_("the ledger changed meanwhile: retry")) from error
    return ImportReport(inserted, updated, header.ignored)
