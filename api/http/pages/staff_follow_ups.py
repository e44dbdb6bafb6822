"""Staff pages for follow-up visits (跟踪回访): the visits the street's rules and low scores
scheduled, soonest due first (overdue ones flagged; filters: to do, overdue, mine, done, all),
with why each was scheduled and who owns it; record one that took place, or move it to another
day."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.http.deps import SessionDep
from api.http.pages.staff import FormText, StaffPage, back, page_from_query, parse_date, show
from api.http.params import IdPath
from api.i18n import gettext as _
from api.services.closing import follow_ups as rules
from api.services.closing import visits as closing
from api.services.errors import BadInput, ServiceError
from api.services.ledger import catalogue
from api.services.offers.assign import local_today

router = APIRouter(prefix="/s", include_in_schema=False)
PER_PAGE = 50
MAX_NOTES = 4000  # characters of what a visit found (as the API takes it)
# the list's choice → the service's filter
SHOWN = {
    "scheduled": "scheduled",
    "overdue": "overdue",
    "mine": "mine",
    "done": "done",
    "all": None,
}


@router.get("/follow-ups")
def follow_ups(
    request: Request, actor: StaffPage, session: SessionDep, show_: str = "", page: str = "1"
) -> Response:
    """The follow-up visits in the staff member's area: to do (default), overdue, mine to do,
    done, or all."""
    chosen = show_ if show_ in SHOWN else "scheduled"
    number = page_from_query(page)
    found = closing.list_follow_ups(
        session, actor, SHOWN[chosen], number, PER_PAGE, request.app.state.settings
    )
    settings = request.app.state.settings
    today = local_today(settings)
    street_rules = (
        rules.street_rules(session, settings, actor.street_id) if actor.street_id else None
    )
    kinds = catalogue.catalogue(session, actor).resident_categories
    categories = {c.code: (c.name_zh, c.name_en) for c in kinds}
    chosen_categories = [
        categories.get(code, (code, code))
        for code in sorted(street_rules.categories if street_rules else ())
    ]
    return show(request, "s/follow_ups.html", actor, section="follow_ups", found=found,
                chosen=chosen, choices=list(SHOWN), here=_url(chosen, number),
                pager_base=_url(chosen) + "&", today=today,
                month_ago=today - dt.timedelta(days=30), rules=street_rules,
                rule_categories=chosen_categories,
                low_score=settings.low_score_threshold)  # fmt: skip


def _url(chosen: str, number: int | None = None) -> str:
    query = {"show_": chosen} | ({"page": str(number)} if number else {})
    return "/s/follow-ups?" + urlencode(query)


@router.post("/follow-ups/{follow_up_id}/done")
def record(
    request: Request,
    follow_up_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    notes: FormText = "",
    next: FormText = "",
) -> RedirectResponse:
    """Record that the visit took place, with what it found."""
    target = _back_to(next)
    if len(notes) > MAX_NOTES:
        return back(request, target, err=_("notes are at most %(most)s characters", most=MAX_NOTES))
    try:
        closing.complete_follow_up(session, actor, follow_up_id, notes.strip())
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    return back(request, target, msg=_("follow-up %(id)s recorded", id=follow_up_id))


@router.post("/follow-ups/{follow_up_id}/reschedule")
def reschedule(
    request: Request,
    follow_up_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    due_date: FormText = "",
    next: FormText = "",
) -> RedirectResponse:
    """Move the visit to another day."""
    target = _back_to(next)
    try:
        due = parse_date(due_date, "due_date")
        if due is None:
            raise BadInput(_("Please pick a day"), "due_date")
        settings = request.app.state.settings
        moved = closing.reschedule_follow_up(session, settings, actor, follow_up_id, due)
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    message = _(
        "follow-up %(id)s moved to %(day)s", id=follow_up_id, day=moved.due_date.isoformat()
    )
    return back(request, target, msg=message)


@router.post("/follow-ups/apply")
def apply_rules(
    request: Request,
    actor: StaffPage,
    session: SessionDep,
    date_from: FormText = "",
    date_to: FormText = "",
) -> RedirectResponse:
    """Apply the street's rules again to the visits confirmed on those days (e.g. after the
    street changed them); what was scheduled already stays as it is."""
    target = _url("scheduled")
    try:
        first = parse_date(date_from, "date_from")
        last = parse_date(date_to, "date_to")
        if first is None or last is None:
            raise BadInput(_("Please pick a day"), "date_from")
        settings = request.app.state.settings
        applied = rules.apply_rules(session, settings, actor, first, last)
    except ServiceError as failure:
        session.rollback()
        return back(request, target, err=failure.message)
    message = _(
        "%(orders)s confirmed visits looked at: %(added)s follow-ups added, %(existing)s there "
        "already",
        orders=applied.orders,
        added=applied.added,
        existing=applied.existing,
    )
    return back(request, target, msg=message)


def _back_to(next_url: str) -> str:
    """Back to the list the form was on (only this page's own addresses)."""
    return next_url if next_url.startswith("/s/follow-ups") else "/s/follow-ups"
