"""The hours ledger's invariants, as ``api.services.matching.invariants`` runs them ("hours
ledger consistent"): each returns (code, message) pairs for what is broken."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.services.hours.ledger import clocked_minutes
from api.store.statuses import AssignmentStatus, HoursKind, HoursSource, OfferStatus
from api.store.tables import AssignmentRow, HelperRow, HoursEntry, OrderRow, VisitClockRow

Problem = tuple[str, str]


def hours_ledger_problems(
    session: Session,
    orders: Mapping[int, OrderRow],
    live: Mapping[int, Sequence[AssignmentRow]],
    street_id: int | None,
) -> list[Problem]:
    """Every confirmed member of a visit was credited for it and has at most one unreversed
    visit entry for it (none once staff reversed it: the visit did not count), and nobody else
    has one; its minutes are those of the member's clock when it says so (else the
    member clocked no whole visit) and its day is the visit's; each reversal undoes exactly
    one visit entry (same helper, order, day, opposite minutes); a visit is never negative."""
    query = select(HoursEntry).order_by(HoursEntry.id)
    if street_id is not None:
        query = query.join(HelperRow, HoursEntry.helper_id == HelperRow.id).where(
            HelperRow.street_id == street_id
        )
    entries = list(session.scalars(query))
    by_id = {e.id: e for e in entries}
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id is not None}
    found: list[Problem] = []
    standing: dict[tuple[int | None, int], list[HoursEntry]] = defaultdict(list)
    credited = {(e.order_id, e.helper_id) for e in entries if e.kind == HoursKind.VISIT}
    for entry in entries:
        if entry.kind == HoursKind.REVERSAL:
            found += _reversal_problems(entry, by_id)
            continue
        if entry.minutes < 0:
            found.append(("hours_sign", f"visit entry {entry.id} is {entry.minutes} minutes"))
        if entry.id not in reversed_ids:
            standing[(entry.order_id, entry.helper_id)].append(entry)
    clocks = _clocks(session, [a[0].id for a in live.values()])
    members: set[tuple[int | None, int]] = set()
    for order_id, assignments in sorted(live.items()):
        assignment = assignments[0]
        if assignment.status != AssignmentStatus.CONFIRMED:
            continue
        for offer in assignment.offers:
            if offer.status != OfferStatus.ACCEPTED:
                continue
            key = (order_id, offer.helper_id)
            members.add(key)
            rows = standing.get(key, [])
            if len(rows) > 1 or (not rows and key not in credited):
                found.append((
                    "hours_count",
                    f"confirmed order {order_id}: helper {offer.helper_id} has "
                    f"{len(rows)} standing visit entries {[e.id for e in rows]}, expected one",
                ))  # fmt: skip
                continue
            if rows:
                clock = clocks.get((assignment.id, offer.helper_id))
                found += _minutes_problems(rows[0], orders[order_id], clocked_minutes(clock))
    for (entry_order, helper_id), rows in sorted(standing.items(), key=lambda kv: str(kv[0])):
        if (entry_order, helper_id) not in members and (street_id is None or entry_order in orders):
            found.append((
                "hours_unearned",
                f"helper {helper_id} has standing visit entries {[e.id for e in rows]} for "
                f"order {entry_order}, of which they are no confirmed member",
            ))  # fmt: skip
    return found


def _reversal_problems(entry: HoursEntry, by_id: Mapping[int, HoursEntry]) -> list[Problem]:
    original = by_id.get(entry.reverses_id) if entry.reverses_id is not None else None
    if (
        original is None
        or original.kind != HoursKind.VISIT
        or (original.helper_id, original.order_id, original.served_on, -original.minutes)
        != (entry.helper_id, entry.order_id, entry.served_on, entry.minutes)
    ):
        return [("hours_reversal_mismatch",
                 f"hours reversal {entry.id} does not undo entry {entry.reverses_id}")]  # fmt: skip
    return []


def _minutes_problems(entry: HoursEntry, order: OrderRow, clocked: int | None) -> list[Problem]:
    found = []
    if entry.served_on != order.date:
        found.append(("hours_day", f"visit entry {entry.id} is dated {entry.served_on}, "
                                   f"its order {order.id} {order.date}"))  # fmt: skip
    if entry.source == HoursSource.CLOCK and entry.minutes != clocked:
        found.append(("hours_clock", f"visit entry {entry.id} counts {entry.minutes} minutes, "
                                     f"the clock {clocked}"))  # fmt: skip
    if entry.source == HoursSource.PLANNED and clocked is not None:
        found.append(("hours_clock", f"visit entry {entry.id} counts planned minutes, but the "
                                     f"member clocked {clocked}"))  # fmt: skip
    return found


def _clocks(session: Session, assignment_ids: list[int]) -> dict[tuple[int, int], VisitClockRow]:
    if not assignment_ids:
        return {}
    rows = session.scalars(
        select(VisitClockRow).where(VisitClockRow.assignment_id.in_(assignment_ids))
    )
    return {(row.assignment_id, row.helper_id): row for row in rows}
