"""The stable matching of a programme, and its pairs.

Street staff compute the pairs: ``matcher.pairing.stable_matching`` on the members' preference
lists (``ranking``) and capacities, taking the stable matching the programme favours. Confirmed
pairs stay as they are: their places are taken off both members' capacities, and the pair itself
is left out of the market; a new computation replaces only the proposed pairs. Staff confirm a
proposed pair: it becomes a recurring order of the resident (the programme's item, weekdays and
window, from its next visit day to the season's end) that the nightly run keeps with the helper
(``keep``), and the helper joins the resident's circle (``api.services.circles``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.circles import members as circle_members
from api.services.errors import Conflict, NotFound
from api.services.offers.assign import local_today
from api.services.orders import SERIES_HORIZON_DAYS, _occur, first_name, horizon
from api.services.programmes.ranking import options_of, programme_lists, visit_day
from api.services.programmes.setup import (
    own_member,
    person_of,
    require_street_staff,
    scoped_programme,
)
from api.settings import Settings
from api.store.db import begin_write
from api.store.statuses import PairStatus, Role
from api.store.tables import (
    HelperRow,
    OrderSeries,
    ProgrammeMemberRow,
    ProgrammePairRow,
    ProgrammeRow,
    ResidentRow,
    utcnow,
)
from matcher.pairing import Favour, Market, Participant, preference_list, stable_matching

log = logging.getLogger("qunbang.programmes")


@dataclass(frozen=True)
class PairingSummary:
    """What a computation found: pairs proposed, who stays unpaired, travel, how it was
    computed."""

    proposed: int
    confirmed: int  # kept from before
    unpaired_residents: int
    unpaired_helpers: int
    total_km: float
    favour: str
    optimal: bool
    runtime_s: float


@dataclass(frozen=True)
class PairView:
    id: int
    programme_id: int
    status: str
    resident_member_id: int
    helper_member_id: int
    resident_id: int
    helper_id: int
    resident_name: str
    helper_name: str
    km: float
    resident_rank: int
    helper_rank: int
    series_id: int | None


# ----------------------------------------------------------------------------- computing


def market_of(session: Session, programme: ProgrammeRow) -> Market:
    """The programme's market: every active member's preference list, capacities less their
    confirmed pairs, confirmed pairs left out."""
    lists = programme_lists(session, programme)
    confirmed = session.execute(
        select(ProgrammePairRow.resident_member_id, ProgrammePairRow.helper_member_id).where(
            ProgrammePairRow.programme_id == programme.id,
            ProgrammePairRow.status == PairStatus.CONFIRMED,
        )
    ).all()
    taken = Counter(m for pair in confirmed for m in pair)
    paired = {(str(r), str(h)) for r, h in confirmed}
    residents, helpers = [], []
    km: dict[tuple[str, str], float] = {}
    for member in lists.members.values():
        options = options_of(lists, member)
        prefs = preference_list(options, map(str, member.ranking), map(str, member.refused))
        me = str(member.id)
        if member.resident_id is not None:
            prefs = tuple(h for h in prefs if (me, h) not in paired)
            km |= {(me, o.other): o.km for o in options}
            room = programme.resident_capacity - taken[member.id]
            residents.append(Participant(me, max(0, room), prefs))
        else:
            prefs = tuple(r for r in prefs if (r, me) not in paired)
            room = programme.helper_capacity - taken[member.id]
            helpers.append(Participant(me, max(0, room), prefs))
    return Market(tuple(residents), tuple(helpers), km)


def compute_pairs(session: Session, actor: Actor, programme_id: int) -> PairingSummary:
    """Propose the programme's pairs (replacing the proposed ones; confirmed ones stay)."""
    require_street_staff(actor)
    begin_write(session)
    programme = scoped_programme(session, actor, programme_id)
    market = market_of(session, programme)
    result = stable_matching(market, Favour(programme.favour), time_limit_s=10.0)
    session.execute(
        delete(ProgrammePairRow).where(
            ProgrammePairRow.programme_id == programme.id,
            ProgrammePairRow.status == PairStatus.PROPOSED,
        )
    )
    for pair in result.pairs:
        session.add(
            ProgrammePairRow(
                programme_id=programme.id,
                resident_member_id=int(pair.resident),
                helper_member_id=int(pair.helper),
                status=PairStatus.PROPOSED,
                km=round(pair.km, 3),
                resident_rank=pair.resident_rank,
                helper_rank=pair.helper_rank,
            )
        )
    confirmed = session.scalars(
        select(ProgrammePairRow.id).where(
            ProgrammePairRow.programme_id == programme.id,
            ProgrammePairRow.status == PairStatus.CONFIRMED,
        )
    ).all()
    summary = PairingSummary(
        proposed=len(result.pairs),
        confirmed=len(confirmed),
        unpaired_residents=sum(1 for r in market.residents if r.id in result.unpaired_residents
                               and r.capacity > 0),
        unpaired_helpers=sum(1 for h in market.helpers if h.id in result.unpaired_helpers
                             and h.capacity > 0),
        total_km=round(result.total_km, 3),
        favour=programme.favour,
        optimal=result.optimal,
        runtime_s=result.runtime_s,
    )  # fmt: skip
    audit(session, actor.user_id, "programme.pair", "programme", programme.id,
          {"proposed": summary.proposed, "favour": summary.favour})  # fmt: skip
    session.commit()
    log.info("programme %s: %s pairs proposed", programme.id, summary.proposed)
    return summary


# ----------------------------------------------------------------------------- confirming


