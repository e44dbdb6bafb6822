"""The staff page of management-type people (管理型, ``/s/managed``): the people the office
looks after through grid visits, with a form to add one and the ledger import; planners see
how many there are per community, never who. The service decides who sees whom
(``api.services.ledger.managed``). Also: recording that a resident and a helper are the same
person (from the resident's page)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.http.deps import SessionDep
from api.http.pages.staff import DeskPage, FormText, StaffPage, back, parse_int, show
from api.http.params import IdPath
from api.i18n import N_
from api.i18n import gettext as _
from api.services.errors import BadInput, ServiceError
from api.services.ledger import catalogue, managed
from api.services.ledger.models import ManagedIn

router = APIRouter(prefix="/s", include_in_schema=False)
HERE = "/s/managed"
FIELDS = {  # the form's fields as its labels name them
    "code": N_("Ledger code"),
    "name": N_("Name"),
    "community_id": N_("Community / grid"),
    "grid_id": N_("Community / grid"),
    "phone": N_("Phone"),
    "address": N_("Address"),
    "note": N_("Why looked after"),
}


@router.get("/managed")
def managed_people(request: Request, actor: DeskPage, session: SessionDep) -> Response:
    """Staff: the list and the add form; planners: the counts per community only."""
    counts = managed.managed_counts(session, actor)
    people = managed.list_managed(session, actor) if actor.role == "staff" else []
    places = catalogue.communities(session, actor) if actor.role == "staff" else []
    if actor.community_id is not None:
        places = [c for c in places if c.id == actor.community_id]
    return show(request, "s/managed.html", actor, section="managed", people=people,
                counts=counts, places=places)  # fmt: skip


@router.post("/managed")
def add(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    code: FormText = "",
    name: FormText = "",
    place: FormText = "",
    phone: FormText = "",
    address: FormText = "",
    note: FormText = "",
) -> RedirectResponse:
    """Add a management-type person (``place``: a community id, or community:grid ids)."""
    try:
        community, _sep, grid = place.partition(":")
        spec = ManagedIn(
            code=code.strip(),
            name=name.strip(),
            community_id=parse_int(community or "0", "community_id"),
            grid_id=parse_int(grid, "grid_id") if grid else None,
            phone=phone.strip(),
            address=address.strip(),
            note=note.strip(),
        )
        managed.add_managed(session, actor, spec)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "code"
        shown = _(FIELDS.get(field, N_("Ledger code")))
        return back(request, HERE, err=_("%(field)s: invalid value", field=shown))
    except (ServiceError, BadInput) as failure:
        session.rollback()
        return back(request, HERE, err=failure.message)
    return back(request, HERE, msg=_("%(code)s added", code=spec.code))


@router.post("/residents/{resident_id}/same-person")
def same_person(
    request: Request,
    resident_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    helper: FormText = "",
) -> RedirectResponse:
    """Record (or clear, with an empty code) that the resident is also a helper."""
    target = f"/s/residents/{resident_id}"
    try:
        linked = managed.link_same_person(session, actor, resident_id, helper.strip() or None)
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    if linked is None:
        return back(request, target, msg=_("no longer linked to a helper record"))
    return back(request, target, msg=_("the same person as helper %(code)s", code=linked.code))
