"""A resident's care circle for staff (who, since when, visits, last visit, scores) and staff's
choices about it: add, remove, keep a helper a low score took out (each audited); the residents
whose circle a helper belongs to. Scope: staff of the resident's street or community
(``ledger.views.scoped_row``); what a choice may do is ``matcher.circles``' rule."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.circles.facts import PairRecord, pair_records
from api.services.errors import BadInput, Conflict, NotFound
from api.services.ledger.views import scoped_row
from api.store.db import begin_write
from api.store.tables import (
    CirclePair,
    CircleTotal,
    HelperRow,
    ResidentRow,
    utcnow,
)
from matcher.circles import PairFacts, StaffChoice, Standing, may_add, may_keep, standing

# A code that JSON writes as it is on every database (no escapes): the ledger's lists may be
# searched by their text for it.
PLAIN_CODE = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CircleMember:
    """A helper paired with the resident, as the circle page shows them."""

    helper_id: int
    code: str
    name: str
    active: bool
    standing: Standing
    in_ledger: bool
    since: dt.date | None  # staff's addition, else the first visit (None: the ledger's list)
    visits: int
    last_visit: dt.date | None
    scores: int
    mean_score: float | None
    low_scores: int
    good_scores: int
    weight: float  # continuity multiplier while a member
    may_keep: bool
    may_add: bool


@dataclass(frozen=True)
class Circle:
    resident_id: int
    resident_code: str
    resident_name: str
    community_id: int
    members: list[CircleMember]  # in the circle now
    others: list[CircleMember]  # taken out, removed or blocked


@dataclass(frozen=True)
class HelperCircle:
    """A resident whose circle a helper belongs to."""

    resident_id: int
    code: str
    name: str
    since: dt.date | None
    visits: int
    last_visit: dt.date | None
    mean_score: float | None
    weight: float


def _member(record: PairRecord, helper: HelperRow) -> CircleMember:
    facts = record.facts
    since = record.added_at.date() if record.added_at is not None else record.first_visit
    return CircleMember(
        helper_id=helper.id,
        code=helper.code,
        name=helper.name,
        active=helper.active,
        standing=record.standing,
        in_ledger=facts.in_ledger,
        since=since,
        visits=facts.visits,
        last_visit=record.last_visit,
        scores=record.scores,
        mean_score=record.mean_score,
        low_scores=facts.low_scores,
        good_scores=facts.good_scores,
        weight=record.weight,
        may_keep=may_keep(facts),
        may_add=may_add(facts),
    )


def resident_circle(session: Session, actor: Actor, resident_id: int) -> Circle:
    """The resident's circle: members first (most visits first), then those taken out. The
    read is audited, as a resident's details are."""
    begin_write(session, actor.street_id)
    resident = scoped_row(session, actor, ResidentRow, resident_id)
    audit(session, actor.user_id, "circle.read", "resident", resident.id)
    session.commit()
    records = pair_records(session, [resident]).get(resident.id, {})
    helpers = {h.id: h for h in session.scalars(select(HelperRow).where(HelperRow.id.in_(records)))}
    shown = sorted(
        (_member(record, helpers[h]) for h, record in records.items()),
        key=lambda m: (-m.visits, m.code),
    )
    return Circle(
        resident_id=resident.id,
        resident_code=resident.code,
        resident_name=resident.name,
        community_id=resident.community_id,
        members=[m for m in shown if m.standing == Standing.MEMBER],
        others=[m for m in shown if m.standing not in (Standing.MEMBER, Standing.OUTSIDE)],
    )


def _pair(
    session: Session, actor: Actor, resident_id: int, helper_id: int
) -> tuple[ResidentRow, HelperRow, PairFacts, CirclePair | None]:
    """The resident (in scope), the helper (of the same street), the pair's facts and staff's
    row, locked for the change."""
    begin_write(session, actor.street_id)
    resident = scoped_row(session, actor, ResidentRow, resident_id)
    helper = session.get(HelperRow, helper_id)
    if helper is None or helper.street_id != resident.street_id:
        raise NotFound(_("helper %(id)s not found", id=helper_id))
    record = pair_records(session, [resident], helper_id).get(resident.id, {}).get(helper_id)
    facts = record.facts if record is not None else PairFacts()
    row = session.scalars(
        select(CirclePair)
        .where(CirclePair.resident_id == resident.id, CirclePair.helper_id == helper.id)
        .with_for_update()
    ).first()
    return resident, helper, facts, row


