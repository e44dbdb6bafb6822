"""Ledger import and export (staff): helpers and residents from and to CSV or XLSX with the
offices' Chinese headers, and the day's assignment sheet (派单表)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api.http.deps import SessionDep, StaffActor
from api.http.errors import ErrorOut, InvalidOut
from api.http.openapi import declared_router
from api.services.actor import Actor
from api.services.ledger import exports, imports
from api.services.ledger.exports import ExportFile
from api.services.ledger.models import ImportOut
from api.services.types import Day

router = declared_router(tags=["ledger import and export"])
FormatQuery = Annotated[Literal["csv", "xlsx"], Query(alias="format")]


class RowErrorOut(BaseModel):
    row: int
    column: str
    reason: str


class ImportRejectedOut(ErrorOut):
    """Nothing was imported: every bad cell, by spreadsheet row (header = row 1) and column."""

    errors: list[RowErrorOut]


REJECTED: dict[int | str, dict[str, Any]] = {
    422: {"model": ImportRejectedOut | InvalidOut, "description": "nothing imported"}
}


def _import(kind: str, file: UploadFile, session: SessionDep, actor: Actor) -> Response | ImportOut:
    data = file.file.read(imports.MAX_BYTES + 1)  # one byte over the limit is enough to refuse
    try:
        report = imports.import_file(session, actor, kind, data, file.filename)
    except imports.ImportRejected as rejected:
        body = {
            "detail": rejected.message,
            "code": rejected.code,
            "field": rejected.field,
            "errors": [asdict(error) for error in rejected.errors],
        }
        return JSONResponse(body, status_code=422)
    return ImportOut(**asdict(report))


@router.post("/imports/helpers", response_model=ImportOut, responses=REJECTED)
def import_helpers(
    file: UploadFile, session: SessionDep, actor: StaffActor
) -> Response | ImportOut:
    """Import helpers from CSV (UTF-8 or GB18030) or XLSX; all rows or none."""
    return _import("helpers", file, session, actor)


@router.post("/imports/residents", response_model=ImportOut, responses=REJECTED)
def import_residents(
    file: UploadFile, session: SessionDep, actor: StaffActor
) -> Response | ImportOut:
    """Import residents from CSV (UTF-8 or GB18030) or XLSX; all rows or none."""
    return _import("residents", file, session, actor)


def _download(export: ExportFile) -> Response:
    disposition = f'attachment; filename="{export.filename}"'
    return Response(
        export.content, media_type=export.media_type, headers={"Content-Disposition": disposition}
    )


def _ledger_download(
    session: SessionDep,
    actor: Actor,
    kind: Literal["helpers", "residents"],
    fmt: exports.Format,
    include_inactive: bool,
) -> Response:
    """A ledger's file: the active records only unless ``include_inactive``."""
    active = None if include_inactive else True
    return _download(exports.export_ledger(session, actor, kind, fmt, active))


@router.get("/exports/helpers", response_class=Response)
def export_helpers(
    session: SessionDep,
    actor: StaffActor,
    fmt: FormatQuery = "csv",
    include_inactive: bool = False,
) -> Response:
    """Your helpers with the import's headers (re-imports unchanged); audited."""
    return _ledger_download(session, actor, "helpers", fmt, include_inactive)


@router.get("/exports/residents", response_class=Response)
def export_residents(
    session: SessionDep,
    actor: StaffActor,
    fmt: FormatQuery = "csv",
    include_inactive: bool = False,
) -> Response:
    """Your residents with the import's headers (re-imports unchanged); audited."""
    return _ledger_download(session, actor, "residents", fmt, include_inactive)


@router.get("/exports/assignments", response_class=Response)
def export_assignments(
    date: Day, session: SessionDep, actor: StaffActor, fmt: FormatQuery = "csv"
) -> Response:
    """The day's assignment sheet (派单表), one row per team member; audited."""
    return _download(exports.export_assignments(session, actor, date, fmt))
