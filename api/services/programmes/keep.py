"""The helper a confirmed pair's recurring order is kept with: the nightly run plans each such
occurrence with that helper first (as a member already told: kept unless they can no longer
serve it, or moving them covers clearly more), so the pair sees each other every time."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.store.statuses import PairStatus
from api.store.tables import HelperRow, OrderRow, ProgrammeMemberRow, ProgrammePairRow


def paired_helpers(session: Session, orders: Iterable[OrderRow]) -> dict[int, list[int]]:
    """Per order (of those given) that is an occurrence of a confirmed pair's series, the pair's
    helper (row id) when they are still active."""
    by_series: dict[int, list[int]] = {}
    for order in orders:
        if order.series_id is not None:
            by_series.setdefault(order.series_id, []).append(order.id)
    if not by_series:
        return {}
    rows = session.execute(
        select(ProgrammePairRow.series_id, ProgrammeMemberRow.helper_id)
        .join(ProgrammeMemberRow, ProgrammeMemberRow.id == ProgrammePairRow.helper_member_id)
        .join(HelperRow, HelperRow.id == ProgrammeMemberRow.helper_id)
        .where(
            ProgrammePairRow.series_id.in_(sorted(by_series)),
            ProgrammePairRow.status == PairStatus.CONFIRMED,
            HelperRow.active.is_(True),
        )
    ).all()
    kept: dict[int, list[int]] = {}
    for series_id, helper_id in rows:
        if series_id is None or helper_id is None:
            continue
        for order_id in by_series[series_id]:
            kept.setdefault(order_id, []).append(helper_id)
    return kept
