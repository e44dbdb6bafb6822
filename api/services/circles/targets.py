"""The street's circle target (e.g. every resident living alone has at least 3 circle members
covering the skills of their usual orders), how many residents meet it, and the weekly planner's
proposals of helpers to add, each explained (distance, skills covered, current load). The rule and
the plan are ``matcher.circle_plan``'s; this module gathers the data and names the people.

A resident's usual skills: the required skills of the items they ordered in the last
``USUAL_DAYS`` days (cancelled orders aside). A helper's load: the circles they stand in now.

The weekly plan is made on demand (``make_plan``: the whole street, greedy, about 20 s of CPU for
a street of 35,000 residents and 14,400 helpers) and stored with its time and day
(``circle_plans``); the planner page shows one page (``PLAN_PAGE_SIZE`` residents short of the
target) of the stored plan — for community staff, their community's residents of it — and says
when it was made and whether the target changed since. A weekly plan is a week's advice: staff
make it again when they want it fresh, instead of the page planning the street on every fetch.
The count (on the run page and the report) reads only the residents the target applies to, their
pairs' running totals and the skills of the helpers in their circles, and is kept per street,
area and day while the street's circles and helpers keep their stamps (``api.store.stamps``:
every write of what it is counted from restamps them), so it is never stale."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor
from api.services.circles.facts import member_ids, members_of, pair_records
from api.services.errors import BadInput, Forbidden, NotFound
from api.services.ledger.street_catalogue import street_catalogue
from api.services.paging import Page, check_page
from api.store.db import among_bound, begin_write, dialect_of
from api.store.stamps import StampedCache, circles_name, current_many, helpers_name
from api.store.statuses import OrderStatus, Role
from api.store.tables import CirclePlanRow, HelperRow, OrderRow, ResidentRow, Street, utcnow
from matcher.circle_plan import (
    CircleTarget,
    PlanHelper,
    PlanResident,
    circle_meets,
    in_target,
    meets_target,
    plan_page,
)
from matcher.circles import Standing
from matcher.model import Location, ResidentCategory

# The circle target counts this process keeps, per street, area and day, while neither the
# street's circles nor its helpers are restamped (``api.store.stamps``): a page shows the count
# on every fetch, and counting a big street's 5,000 circles takes about half a second.
_COUNTS = StampedCache(kept=128)
USUAL_DAYS = 90  # the orders of this many days before today say what a resident usually needs
MAX_SIZE = 20
PLAN_PAGE_SIZE = 20  # residents short of the target on a page of the planner


@dataclass(frozen=True)
class TargetCount:
    """How many residents the target applies to and how many meet it."""

    size: int
    categories: tuple[str, ...]
    meeting: int
    total: int


@dataclass(frozen=True)
class ProposalView:
    helper_id: int
    code: str
    name: str
    km_one_way: float
    covers: tuple[str, ...]  # skill codes
    load: int


@dataclass(frozen=True)
class ResidentPlanView:
    resident_id: int
    code: str
    name: str
    members: int
    missing_skills: tuple[str, ...]
    proposals: list[ProposalView]


@dataclass(frozen=True)
class CirclePlanView:
    count: TargetCount
    shown: Page[ResidentPlanView]  # a page of those short of the target, furthest first
    skill_names: dict[str, tuple[str, str]]  # skill code → (Chinese, English), for the reader
    made_at: dt.datetime | None = None  # a stored plan's time (UTC); None: planned now / none
    for_date: dt.date | None = None  # … and the street's day it was made on
    stale: bool = False  # the street's target changed since the stored plan was made
    stored: bool = True  # False: no plan made yet (the count as kept, nothing shown)

    @property
    def residents(self) -> list[ResidentPlanView]:
        return self.shown.items


@dataclass
class _Street:
    """What the planner reads of a street (or one community of it)."""

    target: CircleTarget
    residents: dict[int, Any]  # plain rows (``RESIDENT_COLUMNS``) by id
    helpers: dict[int, Any]  # plain rows (``HELPER_COLUMNS``) by id
    plan_residents: list[PlanResident]
    plan_helpers: list[PlanHelper]
    skill_names: dict[str, tuple[str, str]]


def street_target(street: Street) -> CircleTarget:
    return CircleTarget(size=street.circle_size, categories=frozenset(street.circle_categories))


def _street(session: Session, street_id: int) -> Street:
    street = session.get(Street, street_id)
    if street is None:
        raise NotFound(_("not found"))
    return street


RESIDENT_COLUMNS = (
    ResidentRow.id,
    ResidentRow.code,
    ResidentRow.name,
    ResidentRow.category,
    ResidentRow.community_id,
    ResidentRow.lat,
    ResidentRow.lon,
    ResidentRow.circle,
)
HELPER_COLUMNS = (
    HelperRow.id,
    HelperRow.code,
    HelperRow.name,
    HelperRow.lat,
    HelperRow.lon,
    HelperRow.skills,
    HelperRow.radius_km,
)


def _gather(
    session: Session, street_id: int, community_id: int | None, today: dt.date, loads: bool
) -> _Street:
    """The street's target, its residents in the area the target applies to, its active helpers
    and (with ``loads``, for a plan) how many circles each stands in (plain rows: a street's
    people are read by the column, not as objects)."""
    target = street_target(_street(session, street_id))
    query = select(*RESIDENT_COLUMNS).where(ResidentRow.street_id == street_id, ResidentRow.active)
    everyone = list(session.execute(query))
    chosen = {
        r.id: r
        for r in everyone
        if r.category in target.categories
        and (community_id is None or r.community_id == community_id)
    }
    pairs = pair_records(session, everyone if loads else chosen.values())
    load: Counter[int] = Counter(h for records in pairs.values() for h in members_of(records))
    query = select(*HELPER_COLUMNS).where(HelperRow.street_id == street_id, HelperRow.active)
    helpers = {h.id: h for h in session.execute(query)}
    usual = _usual_skills(session, street_id, list(chosen), today)
    plan_residents = []
    for resident in chosen.values():
        records = pairs.get(resident.id, {})
        members = sorted(h for h in members_of(records) if h in helpers)
        out = {
            h
            for h, rec in records.items()
            if rec.standing not in (Standing.MEMBER, Standing.OUTSIDE)
        }
        plan_residents.append(
            PlanResident(
                id=str(resident.id),
                category=resident.category,
                location=Location(lat=resident.lat, lon=resident.lon),
                members=tuple(str(h) for h in members),
                usual_skills=frozenset(usual.get(resident.id, ())),
                excluded=frozenset(str(h) for h in out),
            )
        )
    plan_helpers = [
        PlanHelper(
            id=str(h.id),
            location=Location(lat=h.lat, lon=h.lon),
            skills=frozenset(h.skills),
            radius_km=h.radius_km,
            load=load[h.id],
        )
        for h in helpers.values()
    ]
    skills = street_catalogue(session, street_id).matcher.skills
    names = {s.code: (s.name_zh, s.name_en) for s in skills}
    return _Street(target, chosen, helpers, plan_residents, plan_helpers, names)


def _usual_skills(
    session: Session, street_id: int, resident_ids: list[int], today: dt.date
) -> dict[int, set[str]]:
    if not resident_ids:
        return {}
    items = {i.code: i for i in street_catalogue(session, street_id).matcher.items}
    query = (
        select(OrderRow.resident_id, OrderRow.item)
        .where(
            OrderRow.street_id == street_id,
            OrderRow.date >= today - dt.timedelta(days=USUAL_DAYS),
            OrderRow.status != OrderStatus.CANCELLED,
            among_bound(OrderRow.resident_id, "residents", dialect_of(session)),
        )
        .distinct()
    )
    found: dict[int, set[str]] = {}
    for resident_id, item in session.execute(query, {"residents": resident_ids}):
        if item in items:
            found.setdefault(resident_id, set()).update(items[item].required_skills)
    return found


def _count(street: _Street) -> TargetCount:
    helpers = {h.id: h for h in street.plan_helpers}
    targeted = [r for r in street.plan_residents if in_target(r, street.target)]
    meeting = sum(meets_target(r, helpers, street.target) for r in targeted)
    categories = tuple(sorted(street.target.categories))
    return TargetCount(street.target.size, categories, meeting, len(targeted))


def _count_only(
    session: Session, street_id: int, community_id: int | None, today: dt.date
) -> TargetCount:
    """``_count`` of what ``_gather`` reads, reading less: only the residents the target applies
    to (their category chosen in the query) and the skills of the helpers in their circles."""
    target = street_target(_street(session, street_id))
    query = select(*RESIDENT_COLUMNS).where(
        ResidentRow.street_id == street_id,
        ResidentRow.active,
        ResidentRow.category.in_(sorted(target.categories)),
    )
    if community_id is not None:
        query = query.where(ResidentRow.community_id == community_id)
    chosen = {r.id: r for r in session.execute(query)}
    found = member_ids(session, chosen.values())
    circles = {r: found.get(r, set()) for r in chosen}
    wanted = sorted({h for members in circles.values() for h in members})
    skills: dict[int, frozenset[str]] = {}
    if wanted:  # the members' skills (active helpers of the street): all the count asks of them
        query = select(HelperRow.id, HelperRow.skills).where(
            among_bound(HelperRow.id, "helpers", dialect_of(session)),
            HelperRow.street_id == street_id,
            HelperRow.active,
        )
        skills = {h: frozenset(s) for h, s in session.execute(query, {"helpers": wanted})}
    usual = _usual_skills(session, street_id, list(chosen), today)
    meeting = 0
    for resident in chosen.values():
        held = [skills[h] for h in circles[resident.id] if h in skills]
        meeting += circle_meets(target, held, frozenset(usual.get(resident.id, ())))
    categories = tuple(sorted(target.categories))
    return TargetCount(target.size, categories, meeting, len(chosen))


_NOWHERE = Location(lat=0.0, lon=0.0)  # the count asks no distance


def _scope(actor: Actor, *roles: str) -> int:
    if actor.role not in (Role.STAFF, *roles) or actor.street_id is None:
        raise Forbidden(_("only staff see care circles"))
    return actor.street_id


def target_count(session: Session, actor: Actor, today: dt.date) -> TargetCount:
    """How many residents of the staff member's area (a planner: the street) meet the street's
    circle target: counts only, so planners see them too."""
    return _kept_count(session, _scope(actor, Role.PLANNER), actor.community_id, today)


def _kept_count(
    session: Session, street_id: int, community_id: int | None, today: dt.date
) -> TargetCount:
    """``_count_only``, kept while the street's circles and helpers keep their stamps."""
    names = [circles_name(street_id), helpers_name(street_id)]
    stamps = current_many(session, names)
    stamp = None if None in stamps.values() else "/".join(str(stamps[n]) for n in names)
    return _COUNTS.get(
        session,
        f"count:{street_id}:{community_id}:{today.isoformat()}",
        lambda: _count_only(session, street_id, community_id, today),
        stamp,
    )


