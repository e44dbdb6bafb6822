"""Each member's shortlist and their ranking of it.

The shortlists come from ``matcher.pairing.shortlists``: every enrolled resident gets one
representative visit (the programme's item on its first visit day, in its time window) and the
matcher's eligibility says which enrolled helpers could serve it, each helper with their whole
day free (a pair's visits recur all season; the nightly run checks each day as it comes). The
ranking is stored as the other side's member ids, first choice first, plus the entries refused;
the stable matching reads it through ``matcher.pairing.preference_list`` (unranked entries
nearest first)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.errors import BadInput, NotFound
from api.services.matching.keys import helper_key, resident_key
from api.services.matching.problem import build_problem
from api.services.orders import first_name
from api.services.programmes.setup import (
    ProgrammeMemberView,
    may_act_for,
    member_view,
    own_member,
    scoped_programme,
)
from api.store.db import begin_write
from api.store.statuses import Role
from api.store.tables import (
    HelperRow,
    OrderRow,
    ProgrammeMemberRow,
    ProgrammeRow,
    ResidentRow,
    utcnow,
)
from matcher.pairing import Option, PairingRules, Shortlists, shortlists


@dataclass(frozen=True)
class ShortlistEntry:
    """One entry of a member's shortlist as the member (or staff) sees it."""

    member_id: int
    name: str  # staff see the full name; members see a first name (王**)
    kind: str  # the other's helper kind or resident category (a ledger code)
    km: float
    rank: int | None  # 1 = first choice; None: not ranked
    refused: bool


@dataclass(frozen=True)
class ShortlistView:
    member: ProgrammeMemberView
    entries: tuple[ShortlistEntry, ...]  # ranked first (in rank order), then the rest nearest first


@dataclass(frozen=True)
class ProgrammeLists:
    """The programme's shortlists by member id (as strings: the matcher's ids), and its
    members."""

    lists: Shortlists
    members: dict[int, ProgrammeMemberRow]


def visit_day(programme: ProgrammeRow, on_or_after: dt.date | None = None) -> dt.date:
    """The programme's first visit day on or after ``on_or_after`` (default: its start) within
    its season; its start when none is left."""
    day = max(programme.start_date, on_or_after or programme.start_date)
    while day <= programme.end_date:
        if day.weekday() in programme.weekdays:
            return day
        day += dt.timedelta(days=1)
    return programme.start_date


def programme_lists(session: Session, programme: ProgrammeRow) -> ProgrammeLists:
    """Every active member's shortlist (see the module docstring)."""
    rows = session.scalars(
        select(ProgrammeMemberRow).where(
            ProgrammeMemberRow.programme_id == programme.id, ProgrammeMemberRow.active.is_(True)
        )
    ).all()
    residents = {r.resident_id: r for r in rows if r.resident_id is not None}
    helpers = {r.helper_id: r for r in rows if r.helper_id is not None}
    people = session.scalars(
        select(ResidentRow).where(ResidentRow.id.in_(residents or [-1]), ResidentRow.active)
    ).all()
    day = visit_day(programme)
    visits = [_visit(programme, person, day) for person in people]
    street = build_problem(
        session, programme.street_id, day, visits, helper_ids=set(helpers), committed=False
    )
    rules = PairingRules(
        size=programme.shortlist_size,
        gender_preference=programme.gender_preference,
        max_km=programme.max_km,
    )
    found = shortlists(street.problem, rules)
    by_resident = {resident_key(r): m.id for r, m in residents.items()}
    by_helper = {helper_key(h): m.id for h, m in helpers.items()}
    return ProgrammeLists(
        lists=Shortlists(
            residents={
                str(by_resident[r]): tuple(Option(str(by_helper[o.other]), o.km) for o in opts)
                for r, opts in found.residents.items()
            },
            helpers={
                str(by_helper[h]): tuple(Option(str(by_resident[o.other]), o.km) for o in opts)
                for h, opts in found.helpers.items()
            },
        ),
        members={m.id: m for m in rows},
    )


def _visit(programme: ProgrammeRow, resident: ResidentRow, day: dt.date) -> OrderRow:
    """The resident's representative visit, never stored (its id is the resident's, negated,
    so that it names no order)."""
    return OrderRow(
        id=-resident.id,
        street_id=programme.street_id,
        resident_id=resident.id,
        resident=resident,
        item=programme.item,
        date=day,
        window_start=programme.window_start,
        window_end=programme.window_end,
        flexible=programme.window_start is not None,
        priority=1,
        placed_at=utcnow(),
    )


