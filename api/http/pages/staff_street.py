"""The staff page of the street's set-up (``/s/street``), read-only: the street's settings,
its communities, grids and buildings (with how many people each holds), the staff accounts
and the street's own catalogue settings, as ``qunbang street init`` wrote them from the
street's file. Street staff see all of it; community staff their own community (and the
street's settings and catalogue). The service decides the scope."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from api.http.deps import SessionDep
from api.http.pages.staff import StaffPage, show
from api.services.errors import ServiceError
from api.services.ledger.street_setup import street_view

router = APIRouter(prefix="/s", include_in_schema=False)


@router.get("/street")
def street(request: Request, actor: StaffPage, session: SessionDep) -> Response:
    """The street's set-up, read-only."""
    try:
        view = street_view(session, actor)
    except ServiceError as failure:
        raise HTTPException(404) from failure
    return show(request, "s/street.html", actor, section="street", street=view)
