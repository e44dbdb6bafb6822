"""Running totals of each resident-helper pair's history (table ``circle_totals``): the one
place that says what of the history a care circle counts.

A visit is the helper's accepted offer on a done or confirmed assignment of the resident's order
(``SERVED``); its score is the order's feedback, low or good as ``matcher.circles`` says
(``LOW_SCORE``, ``GOOD_SCORE``). ``history`` is that aggregate as one statement; everything else
here uses it:

- ``refresh_orders``: a writer that changes the history (a visit marked done, confirmed, a score
  given) calls it with the orders it changed, in its own transaction, before it commits: the
  totals of those orders' pairs are counted again from the history (a few rows of one resident,
  so no delta to get wrong, and a reversal is counted as well as an addition);
- ``rebuild``: every pair at once, set-based (bulk loads of history; migration 0018 filled the
  table with this rule as it stood then, frozen as SQL);
- ``total_problems``: the invariant checker's comparison of the totals with the history, so a
  writer that forgot to call ``refresh_orders`` is caught.

Writers hold ``begin_write``'s lock, so two refreshes of one pair never interleave."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Select, case, delete, func, insert, select
from sqlalchemy.orm import Session

from api.store.stamps import CIRCLES_REFRESHING, circles_name, restamp, restamp_all_circles
from api.store.statuses import AssignmentStatus, OfferStatus
from api.store.tables import (
    AssignmentRow,
    CircleTotal,
    FeedbackRow,
    OfferRow,
    OrderRow,
    ResidentRow,
)
from matcher.circles import GOOD_SCORE, LOW_SCORE

SERVED = (AssignmentStatus.DONE, AssignmentStatus.CONFIRMED)

# the totals' columns, in the order ``history`` selects them (``KEPT``: the table's columns)
COLUMNS = (
    "resident_id",
    "helper_id",
    "visits",
    "first_visit",
    "last_visit",
    "low_scores",
    "good_scores",
    "scored",
    "score_sum",
)
KEPT = tuple(getattr(CircleTotal, name) for name in COLUMNS)


def history(*where: Any) -> Select[int, int, int, dt.date, dt.date, Any, Any, int, int]:
    """Per resident and helper (of the orders ``where`` picks): visits as an accepted member of
    a done or confirmed visit, the first and last day, low and good scores, how many scored and
    their sum — the rule, here only."""
    score = FeedbackRow.score
    return (
        select(
            OrderRow.resident_id.label("resident_id"),
            OfferRow.helper_id.label("helper_id"),
            func.count().label("visits"),
            func.min(OrderRow.date).label("first_visit"),
            func.max(OrderRow.date).label("last_visit"),
            func.sum(case((score <= LOW_SCORE, 1), else_=0)).label("low_scores"),
            func.sum(case((score >= GOOD_SCORE, 1), else_=0)).label("good_scores"),
            func.count(score).label("scored"),
            func.coalesce(func.sum(score), 0).label("score_sum"),
        )
        .join(AssignmentRow, AssignmentRow.order_id == OrderRow.id)
        .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
        .outerjoin(FeedbackRow, FeedbackRow.order_id == OrderRow.id)
        .where(
            AssignmentRow.status.in_(SERVED),
            OfferRow.status == OfferStatus.ACCEPTED,
            *where,
        )
        .group_by(OrderRow.resident_id, OfferRow.helper_id)
    )


def _fill(*where: Any) -> Any:
    return insert(CircleTotal).from_select(list(KEPT), history(*where))


def refresh_orders(session: Session, order_ids: Iterable[int]) -> None:
    """Count again the totals of every pair of these orders (their residents and every helper
    offered one of them, whatever the offer's status now), from the history as this transaction
    sees it. Call it after the change is flushed, before the commit."""
    ids = sorted(set(order_ids))
    if not ids:
        return
    session.flush()
    query = (
        select(OrderRow.street_id, OrderRow.resident_id, OfferRow.helper_id)
        .join(AssignmentRow, AssignmentRow.order_id == OrderRow.id)
        .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
        .where(OrderRow.id.in_(ids))
        .distinct()
    )
    helpers: dict[int, set[int]] = {}
    streets: set[int] = set()
    for street_id, resident_id, helper_id in session.execute(query):
        helpers.setdefault(resident_id, set()).add(helper_id)
        streets.add(street_id)
    session.info[CIRCLES_REFRESHING] = True  # restamped below, for these streets only
    try:
        for resident_id, some in sorted(helpers.items()):
            chosen = sorted(some)
            session.execute(
                delete(CircleTotal).where(
                    CircleTotal.resident_id == resident_id, CircleTotal.helper_id.in_(chosen)
                )
            )
            where = (OrderRow.resident_id == resident_id, OfferRow.helper_id.in_(chosen))
            session.execute(_fill(*where))
    finally:
        session.info.pop(CIRCLES_REFRESHING, None)
    restamp(session, [circles_name(s) for s in streets])


def rebuild(connection: Connection | Session, street_id: int | None = None) -> None:
    """Every pair's totals (of one street's residents, or of all) counted again from the history
    in two statements (a bulk load of history)."""
    if street_id is None:
        connection.execute(delete(CircleTotal))
        connection.execute(_fill())
    else:
        residents = select(ResidentRow.id).where(ResidentRow.street_id == street_id)
        connection.execute(delete(CircleTotal).where(CircleTotal.resident_id.in_(residents)))
        connection.execute(_fill(OrderRow.resident_id.in_(residents)))
    restamp_all_circles(connection)  # a session's statements restamp already; a connection's not


Totals = tuple[int, dt.date, dt.date, int, int, int, int]


def total_problems(session: Session, street_id: int | None) -> list[tuple[str, str]]:
    """Every pair whose totals differ from the history's aggregate (of the street's residents,
    or of all), as (code, message naming the pair)."""
    where: list[Any] = []
    kept = select(*KEPT)
    if street_id is not None:
        residents = select(ResidentRow.id).where(ResidentRow.street_id == street_id)
        where.append(OrderRow.resident_id.in_(residents))
        kept = kept.where(CircleTotal.resident_id.in_(residents))
    counted: dict[tuple[int, int], Totals] = {
        (row[0], row[1]): tuple(row[2:]) for row in session.execute(history(*where))
    }
    stored: dict[tuple[int, int], Totals] = {
        (row[0], row[1]): tuple(row[2:]) for row in session.execute(kept)
    }
    found = []
    for pair in sorted(counted.keys() | stored.keys()):
        if counted.get(pair) != stored.get(pair):
            found.append(
                (
                    "circle_totals",
                    f"resident {pair[0]}, helper {pair[1]}: totals {stored.get(pair)}, "
                    f"history {counted.get(pair)}",
                )
            )
    return found
