"""The staff page of the street's set-up (``/s/street``): the street's settings, its
communities, grids and buildings (with how many people each holds), the staff accounts and
the catalogue as the street has it. Street-wide staff edit all of it here and download it as
a street file (``/s/street.yaml``); community staff see their own community read-only. Every
edit goes through ``api.services.ledger.street_edit`` (the rules of ``qunbang street init``)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from api.http.deps import SessionDep
from api.http.pages.staff import FormText, StaffPage, back, show
from api.i18n import gettext as _
from api.services.errors import BadInput, ServiceError
from api.services.ledger import street_edit
from api.services.ledger.street_edit import Edit, StructurePlace
from api.services.ledger.street_setup import StreetInit, street_view

router = APIRouter(prefix="/s", include_in_schema=False)
HERE = "/s/street"


@router.get("/street")
def street(request: Request, actor: StaffPage, session: SessionDep) -> Response:
    """The street's set-up (with the forms that edit it, for street-wide staff)."""
    return _page(request, actor, session)


def _page(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    status_code: int = 200,
    **context: object,
) -> Response:
    try:
        view = street_view(session, actor)
    except ServiceError as failure:
        raise HTTPException(404) from failure
    fields = []
    if actor.community_id is None:
        try:
            street_file = street_edit.street_file_of(session, view.street_id)
            fields = street_edit.setting_fields(street_file)
        except ServiceError as failure:  # the street cannot be written as a file: say why
            context.setdefault("error", failure.message)
    return show(request, "s/street.html", actor, status_code, section="street", street=view,
                setting_fields=fields, **context)  # fmt: skip


@router.get("/street.yaml")
def download(request: Request, actor: StaffPage, session: SessionDep) -> Response:
    """The street as a street file (for ``qunbang street init``)."""
    try:
        name, text = street_edit.export_street(session, actor)
    except ServiceError as failure:
        return back(request, HERE, err=failure.message)
    return Response(
        text.encode("utf-8"),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _apply(
    request: Request, actor: StaffPage, session: SessionDep, edit: Edit, anchor: str
) -> Response:
    """Apply ``edit``; back to the page with what changed, or the page with the refusal."""
    try:
        result = street_edit.edit_street(session, actor, edit)
    except ServiceError as failure:
        session.rollback()
        return back(request, f"{HERE}#{anchor}", err=failure.message)
    return back(request, f"{HERE}#{anchor}", msg=_changes(result))


def _changes(result: StreetInit) -> str:
    if not result.changes:
        return _("Nothing changed")
    return "; ".join(change.text() for change in result.changes[:10])


@router.post("/street/names")
def names(
    request: Request, actor: StaffPage, session: SessionDep, name: FormText, time_zone: FormText
) -> Response:
    """Rename the street or change its time zone."""
    return _apply(
        request, actor, session, street_edit.set_names(name.strip(), time_zone.strip()), "settings"
    )


@router.post("/street/settings")
async def settings(request: Request, actor: StaffPage, session: SessionDep) -> Response:
    """Change the street's settings (each field of the settings model)."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        values = street_edit.settings_from_form(form)
    except BadInput as failure:
        return back(request, f"{HERE}#settings", err=failure.message)
    return _apply(request, actor, session, street_edit.set_settings(values), "settings")


@router.post("/street/places/rename")
def rename(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    community: FormText,
    name: FormText,
    grid: FormText = "",
    building: FormText = "",
) -> Response:
    """Rename a community, a grid or a building."""
    place = StructurePlace(community, grid, building)
    edit = street_edit.rename_place(place, name.strip())
    return _apply(request, actor, session, edit, f"community-{community}")


@router.post("/street/places/add")
def add(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    code: FormText,
    name: FormText,
    community: FormText = "",
    grid: FormText = "",
) -> Response:
    """Add a community (no parent), a grid to a community or a building to a grid."""
    parent = StructurePlace(community, grid) if community else None
    edit = street_edit.add_place(parent, code.strip(), name.strip())
    return _apply(
        request, actor, session, edit, f"community-{community}" if community else "places"
    )


@router.post("/street/items")
def item(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    code: FormText,
    enabled: FormText = "",
    duration_min: FormText = "",
    team_size: FormText = "",
    price_yuan: FormText = "",
) -> Response:
    """The street's setting of one catalogue item (empty fields: the catalogue's)."""
    try:
        values = {
            "enabled": bool(enabled),
            "duration_min": _number(duration_min, "duration_min", int),
            "team_size": _number(team_size, "team_size", int),
            "price_yuan": _number(price_yuan, "price_yuan", float),
        }
    except BadInput as failure:
        return back(request, f"{HERE}#item-{code}", err=failure.message)
    return _apply(request, actor, session, street_edit.set_item(code, values), f"item-{code}")


def _number(raw: str, field: str, kind: type[int] | type[float]) -> int | float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise BadInput(
            _("%(field)s: a number (got %(value)s)", field=field, value=repr(raw)), field
        ) from None


@router.post("/street/staff")
def staff(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    username: FormText,
    name: FormText = "",
    role: FormText = "staff",
    community: FormText = "",
) -> Response:
    """Add a staff account; its password is shown once, on the page this answers with."""
    edit = street_edit.add_staff(username.strip(), name.strip(), role, community or None)
    try:
        result = street_edit.edit_street(session, actor, edit)
    except ServiceError as failure:
        session.rollback()
        return back(request, f"{HERE}#accounts", err=failure.message)
    return _page(request, actor, session, passwords=result.passwords)