def count_afresh(session: Session, actor: Actor, today: dt.date) -> TargetCount:
    """``target_count`` counted now, not kept (what the kept one must equal)."""
    return _count_only(session, _scope(actor, Role.PLANNER), actor.community_id, today)


def forget_counts() -> None:
    """Drop the counts this process keeps (the next ones are counted afresh)."""
    _COUNTS.clear()


def circle_plan(
    session: Session, actor: Actor, today: dt.date, page: int = 1, page_size: int = PLAN_PAGE_SIZE
) -> CirclePlanView:
    """One page of the street's stored plan (``make_plan``) for the staff member's area (a page
    past the last: the last): the residents short of the target then, in the plan's order,
    named as they are now. No plan made yet: the count (as ``target_count`` keeps it) and nobody
    shown."""
    check_page(page, page_size, 500)
    street_id = _scope(actor)
    target = street_target(_street(session, street_id))
    skills = street_catalogue(session, street_id).matcher.skills
    names = {s.code: (s.name_zh, s.name_en) for s in skills}
    row = session.get(CirclePlanRow, street_id)
    if row is None:
        count = _kept_count(session, street_id, actor.community_id, today)
        return CirclePlanView(count, Page([], 0, 1, page_size), names, stored=False)
    mine = actor.community_id
    counts = [(m, t) for c, m, t in row.counts if mine is None or c == mine]
    count = TargetCount(
        row.size,
        tuple(sorted(row.categories)),
        sum(m for m, _ in counts),
        sum(t for _, t in counts),
    )
    short = [r for r in row.residents if mine is None or r[1] == mine]
    page = min(page, max(1, -(-len(short) // page_size)))
    chosen = short[(page - 1) * page_size : page * page_size]
    wanted = {p[0] for r in chosen for p in r[4]}
    people = select(ResidentRow.id, ResidentRow.code, ResidentRow.name)
    residents = {
        r.id: r for r in session.execute(people.where(ResidentRow.id.in_([r[0] for r in chosen])))
    }
    helpers = {}
    if wanted:
        query = select(HelperRow.id, HelperRow.code, HelperRow.name)
        helpers = {h.id: h for h in session.execute(query.where(HelperRow.id.in_(wanted)))}
    shown = []
    for resident_id, _community, members, missing, proposals in chosen:
        resident = residents.get(resident_id)
        if resident is None:
            continue
        shown.append(
            ResidentPlanView(
                resident.id,
                resident.code,
                resident.name,
                members,
                tuple(missing),
                [
                    ProposalView(h, helpers[h].code, helpers[h].name, km, tuple(covers), load)
                    for h, km, covers, load in proposals
                    if h in helpers
                ],
            )
        )
    stale = (row.size, frozenset(row.categories)) != (target.size, target.categories)
    return CirclePlanView(
        count,
        Page(shown, len(short), page, page_size),
        names,
        made_at=row.made_at,
        for_date=row.for_date,
        stale=stale,
    )


def make_plan(session: Session, actor: Actor, today: dt.date) -> int:
    """Plan the whole street (every resident short of the target, in the plan's order) and store
    it for the planner page, replacing the last plan (any staff of the street; audited): how
    many residents are short. Planned before the write lock is taken, as a solve is."""
    street_id = _scope(actor)
    street = _gather(session, street_id, None, today, loads=True)
    found = plan_page(
        street.plan_residents,
        street.plan_helpers,
        street.target,
        1,
        max(1, len(street.plan_residents)),
    )
    helpers = {h.id: h for h in street.plan_helpers}
    counts: dict[int, list[int]] = {}
    for resident in street.plan_residents:
        if in_target(resident, street.target):
            community = street.residents[int(resident.id)].community_id
            tally = counts.setdefault(community, [0, 0])
            tally[0] += meets_target(resident, helpers, street.target)
            tally[1] += 1
    residents = [
        [
            int(plan.resident),
            street.residents[int(plan.resident)].community_id,
            plan.members,
            list(plan.missing_skills),
            [[int(p.helper), p.km_one_way, list(p.covers), p.load] for p in plan.proposals],
        ]
        for plan in found.residents
    ]
    session.rollback()  # the reads' transaction: the write takes the street's lock afresh
    begin_write(session, street_id)
    row = session.get(CirclePlanRow, street_id)
    if row is None:
        row = CirclePlanRow(street_id=street_id)
        session.add(row)
    row.made_at, row.made_by, row.for_date = utcnow(), actor.user_id, today
    row.size, row.categories = street.target.size, sorted(street.target.categories)
    row.counts = [[c, m, t] for c, (m, t) in sorted(counts.items())]
    row.residents = residents
    audit(session, actor.user_id, "circle.plan", "street", street_id, {"short": len(residents)})
    session.commit()
    return len(residents)


def plan_by_code(session: Session, code: str, today: dt.date) -> CirclePlanView:
    """The whole street's plan, by the street's code (the command line)."""
    street_id = session.scalar(select(Street.id).where(Street.code == code))
    if street_id is None:
        raise NotFound(_("unknown street code %(code)s", code=code), "street")
    street = _gather(session, street_id, None, today, loads=True)
    return _plan(street, 1, max(1, len(street.plan_residents)))


def _plan(street: _Street, page: int, page_size: int) -> CirclePlanView:
    found = plan_page(street.plan_residents, street.plan_helpers, street.target, page, page_size)
    shown = []
    for plan in found.residents:
        resident = street.residents[int(plan.resident)]
        proposals = []
        for p in plan.proposals:
            helper = street.helpers[int(p.helper)]
            proposals.append(
                ProposalView(helper.id, helper.code, helper.name, p.km_one_way, p.covers, p.load)
            )
        shown.append(
            ResidentPlanView(
                resident.id,
                resident.code,
                resident.name,
                plan.members,
                plan.missing_skills,
                proposals,
            )
        )
    return CirclePlanView(
        _count(street),
        Page(shown, found.short, found.page, found.page_size),
        street.skill_names,
    )


def set_target(session: Session, actor: Actor, size: int, categories: list[str]) -> CircleTarget:
    """Set the street's circle target (street-wide staff; audited)."""
    street_id = _scope(actor)
    if actor.community_id is not None:
        raise Forbidden(_("only street-wide staff set the circle target"))
    if not 1 <= size <= MAX_SIZE:
        raise BadInput(_("a circle target is 1 to %(most)s members", most=MAX_SIZE), "size")
    known = {c.value for c in ResidentCategory}
    unknown = sorted(set(categories) - known)
    if unknown or not categories:
        raise BadInput(_("pick one or more resident categories"), "categories")
    begin_write(session, street_id)
    street = _street(session, street_id)
    before = {"size": street.circle_size, "categories": list(street.circle_categories)}
    street.circle_size, street.circle_categories = size, sorted(set(categories))
    after = {"size": size, "categories": sorted(set(categories))}
    audit(session, actor.user_id, "street.circle_target", "street", street_id,
          {"before": before, "after": after})  # fmt: skip
    session.commit()
    return street_target(street)
