"""The staff page for the outbox (``/s/messages``): messages that failed or wait to be sent,
with their kind, recipient, attempts, last error and next attempt, and a button that sends a
failed message again. The outbox service decides the scope (community staff see messages to
their community's helpers and residents only) and writes the audit entry of a resend.

And the staff member's own messages (``/s/inbox``): their orders at risk or overdue, their
follow-up visits overdue, newest first.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.http.deps import SessionDep
from api.http.pages.staff import StaffPage, back, page_from_query, show
from api.http.params import IdPath
from api.i18n import N_
from api.i18n import gettext as _
from api.services.errors import ServiceError
from api.services.messages import outbox
from api.services.messages.outbox import NotificationFilters
from api.store.statuses import NotificationStatus

router = APIRouter(prefix="/s", include_in_schema=False)
PER_PAGE = 25
INBOX_PER_PAGE = 30
SHOWN = {  # the status filter: its value → its name
    "unsent": N_("Not sent (failed and pending)"),
    NotificationStatus.FAILED: N_("Failed"),
    NotificationStatus.PENDING: N_("Pending"),
    NotificationStatus.SENT: N_("Sent"),
    "all": N_("All"),
}


@router.get("/messages")
def messages(
    request: Request, actor: StaffPage, session: SessionDep, status: str = "", page: str = "1"
) -> Response:
    """Messages to helpers in the staff member's scope, newest first; by default the ones not
    sent (failed or pending)."""
    shown = status if status in SHOWN else "unsent"
    filters = NotificationFilters(
        status=None if shown in ("unsent", "all") else shown, unsent=shown == "unsent"
    )
    found = outbox.list_notifications(session, actor, filters, page_from_query(page), PER_PAGE)
    return show(request, "s/messages.html", actor, section="messages", found=found,
                shown=shown, choices={value: _(name) for value, name in SHOWN.items()},
                pager_base=f"/s/messages?status={shown}&")  # fmt: skip


@router.get("/inbox")
def inbox(request: Request, actor: StaffPage, session: SessionDep, page: str = "1") -> Response:
    """My own messages (as an owner of orders and follow-up visits), newest first."""
    found = outbox.inbox(session, actor, page_from_query(page), INBOX_PER_PAGE)
    return show(request, "s/inbox.html", actor, section="inbox", found=found,
                pager_base="/s/inbox?")  # fmt: skip


@router.post("/messages/{notification_id}/resend")
def resend(
    request: Request,
    notification_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    next_url: Annotated[str, Form(alias="next")] = "/s/messages",
) -> RedirectResponse:
    """Send a failed message again (its attempts start over); back to the list."""
    try:
        outbox.resend(session, actor, notification_id)
    except ServiceError as failure:
        session.rollback()
        return back(request, next_url, err=failure.message)
    message = _(
        "message %(notification_id)s will be sent again on the next round",
        notification_id=notification_id,
    )
    return back(request, next_url, msg=message)
