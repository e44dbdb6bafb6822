"""How many visits helpers hold on a day: what the run page shows next to a helper it names
(a candidate's load, the helper a next step asks to take one more)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    AssignmentRow,
    OfferRow,
    OrderRow,
)


def visits_on(session: Session, date: dt.date, helper_ids: Collection[int]) -> dict[int, int]:
    """Each helper's visits that day (live offers of live assignments, as the matcher counts
    what a day already holds), by helper id; helpers without any are left out. One query."""
    if not helper_ids:
        return {}
    query = (
        select(OfferRow.helper_id, func.count())
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .where(
            OrderRow.date == date,
            OfferRow.helper_id.in_(sorted(helper_ids)),
            AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
            OfferRow.status.in_(LIVE_OFFER_STATUSES),
        )
        .group_by(OfferRow.helper_id)
    )
    return {helper_id: count for helper_id, count in session.execute(query)}
