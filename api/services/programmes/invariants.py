"""What must hold of pairing programmes (read by ``api.services.matching.invariants``): confirmed
pairs within both members' capacities, between active members, each with its own recurring order
of the pair's resident for the programme's item; every proposed or confirmed pair is between a
resident and a helper of the same programme."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from api.store.statuses import PairStatus
from api.store.tables import OrderSeries, ProgrammeMemberRow, ProgrammePairRow, ProgrammeRow

# Made once: a new alias per call cost more than the query (SQLAlchemy builds each alias's
# column proxies on first use), and this runs after every step of the loop's state machine.
_RESIDENT, _HELPER = aliased(ProgrammeMemberRow), aliased(ProgrammeMemberRow)


def pair_problems(session: Session, street_id: int | None) -> list[tuple[str, str]]:
    """Every broken rule of the street's (or every street's) programme pairs, as (code,
    message naming the ids)."""
    resident, helper = _RESIDENT, _HELPER
    stmt = (
        select(ProgrammePairRow, ProgrammeRow, resident, helper)
        .join(ProgrammeRow, ProgrammeRow.id == ProgrammePairRow.programme_id)
        .join(resident, resident.id == ProgrammePairRow.resident_member_id)
        .join(helper, helper.id == ProgrammePairRow.helper_member_id)
        .where(ProgrammePairRow.status != PairStatus.ENDED)
        .order_by(ProgrammePairRow.id)
    )
    if street_id is not None:
        stmt = stmt.where(ProgrammeRow.street_id == street_id)
    found: list[tuple[str, str]] = []
    load: Counter[int] = Counter()
    for pair, programme, r, h in session.execute(stmt).tuples():
        where = f"pair {pair.id} of programme {programme.id}"
        if (
            r.resident_id is None
            or h.helper_id is None
            or {r.programme_id, h.programme_id} != {programme.id}
        ):
            found.append(("pair_members", f"{where}: not a resident and a helper of it"))
            continue
        if pair.status != PairStatus.CONFIRMED:
            continue
        load[r.id] += 1
        load[h.id] += 1
        if load[r.id] > programme.resident_capacity or load[h.id] > programme.helper_capacity:
            found.append(("pair_capacity", f"{where}: more confirmed pairs than a capacity"))
        if not (r.active and h.active):
            found.append(("pair_members", f"{where}: confirmed with a withdrawn member"))
        series = session.get(OrderSeries, pair.series_id) if pair.series_id else None
        if series is None or series.resident_id != r.resident_id or series.item != programme.item:
            found.append(("pair_series", f"{where}: no recurring order of its resident"))
    return found
