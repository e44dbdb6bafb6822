"""Staff pages for two-way pairing programmes (双向自主选择, e.g. 周末妈妈): the street's programmes
and a form for a new one; a programme's settings, who is enrolled (enrol by ledger code), each
member's shortlist ranked on their behalf, the stable matching computed, and its pairs confirmed
(each becomes a recurring order kept with the helper) or ended. The services decide
(``api.services.programmes``); community staff see and act for the people of their community."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.http.deps import SessionDep
from api.http.pages import labels
from api.http.pages.phone_programmes import parse_ranking
from api.http.pages.staff import FormText, StaffPage, back, parse_date, show
from api.http.pages.staff_people import _labels
from api.http.params import IdPath
from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput, ServiceError
from api.services.ledger import catalogue
from api.services.programmes import pairs as pairing
from api.services.programmes import ranking, setup
from api.services.programmes.setup import ProgrammeSpec

router = APIRouter(prefix="/s", include_in_schema=False)
FormList = Annotated[list[str], Form()]
TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


# ----------------------------------------------------------------------------- forms


def _minute(raw: str, field: str) -> int | None:
    """ "09:30" → 570; blank → None."""
    raw = raw.strip()
    if not raw:
        return None
    found = TIME.match(raw)
    if found is None or int(found[1]) > 24 or int(found[2]) > 59:
        raise BadInput(_("a time is HH:MM: %(raw)s", raw=repr(raw)), field)
    return int(found[1]) * 60 + int(found[2])


def _number(raw: str, field: str, default: int) -> int:
    raw = raw.strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 6:
        raise BadInput(_("%(field)s must be a whole number", field=field), field)
    return int(raw)


def _km(raw: str) -> float | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as error:
        raise BadInput(
            _("a distance is a number of km: %(raw)s", raw=repr(raw)), "max_km"
        ) from error


def _spec(form: dict[str, Any]) -> ProgrammeSpec:
    """The programme the form describes (services check the values)."""
    start, end = (
        parse_date(form["start_date"], "start_date"),
        parse_date(form["end_date"], "end_date"),
    )
    if start is None or end is None:
        raise BadInput(_("Please pick a day"), "start_date" if start is None else "end_date")
    weekdays = tuple(int(d) for d in form["weekdays"] if d.isdigit() and len(d) == 1)
    return ProgrammeSpec(
        name=form["name"],
        item=form["item"],
        start_date=start,
        end_date=end,
        weekdays=weekdays,
        window_start=_minute(form["window_start"], "window_start"),
        window_end=_minute(form["window_end"], "window_end"),
        helper_capacity=_number(form["helper_capacity"], "helper_capacity", 1),
        resident_capacity=_number(form["resident_capacity"], "resident_capacity", 1),
        shortlist_size=_number(form["shortlist_size"], "shortlist_size", 5),
        max_km=_km(form["max_km"]),
        gender_preference=bool(form["gender_preference"]),
        favour=form["favour"],
        note=form["note"],
    )


def _form(
    name: str,
    item: str,
    start_date: str,
    end_date: str,
    weekdays: list[str],
    window_start: str,
    window_end: str,
    helper_capacity: str,
    resident_capacity: str,
    shortlist_size: str,
    max_km: str,
    gender_preference: str,
    favour: str,
    note: str,
) -> dict[str, Any]:
    return dict(locals())


def _context(session: Session, actor: Actor) -> dict[str, Any]:
    """What the programme forms show: the street's single-helper items, the weekdays, the
    matchings a programme may take."""
    items = [i for i in catalogue.catalogue(session, actor).items if i.active and i.team_size == 1]
    return {
        "items": items,
        "weekdays": labels.options("weekday"),
        "favours": labels.options("programme_favour"),
    }


# ----------------------------------------------------------------------------- programmes


@router.get("/programmes")
def programmes(request: Request, actor: StaffPage, session: SessionDep) -> Response:
    """The street's programmes, and (street staff) a form for a new one."""
    found = setup.list_programmes(session, actor)
    return show(request, "s/programmes.html", actor, section="programmes", found=found,
                **_context(session, actor))  # fmt: skip


@router.post("/programmes")
def create(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    name: FormText = "",
    item: FormText = "",
    start_date: FormText = "",
    end_date: FormText = "",
    weekdays: FormList = [],  # noqa: B006 (FastAPI copies the default)
    window_start: FormText = "",
    window_end: FormText = "",
    helper_capacity: FormText = "",
    resident_capacity: FormText = "",
    shortlist_size: FormText = "",
    max_km: FormText = "",
    gender_preference: FormText = "",
    favour: FormText = "residents",
    note: FormText = "",
) -> RedirectResponse:
    """Create a programme, then show it."""
    form = _form(name, item, start_date, end_date, weekdays, window_start, window_end,
                 helper_capacity, resident_capacity, shortlist_size, max_km, gender_preference,
                 favour, note)  # fmt: skip
    try:
        view = setup.create_programme(session, actor, _spec(form))
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/programmes", err=failure.message)
    return back(request, f"/s/programmes/{view.id}", msg=_("Programme created"))


@router.get("/programmes/{programme_id}")
def programme(
    request: Request, programme_id: IdPath, actor: StaffPage, session: SessionDep
) -> Response:
    """One programme: settings, members, pairs."""
    try:
        row = setup.scoped_programme(session, actor, programme_id)
    except ServiceError as failure:
        return show(request, "s/missing.html", actor, 404, error=failure.message)
    members = setup.members(session, actor, programme_id)
    return show(request, "s/programme.html", actor, section="programmes",
                programme=setup.programme_view(session, row), members=members,
                residents=[m for m in members if m.side == "resident"],
                helpers=[m for m in members if m.side == "helper"],
                pairs=pairing.pairs(session, actor, programme_id),
                **_labels(session, actor), **_context(session, actor))  # fmt: skip


