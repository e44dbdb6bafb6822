"""The notification outbox: staff read messages to helpers in their scope; a helper reads their
own (``/me/notifications``)."""

from __future__ import annotations

from typing import Literal

from api.deps import HelperActor, SessionDep, StaffActor
from api.openapi import declared_router
from api.params import IdFilter, PageNumber, PageSize
from api.schemas.ledger import Page
from api.services import outbox
from api.services.outbox import NotificationFilters, NotificationOut

router = declared_router(tags=["notifications"])

Status = Literal["pending", "sent", "failed"]
Kind = Literal["offer", "reminder", "change", "cancellation"]


@router.get("/notifications")
def list_notifications(
    session: SessionDep,
    actor: StaffActor,
    status: Status | None = None,
    kind: Kind | None = None,
    helper_id: IdFilter = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[NotificationOut]:
    """Messages to helpers in your scope, newest first."""
    filters = NotificationFilters(status, kind, helper_id)
    return outbox.list_notifications(session, actor, filters, page, page_size)


@router.get("/me/notifications")
def my_notifications(
    session: SessionDep,
    actor: HelperActor,
    status: Status | None = None,
    kind: Kind | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[NotificationOut]:
    """Your own messages, newest first."""
    filters = NotificationFilters(status, kind)
    return outbox.list_notifications(session, actor, filters, page, page_size)
