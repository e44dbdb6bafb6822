"""Exports for staff: the ledger (helpers, residents) with the import's Chinese headers, so an
export re-imports unchanged, and the day's assignment sheet (派单表), one row per team member
with the order's note (备注) for the helpers to read.
CSV carries a UTF-8 BOM so that Excel opens the Chinese correctly; XLSX has one sheet.

Every export holds personal data, so each is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.i18n import N_, pick
from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import Forbidden
from api.services.ledger.import_columns import COLUMNS, clock
from api.services.ledger.sheets import CSV_MEDIA, XLSX_MEDIA, Value, write_csv, write_xlsx
from api.services.ledger.street_catalogue import StreetItem, street_catalogue
from api.services.ledger.views import LedgerFilters, filtered
from api.store.db import begin_write
from api.store.statuses import UNMATCHED_ORDER_STATUSES
from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    AssignmentRow,
    Building,
    Grid,
    HelperRow,
    OrderRow,
    ResidentRow,
    SkillRow,
)

Format = Literal["csv", "xlsx"]
# The ledger's sheet titles, in the office's language like the headers it re-imports.
LEDGER_TITLES = {"helpers": "志愿者台账", "residents": "居民台账"}
# The day's sheet is read, not re-imported: its words are messages, written in the reader's
# language (zh_CN: 日期 时间 服务项目 社区 居民 地址 电话 志愿者 志愿者电话 状态 备注, 派单表).
SHEET_HEADERS = (
    N_("Date"),
    N_("Time"),
    N_("Service item"),
    N_("Community"),
    N_("Resident"),
    N_("Resident's address"),
    N_("Phone"),
    N_("Volunteer"),
    N_("Volunteer's phone"),
    N_("Status"),
    N_("Note"),
    N_("Price (yuan)"),
)
SHEET_TITLE = N_("Assignment sheet")
OFFER_STATUS = {"pending": N_("awaiting reply"), "accepted": N_("accepted")}
ASSIGNMENT_STATUS = {"done": N_("visit done"), "confirmed": N_("visit confirmed")}
UNMATCHED = N_("not matched yet")


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    content: bytes


def _staff(actor: Actor) -> None:
    if actor.role != "staff" or actor.street_id is None:
        raise Forbidden(_("only staff export (the files hold personal data)"))


def _file(
    name: str, fmt: Format, headers: Sequence[str], rows: list[list[Value]], title: str
) -> ExportFile:
    if fmt == "xlsx":
        return ExportFile(f"{name}.xlsx", XLSX_MEDIA, write_xlsx(headers, rows, title))
    return ExportFile(f"{name}.csv", CSV_MEDIA, write_csv(headers, rows))


# ----------------------------------------------------------------------------- the ledger


def export_ledger(
    session: Session,
    actor: Actor,
    kind: Literal["helpers", "residents"],
    fmt: Format,
    active: bool | None = True,
) -> ExportFile:
    """The caller's helpers or residents (by default the active ones) as CSV or XLSX."""
    _staff(actor)
    table = HelperRow if kind == "helpers" else ResidentRow
    rows = list(session.scalars(filtered(table, actor, LedgerFilters(active=active))).unique())
    names = _display_names(session)
    columns = COLUMNS[kind]
    cells: list[list[Value]] = [
        [column.format(_value(row, column.field, names)) for column in columns] for row in rows
    ]
    begin_write(session)
    detail = {"format": fmt, "rows": len(rows), "active": active}
    audit(session, actor.user_id, f"{kind[:-1]}.export", kind[:-1], "", detail)
    session.commit()
    headers = [column.header for column in columns]
    return _file(kind, fmt, headers, cells, LEDGER_TITLES[kind])


def _display_names(session: Session) -> dict[str, dict[Any, str]]:
    return {
        "grid": dict(session.execute(select(Grid.id, Grid.name)).all()),
        "building": dict(session.execute(select(Building.id, Building.name)).all()),
        "helper": dict(
            session.execute(
                select(HelperRow.id, HelperRow.code).join(
                    ResidentRow, ResidentRow.helper_id == HelperRow.id
                )
            ).all()
        ),
        "skills": dict(session.execute(select(SkillRow.code, SkillRow.name_zh)).all()),
    }