@router.post("/programmes/{programme_id}")
def update(
    request: Request,
    programme_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    name: FormText = "",
    item: FormText = "",
    start_date: FormText = "",
    end_date: FormText = "",
    weekdays: FormList = [],  # noqa: B006
    window_start: FormText = "",
    window_end: FormText = "",
    helper_capacity: FormText = "",
    resident_capacity: FormText = "",
    shortlist_size: FormText = "",
    max_km: FormText = "",
    gender_preference: FormText = "",
    favour: FormText = "residents",
    note: FormText = "",
    active: FormText = "",
) -> RedirectResponse:
    """Save a programme's settings."""
    here = f"/s/programmes/{programme_id}"
    form = _form(name, item, start_date, end_date, weekdays, window_start, window_end,
                 helper_capacity, resident_capacity, shortlist_size, max_km, gender_preference,
                 favour, note)  # fmt: skip
    try:
        setup.update_programme(session, actor, programme_id, _spec(form), active=bool(active))
    except ServiceError as failure:
        session.rollback()
        return back(request, here, err=failure.message)
    return back(request, here, msg=_("Saved"))


@router.post("/programmes/{programme_id}/enrol")
def enrol(
    request: Request,
    programme_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    side: FormText = "",
    codes: FormText = "",
) -> RedirectResponse:
    """Enrol residents or helpers by ledger code (several: separated by spaces or commas)."""
    here = f"/s/programmes/{programme_id}"
    try:
        added = setup.enrol(session, actor, programme_id, side, re.split(r"[\s,，、]+", codes))
    except ServiceError as failure:
        session.rollback()
        return back(request, here, err=failure.message)
    return back(request, here + "#members", msg=_("%(count)s enrolled", count=len(added)))


@router.post("/programmes/{programme_id}/pair")
def compute(
    request: Request, programme_id: IdPath, actor: StaffPage, session: SessionDep
) -> RedirectResponse:
    """Compute the stable matching: the proposed pairs are replaced."""
    here = f"/s/programmes/{programme_id}"
    try:
        found = pairing.compute_pairs(session, actor, programme_id)
    except ServiceError as failure:
        session.rollback()
        return back(request, here, err=failure.message)
    message = _(
        "%(pairs)s pairs proposed; %(residents)s residents and %(helpers)s helpers left without "
        "a pair",
        pairs=found.proposed,
        residents=found.unpaired_residents,
        helpers=found.unpaired_helpers,
    )
    return back(request, here + "#pairs", msg=message)


@router.post("/programme-pairs/{pair_id}/confirm")
def confirm(
    request: Request, pair_id: IdPath, actor: StaffPage, session: SessionDep
) -> RedirectResponse:
    """Confirm a proposed pair: it becomes a recurring order kept with the helper."""
    try:
        view = pairing.confirm_pair(session, request.app.state.settings, actor, pair_id)
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/programmes", err=failure.message)
    return back(request, f"/s/programmes/{view.programme_id}#pairs", msg=_("Pair confirmed"))


@router.post("/programme-pairs/{pair_id}/end")
def end(
    request: Request, pair_id: IdPath, actor: StaffPage, session: SessionDep
) -> RedirectResponse:
    """End a confirmed pair: its recurring order stops."""
    try:
        view = pairing.end_pair(session, actor, pair_id)
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/programmes", err=failure.message)
    return back(request, f"/s/programmes/{view.programme_id}#pairs", msg=_("Pair ended"))


# ----------------------------------------------------------------------------- members


@router.get("/programme-members/{member_id}")
def member(request: Request, member_id: IdPath, actor: StaffPage, session: SessionDep) -> Response:
    """A member's shortlist, ranked on their behalf."""
    try:
        view = ranking.shortlist(session, actor, member_id)
        programme_id = setup.programme_of_member(session, member_id)
    except ServiceError as failure:
        return show(request, "s/missing.html", actor, 404, error=failure.message)
    return show(request, "s/programme_member.html", actor, section="programmes", view=view,
                programme_id=programme_id, **_labels(session, actor))  # fmt: skip


@router.post("/programme-members/{member_id}/rank")
def rank(
    request: Request,
    member_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    member: FormList = [],  # noqa: B006
    choice: FormList = [],  # noqa: B006
) -> RedirectResponse:
    """Store the ranking chosen on the member's behalf."""
    here = f"/s/programme-members/{member_id}"
    try:
        ranked, refused = parse_ranking(member, choice)
        ranking.rank(session, actor, member_id, ranked, refused)
    except ServiceError as failure:
        session.rollback()
        return back(request, here, err=failure.message)
    return back(request, here, msg=_("Ranking saved"))


@router.post("/programme-members/{member_id}/withdraw")
def withdraw(
    request: Request, member_id: IdPath, actor: StaffPage, session: SessionDep
) -> RedirectResponse:
    """Take a member out of the programme."""
    try:
        programme_id = setup.programme_of_member(session, member_id)
        setup.withdraw(session, actor, member_id)
    except ServiceError as failure:
        session.rollback()
        return back(request, "/s/programmes", err=failure.message)
    return back(request, f"/s/programmes/{programme_id}#members", msg=_("Withdrawn"))
