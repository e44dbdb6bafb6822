"""Staff pages for the ledger (台账): residents and helpers listed with search, filters and pages,
their detail pages, and the CSV/XLSX import with every bad row shown as a table. A helper's page
also holds their points ledger (积分), where staff grant a bonus (组织赠分) or reverse an entry.

The ledger and points services decide the scope (community staff see their community only) and
write the audit entries (a page of residents, a resident's detail, an import, a bonus, a
reversal).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.http.deps import SessionDep
from api.http.pages.staff import FormText, StaffPage, back, page_from_query, parse_int, show
from api.http.params import IdPath, id_in_range
from api.i18n import N_
from api.i18n import gettext as _
from api.services import orders
from api.services.actor import Actor
from api.services.closing import points
from api.services.errors import BadInput, NotFound, ServiceError
from api.services.intake import family
from api.services.ledger import catalogue, imports, managed
from api.services.ledger import people as ledger
from api.services.ledger.views import LedgerFilters
from api.services.offers.assign import local_today
from api.services.orders import OrderFilters

router = APIRouter(prefix="/s", include_in_schema=False)
PER_PAGE = 25
ENTRIES_PER_PAGE = 20
KINDS = {  # a ledger: (the import page's title, the link back to its list)
    "residents": (N_("Import the residents' ledger"), N_("Residents")),
    "helpers": (N_("Import the helpers' ledger"), N_("Helpers")),
    "managed": (N_("Import the management-type ledger"), N_("Management-type people")),
}


def _labels(session: Session, actor: Actor) -> dict[str, Any]:
    """Catalogue codes → (Chinese, English) for kinds, categories and skills."""
    cat = catalogue.catalogue(session, actor)
    return {
        "kinds": {k.code: (k.name_zh, k.name_en) for k in cat.helper_kinds},
        "categories": {c.code: (c.name_zh, c.name_en) for c in cat.resident_categories},
        "skills": {s.code: (s.name_zh, s.name_en) for s in cat.skills},
    }


def _id(raw: str) -> int | None:
    """An id typed in the query ("", nonsense or past every id: None)."""
    number = int(raw) if raw.strip().isdigit() else None
    return number if number is not None and id_in_range(number) else None


def _filters(community: str, kind: str, skill: str, active: str, q: str) -> LedgerFilters:
    """The list filters as typed in the query ("" = any)."""
    return LedgerFilters(
        community_id=_id(community),
        kind=kind.strip() or None,
        skill=skill.strip() or None,
        active={"1": True, "0": False}.get(active),
        q=q.strip() or None,
    )


def _list_context(
    session: Session, actor: Actor, query: dict[str, str], path: str
) -> dict[str, Any]:
    """What both list pages show around the table: the filters, the places and the labels."""
    communities = [
        c
        for c in catalogue.communities(session, actor)
        if actor.community_id is None or c.id == actor.community_id
    ]
    kept = {k: v for k, v in query.items() if v}
    return {
        "query": query,
        "communities": communities,
        "pager_base": f"{path}?{urlencode(kept)}{'&' if kept else ''}",
        **_labels(session, actor),
    }


# ----------------------------------------------------------------------------- residents


@router.get("/residents")
def residents(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    q: str = "",
    community_id: str = "",
    category: str = "",
    active: str = "",
    page: str = "1",
) -> Response:
    """Residents in the staff member's scope: search by name, code or ID-card tail; filters."""
    query = {"q": q, "community_id": community_id, "category": category, "active": active}
    filters = _filters(community_id, category, "", active, q)
    found = ledger.list_residents(session, actor, filters, page_from_query(page), PER_PAGE)
    context = _list_context(session, actor, query, "/s/residents")
    return show(request, "s/residents.html", actor, section="residents", found=found, **context)


@router.get("/residents/{resident_id}")
def resident(
    request: Request, resident_id: IdPath, actor: StaffPage, session: SessionDep
) -> Response:
    """One resident with every field (the read is audited) and their orders from today on."""
    try:
        person = ledger.get_resident(session, actor, resident_id)
    except NotFound as missing:
        session.rollback()
        return show(request, "s/missing.html", actor, 404, section="residents",
                    error=missing.message)  # fmt: skip
    upcoming = OrderFilters(
        resident_id=resident_id, date_from=local_today(request.app.state.settings)
    )
    placed = orders.list_orders(session, actor, upcoming, 1, 100)
    linked = family.resident_links(session, actor, resident_id)
    also = managed.same_person_of_resident(session, resident_id)
    return show(request, "s/resident.html", actor, section="residents", person=person,
                placed=placed, family=linked, also_helper=also,
                **_labels(session, actor))  # fmt: skip


# ----------------------------------------------------------------------------- helpers


