"""The notification outbox: staff read messages to helpers and users in their scope and resend
a failed one; a helper reads their own (``/me/notifications``), any user the messages to their
account (``/me/messages``: a resident's results, a staff member's orders and follow-ups)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api.http.deps import CurrentActor, HelperActor, SessionDep, StaffActor
from api.http.openapi import declared_router
from api.http.params import IdFilter, IdPath, PageNumber, PageSize
from api.services.messages import outbox
from api.services.messages.outbox import NotificationFilters, NotificationOut
from api.services.paging import Page
from api.store.statuses import NotificationKind, NotificationStatus

router = declared_router(tags=["notifications"])


@router.get("/notifications")
def list_notifications(
    session: SessionDep,
    actor: StaffActor,
    status: NotificationStatus | None = None,
    kind: NotificationKind | None = None,
    helper_id: IdFilter = None,
    unsent: Annotated[bool, Query(description="pending and failed messages only")] = False,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[NotificationOut]:
    """Messages to helpers in your scope, newest first."""
    filters = NotificationFilters(status, kind, helper_id, unsent)
    return outbox.list_notifications(session, actor, filters, page, page_size)


@router.post("/notifications/{notification_id}/resend")
def resend_notification(
    session: SessionDep, actor: StaffActor, notification_id: IdPath
) -> NotificationOut:
    """Send a failed message again: its attempts and back-off start over and the next tick
    sends it (404 outside your scope, 409 unless it failed). Audited."""
    return outbox.resend(session, actor, notification_id)


@router.get("/me/notifications")
def my_notifications(
    session: SessionDep,
    actor: HelperActor,
    status: NotificationStatus | None = None,
    kind: NotificationKind | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[NotificationOut]:
    """Your own messages, newest first."""
    filters = NotificationFilters(status, kind)
    return outbox.list_notifications(session, actor, filters, page, page_size)


@router.get("/me/messages")
def my_messages(
    session: SessionDep, actor: CurrentActor, page: PageNumber = 1, page_size: PageSize = 50
) -> Page[NotificationOut]:
    """Your own messages, newest first: those to your account (and a helper's to their
    helper)."""
    return outbox.inbox(session, actor, page, page_size)