def confirm_pair(
    session: Session,
    settings: Settings,
    actor: Actor,
    pair_id: int,
    now: dt.datetime | None = None,
) -> PairView:
    """Confirm a proposed pair: the resident's recurring order for the rest of the season, kept
    with the helper by the nightly run, and the helper in the resident's circle."""
    now = now or utcnow()
    require_street_staff(actor)
    begin_write(session)
    pair = _scoped_pair(session, actor, pair_id)
    if pair.status != PairStatus.PROPOSED:
        raise Conflict(_("this pair is no longer waiting to be confirmed"))
    programme = session.get_one(ProgrammeRow, pair.programme_id)
    resident = person_of(session, session.get_one(ProgrammeMemberRow, pair.resident_member_id))
    helper = person_of(session, session.get_one(ProgrammeMemberRow, pair.helper_member_id))
    assert isinstance(resident, ResidentRow) and isinstance(helper, HelperRow)
    first = visit_day(programme, local_today(settings, now))
    if (
        first < programme.start_date
        or first > programme.end_date
        or first < local_today(settings, now)
    ):
        raise Conflict(_("the programme's season is over"))
    series = OrderSeries(
        resident_id=resident.id,
        item=programme.item,
        weekdays=list(programme.weekdays),
        window_start=programme.window_start,
        window_end=programme.window_end,
        flexible=programme.window_start is not None,
        priority=1,
        start_date=first,
        end_date=programme.end_date,
        note=programme.name,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(series)
    session.flush()
    pair.status, pair.series_id = PairStatus.CONFIRMED, series.id
    pair.confirmed_at, pair.confirmed_by = now, actor.user_id
    dates = horizon(session, settings, resident.street_id, now)
    for offset in range(SERIES_HORIZON_DAYS):
        day = dates.first + dt.timedelta(days=offset)
        _occur(session, settings, series, resident, day, dates, now)
    audit(session, actor.user_id, "programme.confirm", "programme_pair", pair.id,
          {"series": series.id, "resident": resident.id, "helper": helper.id})  # fmt: skip
    session.commit()
    _join_circle(session, actor, resident.id, helper.id)
    return pair_view(session, actor, pair)


def _join_circle(session: Session, actor: Actor, resident_id: int, helper_id: int) -> None:
    """The pair's helper joins the resident's circle as staff's choice (``circles.members``,
    its own audited transaction); a helper in the circle already stays as they are, and a pair
    the circle rule blocked stays blocked (the matcher's eligibility left it off the shortlists
    in the first place)."""
    try:
        circle_members.add_member(session, actor, resident_id, helper_id)
    except Conflict:
        session.rollback()


def end_pair(
    session: Session, actor: Actor, pair_id: int, now: dt.datetime | None = None
) -> PairView:
    """End a confirmed pair: its recurring order stops (visits already made stay); the helper
    stays in the resident's circle."""
    require_street_staff(actor)
    begin_write(session)
    pair = _scoped_pair(session, actor, pair_id)
    if pair.status != PairStatus.CONFIRMED:
        raise Conflict(_("only a confirmed pair can be ended"))
    pair.status, pair.ended_at = PairStatus.ENDED, now or utcnow()
    if pair.series_id is not None:
        session.get_one(OrderSeries, pair.series_id).active = False
    audit(session, actor.user_id, "programme.end", "programme_pair", pair.id)
    session.commit()
    return pair_view(session, actor, pair)


def _scoped_pair(session: Session, actor: Actor, pair_id: int) -> ProgrammePairRow:
    pair = session.get(ProgrammePairRow, pair_id)
    if pair is None:
        raise NotFound(_("pair %(pair_id)s not found", pair_id=pair_id))
    scoped_programme(session, actor, pair.programme_id)
    return pair


# ----------------------------------------------------------------------------- reading


def pairs(session: Session, actor: Actor, programme_id: int) -> list[PairView]:
    """The programme's proposed and confirmed pairs: staff see all of their scope (community
    staff: with the resident or the helper in their community); a member sees their own."""
    programme = scoped_programme(session, actor, programme_id)
    stmt = select(ProgrammePairRow).where(
        ProgrammePairRow.programme_id == programme.id,
        ProgrammePairRow.status != PairStatus.ENDED,
    )
    if actor.role != Role.STAFF:
        mine = own_member(session, actor, programme.id)
        if mine is None:
            return []
        stmt = stmt.where(
            or_(
                ProgrammePairRow.resident_member_id == mine.id,
                ProgrammePairRow.helper_member_id == mine.id,
            )
        )
    views = [pair_view(session, actor, row) for row in session.scalars(stmt)]
    if actor.role == Role.STAFF and actor.community_id is not None:
        views = [v for v in views if _in_community(session, actor, programme, v)]
    return sorted(views, key=lambda v: (v.status != PairStatus.CONFIRMED, v.resident_name, v.id))


def _in_community(session: Session, actor: Actor, programme: ProgrammeRow, view: PairView) -> bool:
    resident = session.get_one(ResidentRow, view.resident_id)
    helper = session.get_one(HelperRow, view.helper_id)
    street = programme.street_id
    return any(actor.may_see_community(street, p.community_id) for p in (resident, helper))


def pair_view(session: Session, actor: Actor, row: ProgrammePairRow) -> PairView:
    resident = person_of(session, session.get_one(ProgrammeMemberRow, row.resident_member_id))
    helper = person_of(session, session.get_one(ProgrammeMemberRow, row.helper_member_id))
    staff = actor.role == Role.STAFF
    return PairView(
        id=row.id,
        programme_id=row.programme_id,
        status=row.status,
        resident_member_id=row.resident_member_id,
        helper_member_id=row.helper_member_id,
        resident_id=resident.id,
        helper_id=helper.id,
        resident_name=resident.name if staff else first_name(resident.name),
        helper_name=helper.name if staff else first_name(helper.name),
        km=row.km,
        resident_rank=row.resident_rank,
        helper_rank=row.helper_rank,
        series_id=row.series_id,
    )