def _choose(
    session: Session,
    actor: Actor,
    resident: ResidentRow,
    helper: HelperRow,
    row: CirclePair | None,
    **values: object,
) -> None:
    now = utcnow()
    if row is None:
        row = CirclePair(resident_id=resident.id, helper_id=helper.id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.changed_at, row.changed_by = now, actor.user_id
    if values.get("staff") == StaffChoice.ADDED:
        row.added_at = now


def add_member(session: Session, actor: Actor, resident_id: int, helper_id: int) -> None:
    """Add an active helper of the street to the resident's circle (keeping them through the low
    scores seen so far); refused for a blocked pair and for a member."""
    resident, helper, facts, row = _pair(session, actor, resident_id, helper_id)
    if not helper.active:
        raise BadInput(_("helper %(code)s is deactivated", code=helper.code), "helper")
    if standing(facts) == Standing.BLOCKED:
        message = _("%(name)s is blocked from this resident after two low scores", name=helper.name)
        raise Conflict(message)
    if not may_add(facts):
        raise Conflict(_("%(name)s is in the circle already", name=helper.name))
    _choose(session, actor, resident, helper, row, staff=StaffChoice.ADDED,
            kept_lows=facts.low_scores)  # fmt: skip
    detail = {"helper": helper.id, "was": str(standing(facts))}
    audit(session, actor.user_id, "circle.add", "resident", resident.id, detail)
    session.commit()


def remove_member(session: Session, actor: Actor, resident_id: int, helper_id: int) -> None:
    """Take a member out of the resident's circle (they stay eligible for orders)."""
    resident, helper, facts, row = _pair(session, actor, resident_id, helper_id)
    if standing(facts) != Standing.MEMBER:
        raise Conflict(_("%(name)s is not in the circle", name=helper.name))
    _choose(session, actor, resident, helper, row, staff=StaffChoice.REMOVED)
    audit(session, actor.user_id, "circle.remove", "resident", resident.id, {"helper": helper.id})
    session.commit()


def keep_member(session: Session, actor: Actor, resident_id: int, helper_id: int) -> None:
    """Keep in the circle a helper a low score took out (staff decide the score was not theirs
    to bear); a second low score still blocks the pair."""
    resident, helper, facts, row = _pair(session, actor, resident_id, helper_id)
    if not may_keep(facts):
        raise Conflict(_("%(name)s was not taken out by a low score", name=helper.name))
    _choose(session, actor, resident, helper, row, kept_lows=facts.low_scores)
    detail = {"helper": helper.id, "low_scores": facts.low_scores}
    audit(session, actor.user_id, "circle.keep", "resident", resident.id, detail)
    session.commit()


def helper_by_code(session: Session, actor: Actor, code: str) -> int:
    """The id of the street's helper with this ledger code."""
    helper_id = session.scalar(
        select(HelperRow.id).where(
            HelperRow.code == code.strip(), HelperRow.street_id == actor.street_id
        )
    )
    if helper_id is None:
        raise BadInput(_("no helper has the code %(code)s", code=code.strip()), "helper")
    return helper_id


def helper_circles(session: Session, actor: Actor, helper_id: int) -> list[HelperCircle]:
    """The residents (in the staff member's scope) whose circle the helper belongs to, most
    visits first."""
    helper = scoped_row(session, actor, HelperRow, helper_id)
    served = select(CircleTotal.resident_id).where(CircleTotal.helper_id == helper.id)
    chosen = select(CirclePair.resident_id).where(CirclePair.helper_id == helper.id)
    scope = select(ResidentRow).where(ResidentRow.street_id == helper.street_id)
    if actor.community_id is not None:
        scope = scope.where(ResidentRow.community_id == actor.community_id)
    ids = set(session.scalars(served)) | set(session.scalars(chosen))
    lists = scope.with_only_columns(ResidentRow.id, ResidentRow.circle)
    if PLAIN_CODE.fullmatch(helper.code):
        # Only the lists whose text holds the code (a street has tens of thousands of
        # residents; parsing every list took seconds): a superset of those naming the helper.
        lists = lists.where(cast(ResidentRow.circle, String).contains(helper.code, autoescape=True))
    # the ledger's lists (JSON) are judged in Python: the same on every database
    ids |= {r for r, circle in session.execute(lists) if helper.code in circle}
    residents = {r.id: r for r in session.scalars(scope.where(ResidentRow.id.in_(ids)))}
    pairs = pair_records(session, residents.values(), helper.id)
    found = []
    for resident_id, records in pairs.items():
        record = records.get(helper.id)
        if record is None or record.standing != Standing.MEMBER:
            continue
        resident = residents[resident_id]
        since = record.added_at.date() if record.added_at is not None else record.first_visit
        found.append(
            HelperCircle(
                resident.id,
                resident.code,
                resident.name,
                since,
                record.facts.visits,
                record.last_visit,
                record.mean_score,
                record.weight,
            )
        )
    return sorted(found, key=lambda c: (-c.visits, c.code))
