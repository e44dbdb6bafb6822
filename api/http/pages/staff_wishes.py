"""Staff pages for micro-wishes and who fulfils them: the wish board of the staff member's area
(``/s/wishes``: post one for a resident, set its points, record a partner unit's claim, confirm
it fulfilled, give a claim back, cancel) and the street's partner units and standing volunteer
teams (``/s/partners``). Every form calls ``api.services.wishes`` and redirects back."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.http.deps import SessionDep
from api.http.pages.staff import FormText, StaffPage, back, show
from api.http.params import IdPath, page_from_query
from api.i18n import gettext as _
from api.services.errors import BadInput, ServiceError
from api.services.wishes import board, partners

router = APIRouter(prefix="/s", include_in_schema=False)
PER_PAGE = 50
SHOWN = ("open", "claimed", "confirmed", "cancelled", "all")


def whole_number(raw: str, field: str) -> int:
    raw = raw.strip()
    if not (raw.isdecimal() and len(raw) < 10):
        raise BadInput(_("%(field)s is a whole number", field=field), field)
    return int(raw)


def _numbers(raw: str, field: str) -> list[int]:
    """Numbers typed with commas or spaces between them ("12, 15 18")."""
    return [whole_number(part, field) for part in raw.replace(",", " ").replace("，", " ").split()]


@router.get("/wishes")
def wishes(
    request: Request, actor: StaffPage, session: SessionDep, show_: str = "open", page: str = "1"
) -> Response:
    """The wishes of my area, by status (open first), newest first."""
    chosen = show_ if show_ in SHOWN else "open"
    status = None if chosen == "all" else chosen
    found = board.board(session, actor, status, page_from_query(page), PER_PAGE)
    return show(
        request,
        "s/wishes.html",
        actor,
        section="wishes",
        found=found,
        chosen=chosen,
        choices=SHOWN,
        units=partners.partners(session, actor, active_only=True),
        here=f"/s/wishes?show_={chosen}",
        title_max=board.MAX_TITLE,
        points_max=board.MAX_POINTS,
    )


@router.post("/wishes")
def post(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    resident_id: FormText = "",
    title: FormText = "",
    kind: FormText = "thing",
    detail: FormText = "",
    points: FormText = "0",
) -> RedirectResponse:
    """Post a wish for a resident of my area, with its points."""
    try:
        resident, worth = whole_number(resident_id, "resident_id"), whole_number(points, "points")
        wish = board.post_wish(session, actor, title, kind, detail, worth, resident)
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/wishes", err=failure.message)
    return back(request, f"/s/wishes#wish-{wish.id}", msg=_("wish %(id)s posted", id=wish.id))


@router.post("/wishes/{wish_id}/{action}")
def act(
    request: Request,
    wish_id: IdPath,
    action: str,
    actor: StaffPage,
    session: SessionDep,
    points: FormText = "",
    partner_id: FormText = "",
    next: FormText = "",
) -> RedirectResponse:
    """One action on a wish: ``points``, ``claim`` (for a partner unit), ``confirm``,
    ``release`` or ``cancel``."""
    target = next if next.startswith("/s/wishes") else "/s/wishes"
    try:
        if action == "points":
            board.set_points(session, actor, wish_id, whole_number(points, "points"))
        elif action == "claim":
            board.claim_wish(
                session, actor, wish_id, partner_id=whole_number(partner_id, "partner_id")
            )
        elif action == "confirm":
            view = board.confirm_wish(session, actor, wish_id)
            paid = sum(amount for _helper, amount in view.paid)
            return back(
                request,
                target,
                msg=_("wish %(id)s confirmed: %(points)s points paid", id=wish_id, points=paid),
            )
        elif action == "release":
            board.release_wish(session, actor, wish_id)
        elif action == "cancel":
            board.cancel_wish(session, actor, wish_id)
        else:
            raise BadInput(_("unknown action"))
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    return back(request, target, msg=_("wish %(id)s saved", id=wish_id))


# ----------------------------------------------------------------------------- units and teams


@router.get("/partners")
def units(request: Request, actor: StaffPage, session: SessionDep) -> Response:
    """The street's partner units and standing volunteer teams."""
    return show(
        request,
        "s/partners.html",
        actor,
        section="wishes",
        units=partners.partners(session, actor),
        teams=partners.teams(session, actor),
    )


@router.post("/partners")
def add_unit(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    name: FormText = "",
    kind: FormText = "company",
    contact: FormText = "",
) -> RedirectResponse:
    try:
        unit = partners.add_partner(session, actor, name, kind, contact)
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/partners", err=failure.message)
    return back(request, "/s/partners", msg=_("partner unit %(name)s added", name=unit.name))


@router.post("/partners/{partner_id}/active")
def unit_active(
    request: Request,
    partner_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    active: FormText = "",
) -> RedirectResponse:
    try:
        partners.set_partner_active(session, actor, partner_id, active == "1")
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/partners", err=failure.message)
    return back(request, "/s/partners", msg=_("partner unit saved"))


@router.post("/teams")
def add_team(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    name: FormText = "",
    helper_ids: FormText = "",
) -> RedirectResponse:
    try:
        team = partners.add_team(session, actor, name, _numbers(helper_ids, "helper_ids"))
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/partners", err=failure.message)
    return back(request, "/s/partners", msg=_("team %(name)s added", name=team.name))


@router.post("/teams/{team_id}/members")
def team_members(
    request: Request,
    team_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    helper_ids: FormText = "",
) -> RedirectResponse:
    try:
        team = partners.set_team_members(
            session, actor, team_id, _numbers(helper_ids, "helper_ids")
        )
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/partners", err=failure.message)
    return back(request, "/s/partners", msg=_("team %(name)s saved", name=team.name))