@router.get("/helpers")
def helpers(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    q: str = "",
    community_id: str = "",
    kind: str = "",
    skill: str = "",
    active: str = "",
    page: str = "1",
) -> Response:
    """Helpers in the staff member's scope: search by name or code; filters."""
    query = {"q": q, "community_id": community_id, "kind": kind, "skill": skill, "active": active}
    filters = _filters(community_id, kind, skill, active, q)
    found = ledger.list_helpers(session, actor, filters, page_from_query(page), PER_PAGE)
    context = _list_context(session, actor, query, "/s/helpers")
    return show(request, "s/helpers.html", actor, section="helpers", found=found, **context)


@router.get("/helpers/{helper_id}")
def helper(
    request: Request, helper_id: IdPath, actor: StaffPage, session: SessionDep, page: str = "1"
) -> Response:
    """One helper with every field, and their points: the balance, the entries newest first,
    a form to grant a bonus and a button to reverse an entry."""
    try:
        person = ledger.get_helper(session, actor, helper_id)
        ledger_page = points.history(
            session, actor, helper_id, page_from_query(page), ENTRIES_PER_PAGE
        )
    except NotFound as missing:
        session.rollback()
        return show(request, "s/missing.html", actor, 404, section="helpers",
                    error=missing.message)  # fmt: skip
    also = managed.same_person_of_helper(session, helper_id)
    return show(request, "s/helper.html", actor, section="helpers", person=person,
                also_resident=also, entries=ledger_page, max_bonus=points.MAX_BONUS,
                max_reason=points.MAX_REASON, **_labels(session, actor))  # fmt: skip


def _points_url(helper_id: int) -> str:
    return f"/s/helpers/{helper_id}#points"


@router.post("/helpers/{helper_id}/bonus")
def grant_bonus(
    request: Request,
    helper_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    amount: FormText = "",
    reason: FormText = "",
) -> RedirectResponse:
    """Grant the helper points from the organisation, with a reason; back to their page."""
    try:
        if not amount.strip():
            raise BadInput(_("amount must be a positive whole number"), "amount")
        entry = points.grant_bonus(session, actor, helper_id, parse_int(amount, "amount"), reason)
    except ServiceError as failure:
        session.rollback()
        return back(request, _points_url(helper_id), err=failure.message)
    done = _("%(amount)s bonus points granted", amount=entry.amount)
    return back(request, _points_url(helper_id), msg=done)


@router.post("/points/{entry_id}/reverse")
def reverse_entry(
    request: Request,
    entry_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    reason: FormText = "",
    next_url: Annotated[str, Form(alias="next")] = "/s/helpers",
) -> RedirectResponse:
    """Correct a points entry by adding its opposite, with a reason; back to the helper."""
    try:
        reversal = points.reverse_entry(session, actor, entry_id, reason)
    except ServiceError as failure:
        session.rollback()
        return back(request, next_url, err=failure.message)
    done = _("entry %(id)s reversed (%(amount)s points)", id=entry_id,
             amount=f"{reversal.amount:+d}")  # fmt: skip
    return back(request, _points_url(reversal.helper_id), msg=done)


# ----------------------------------------------------------------------------- import


@router.get("/import/{kind}")
def import_form(request: Request, kind: str, actor: StaffPage) -> Response:
    """The upload form for a ledger file (CSV or XLSX)."""
    if kind not in KINDS:
        return show(request, "s/missing.html", actor, 404, error=_("not found"))
    return show(request, "s/import.html", actor, section=kind, kind=kind,
                kind_names=[_(name) for name in KINDS[kind]], rows=[], filename="")  # fmt: skip


@router.post("/import/{kind}")
def import_upload(
    request: Request,
    kind: str,
    actor: StaffPage,
    session: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Import the file: all rows or none. A bad file comes back with a table of its bad cells
    (row, column, reason); a good one leads to the list with what was inserted and updated."""
    if kind not in KINDS:
        return show(request, "s/missing.html", actor, 404, error=_("not found"))
    filename = file.filename if file is not None else ""
    data = file.file.read(imports.MAX_BYTES + 1) if file is not None else b""
    try:
        report = imports.import_file(session, actor, kind, data, filename)
    except ServiceError as failure:
        session.rollback()
        rows = list(getattr(failure, "errors", []))
        return show(request, "s/import.html", actor, 422, section=kind, kind=kind,
                    kind_names=[_(name) for name in KINDS[kind]], rows=rows, filename=filename,
                    error=failure.message)  # fmt: skip
    return _imported(request, kind, report)


def _imported(request: Request, kind: str, report: imports.ImportReport) -> RedirectResponse:
    counts = {"inserted": report.inserted, "updated": report.updated}
    message = _("imported: inserted %(inserted)s, updated %(updated)s", **counts)
    if report.ignored_columns:
        message = _(
            "imported: inserted %(inserted)s, updated %(updated)s; ignored columns: %(names)s",
            names=_(", ").join(report.ignored_columns),
            **counts,
        )
    return back(request, f"/s/{kind}", msg=message)
