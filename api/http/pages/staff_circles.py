"""Staff pages for care circles (帮扶圈): a resident's circle (who, since when, visits, last visit,
scores; add by ledger code, remove, keep someone a low score took out), the residents whose circle
a helper belongs to, and the weekly circle planner with the street's target. The services in
``api.services.circles`` decide the scope and the rules and write the audit entries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.http.deps import SessionDep
from api.http.pages.staff import FormText, StaffPage, back, parse_int, show
from api.http.params import IdPath, page_from_query
from api.i18n import gettext as _
from api.i18n import ngettext
from api.services.actor import Actor
from api.services.circles import members, targets
from api.services.errors import BadInput, NotFound, ServiceError
from api.services.ledger import catalogue
from api.services.ledger import people as ledger
from api.services.offers.assign import local_today
from matcher.circles import BLOCK_AFTER, GOOD_SCORE, LOW_SCORE

router = APIRouter(prefix="/s", include_in_schema=False)


def _skills(session: Session, actor: Actor) -> dict[str, tuple[str, str]]:
    return {s.code: (s.name_zh, s.name_en) for s in catalogue.catalogue(session, actor).skills}


@router.get("/residents/{resident_id}/circle")
def circle(
    request: Request, resident_id: IdPath, actor: StaffPage, session: SessionDep
) -> Response:
    """The resident's circle: members, then those taken out; forms to add, remove and keep."""
    try:
        found = members.resident_circle(session, actor, resident_id)
    except NotFound as missing:
        session.rollback()
        return show(request, "s/missing.html", actor, 404, section="residents",
                    error=missing.message)  # fmt: skip
    return show(request, "s/circle.html", actor, section="residents", circle=found,
                low_score=LOW_SCORE, good_score=GOOD_SCORE, block_after=BLOCK_AFTER)  # fmt: skip


@router.post("/residents/{resident_id}/circle/add")
def add(
    request: Request,
    resident_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    helper: FormText = "",
    code: FormText = "",
) -> RedirectResponse:
    """Add a helper (by id from the planner, or by ledger code) to the resident's circle."""
    target = f"/s/residents/{resident_id}/circle"
    try:
        if code.strip():
            helper_id = members.helper_by_code(session, actor, code)
        elif helper.strip():
            helper_id = parse_int(helper, "helper")
        else:
            raise BadInput(_("Please give a helper's code"), "code")
        members.add_member(session, actor, resident_id, helper_id)
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    return back(request, target, msg=_("added to the circle"))


@router.post("/residents/{resident_id}/circle/remove")
def remove(
    request: Request,
    resident_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    helper: FormText = "",
) -> RedirectResponse:
    """Take a member out of the resident's circle."""
    target = f"/s/residents/{resident_id}/circle"
    try:
        members.remove_member(session, actor, resident_id, parse_int(helper, "helper"))
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    return back(request, target, msg=_("taken out of the circle"))


@router.post("/residents/{resident_id}/circle/keep")
def keep(
    request: Request,
    resident_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    helper: FormText = "",
) -> RedirectResponse:
    """Keep in the circle a helper a low score took out."""
    target = f"/s/residents/{resident_id}/circle"
    try:
        members.keep_member(session, actor, resident_id, parse_int(helper, "helper"))
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    return back(request, target, msg=_("kept in the circle"))


@router.get("/helpers/{helper_id}/circles")
def helper_circles(
    request: Request, helper_id: IdPath, actor: StaffPage, session: SessionDep
) -> Response:
    """The residents whose circle the helper belongs to."""
    try:
        person = ledger.get_helper(session, actor, helper_id)
        found = members.helper_circles(session, actor, helper_id)
    except NotFound as missing:
        session.rollback()
        return show(request, "s/missing.html", actor, 404, section="helpers",
                    error=missing.message)  # fmt: skip
    return show(request, "s/helper_circles.html", actor, section="helpers", person=person,
                circles=found)  # fmt: skip


@router.get("/circles")
def planner(request: Request, actor: StaffPage, session: SessionDep, page: str = "1") -> Response:
    """The weekly circle planner: the street's target, how many meet it, and a page of the
    stored plan's proposals (with when it was made and a form to make it again)."""
    today = local_today(request.app.state.settings)
    try:
        plan = targets.circle_plan(session, actor, today, page_from_query(page))
    except ServiceError as failure:
        session.rollback()
        return show(request, "s/missing.html", actor, 403, section="circles",
                    error=failure.message)  # fmt: skip
    kinds = catalogue.catalogue(session, actor).resident_categories
    categories = [(c.code, c.name_zh, c.name_en) for c in kinds]
    return show(request, "s/circles.html", actor, section="circles", plan=plan,
                categories=categories, skills=_skills(session, actor),
                max_size=targets.MAX_SIZE)  # fmt: skip


@router.post("/circles/plan")
def make_plan(request: Request, actor: StaffPage, session: SessionDep) -> RedirectResponse:
    """Make the street's weekly circle plan again (stored; the planner page shows it)."""
    today = local_today(request.app.state.settings)
    try:
        short = targets.make_plan(session, actor, today)
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/circles", err=failure.message)
    message = ngettext(
        "circle plan made: %(n)s resident short of the target",
        "circle plan made: %(n)s residents short of the target",
        short,
    )
    return back(request, "/s/circles", msg=message)


@router.post("/circles/target")
def set_target(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    size: FormText = "",
    categories: Annotated[list[str] | None, Form()] = None,
) -> RedirectResponse:
    """Set the street's circle target (street-wide staff)."""
    try:
        targets.set_target(session, actor, parse_int(size, "size"), categories or [])
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/circles", err=failure.message)
    return back(request, "/s/circles", msg=_("circle target saved"))