def _value(row: HelperRow | ResidentRow, name: str, names: dict[str, dict[Any, str]]) -> Any:
    """A field as the sheet shows it: community and grid by name, skills by Chinese name."""
    if name == "community":
        return row.community.name
    if name == "grid":
        return names["grid"].get(row.grid_id) if row.grid_id is not None else None
    if name in ("building", "helper"):
        place = getattr(row, f"{name}_id")
        return names[name].get(place) if place is not None else None
    if name == "skills" and isinstance(row, HelperRow):
        return [names["skills"].get(code, code) for code in row.skills]
    return getattr(row, name)


# ----------------------------------------------------------------------------- the day's sheet


@dataclass(frozen=True)
class SheetLine:
    """One line of the assignment sheet: an order and one member (none while unmatched)."""

    order: OrderRow
    item: StreetItem  # as the street has it (its duration, its price)
    start: int | None  # the planned start (None: not planned yet)
    status: str  # a message id, shown in the reader's language
    helper: HelperRow | None

    def sort_key(self) -> tuple[int, int, int, int]:
        start = next((m for m in (self.start, self.order.window_start) if m is not None), 24 * 60)
        helper = self.helper.id if self.helper else 0
        return (start, self.order.resident.community_id, self.order.id, helper)


def export_assignments(session: Session, actor: Actor, date: dt.date, fmt: Format) -> ExportFile:
    """The assignment sheet (派单表) of ``date`` for the caller's scope: one row per team member
    (pending or accepted), and one row for an order nobody holds yet (status "not matched
    yet"), in the reader's language."""
    _staff(actor)
    rows = [_sheet_row(line) for line in _lines(session, actor, date)]
    begin_write(session)
    detail = {"date": date.isoformat(), "format": fmt, "rows": len(rows)}
    audit(session, actor.user_id, "assignments.export", "order", "", detail)
    session.commit()
    name = f"assignments-{date.isoformat()}"
    headers = [_(header) for header in SHEET_HEADERS]
    return _file(name, fmt, headers, rows, _(SHEET_TITLE))


def _lines(session: Session, actor: Actor, date: dt.date) -> list[SheetLine]:
    query = (
        select(OrderRow)
        .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
        .where(
            OrderRow.street_id == actor.street_id,
            OrderRow.date == date,
            OrderRow.status.not_in(UNMATCHED_ORDER_STATUSES),  # cancelled, in review, rejected
        )
    )
    if actor.community_id is not None:
        query = query.where(ResidentRow.community_id == actor.community_id)
    orders = list(session.scalars(query).unique())
    items = street_catalogue(session, actor.street_id).items if actor.street_id else {}
    live = select(AssignmentRow).where(
        AssignmentRow.order_id.in_([order.id for order in orders]),
        AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
    )
    assignments = {a.order_id: a for a in session.scalars(live).unique()}
    lines: list[SheetLine] = []
    for order in orders:
        lines += _order_lines(order, items[order.item], assignments.get(order.id))
    return sorted(lines, key=SheetLine.sort_key)


def _order_lines(
    order: OrderRow, item: StreetItem, assignment: AssignmentRow | None
) -> list[SheetLine]:
    if assignment is None:
        return [SheetLine(order, item, None, UNMATCHED, None)]
    start = assignment.start_minute
    lines = [
        SheetLine(
            order,
            item,
            start,
            ASSIGNMENT_STATUS.get(assignment.status, OFFER_STATUS[offer.status]),
            offer.helper,
        )
        for offer in sorted(assignment.offers, key=lambda offer: offer.id)
        if offer.status in OFFER_STATUS
    ]
    return lines or [SheetLine(order, item, start, UNMATCHED, None)]


def _sheet_row(line: SheetLine) -> list[Value]:
    order, resident, helper = line.order, line.order.resident, line.helper
    return [
        order.date.isoformat(),
        _when(line),
        pick(line.item.name_zh, line.item.name_en),
        resident.community.name,
        resident.name,
        resident.address,
        resident.phone,
        helper.name if helper else "",
        helper.phone if helper else "",
        _(line.status),
        order.note,
        line.item.price_yuan if line.item.paid else None,
    ]


def _when(line: SheetLine) -> str:
    """``09:00-10:00``: the planned start and the item's duration; an order without a planned
    start shows its window (a flexible one the whole window); an untimed one says so."""
    order, duration = line.order, line.item.duration_min
    if line.start is not None:
        return f"{clock(line.start)}-{clock(min(line.start + duration, 1440))}"
    if order.window_start is None or order.window_end is None:
        return _("any time of day")
    end = order.window_end if order.flexible else min(order.window_start + duration, 1440)
    return f"{clock(order.window_start)}-{clock(end)}"