def options_of(lists: ProgrammeLists, member: ProgrammeMemberRow) -> tuple[Option, ...]:
    side = lists.lists.residents if member.resident_id is not None else lists.lists.helpers
    return side.get(str(member.id), ())


# ----------------------------------------------------------------------------- reading


def shortlist(session: Session, actor: Actor, member_id: int) -> ShortlistView:
    """A member's shortlist with their ranking, for the member or staff acting for them."""
    member = _member_for(session, actor, member_id)
    programme = scoped_programme(session, actor, member.programme_id)
    lists = programme_lists(session, programme)
    return _view(session, actor, member, options_of(lists, member), lists)


def _member_for(session: Session, actor: Actor, member_id: int) -> ProgrammeMemberRow:
    member = session.get(ProgrammeMemberRow, member_id)
    if member is None or not member.active or not may_act_for(session, actor, member):
        raise NotFound(_("member %(member_id)s not found", member_id=member_id))
    return member


def _view(
    session: Session,
    actor: Actor,
    member: ProgrammeMemberRow,
    options: Iterable[Option],
    lists: ProgrammeLists,
) -> ShortlistView:
    rank = {int(other): i + 1 for i, other in enumerate(member.ranking)}
    refused = {int(other) for other in member.refused}
    entries = []
    for option in options:
        other = lists.members[int(option.other)]
        person = (
            session.get_one(HelperRow, other.helper_id)
            if other.helper_id is not None
            else session.get_one(ResidentRow, other.resident_id)
        )
        kind = person.kind if isinstance(person, HelperRow) else person.category
        name = person.name if actor.role == Role.STAFF else first_name(person.name)
        entries.append(
            ShortlistEntry(other.id, name, kind, option.km, rank.get(other.id), other.id in refused)
        )
    entries.sort(key=lambda e: (e.rank is None, e.rank or 0, e.km, e.member_id))
    return ShortlistView(member_view(session, member), tuple(entries))


def own_shortlists(session: Session, actor: Actor, programme_id: int) -> ShortlistView | None:
    """The caller's own shortlist in a programme (None: not a member)."""
    member = own_member(session, actor, programme_id)
    return None if member is None else shortlist(session, actor, member.id)


# ----------------------------------------------------------------------------- ranking


def rank(
    session: Session,
    actor: Actor,
    member_id: int,
    ranking: Iterable[int],
    refused: Iterable[int] = (),
    now: dt.datetime | None = None,
) -> ShortlistView:
    """Store a member's ranking (the other side's member ids, first choice first) and the
    entries they refuse; every id must be on their shortlist, none both ranked and refused."""
    begin_write(session)
    member = _member_for(session, actor, member_id)
    programme = scoped_programme(session, actor, member.programme_id)
    lists = programme_lists(session, programme)
    options = options_of(lists, member)
    listed = {int(o.other) for o in options}
    ranking, refused = list(dict.fromkeys(ranking)), sorted(set(refused))
    for other in (*ranking, *refused):
        if other not in listed:
            raise BadInput(_("%(id)s is not on this shortlist", id=other), "ranking")
    if set(ranking) & set(refused):
        raise BadInput(_("an entry cannot be both ranked and refused"), "ranking")
    member.ranking, member.refused = ranking, refused
    member.ranked_at, member.ranked_by = now or utcnow(), actor.user_id
    detail = {"ranking": ranking, "refused": refused, "role": actor.role}
    audit(session, actor.user_id, "programme.rank", "programme_member", member.id, detail)
    session.commit()
    return _view(session, actor, member, options, lists)


def rank_own(
    session: Session,
    actor: Actor,
    programme_id: int,
    ranking: Iterable[int],
    refused: Iterable[int] = (),
) -> ShortlistView:
    """``rank`` for the caller's own membership of a programme (NotFound when not a member)."""
    scoped_programme(session, actor, programme_id)
    mine = own_member(session, actor, programme_id)
    if mine is None:
        raise NotFound(_("programme %(programme_id)s not found", programme_id=programme_id))
    return rank(session, actor, mine.id, ranking, refused)
