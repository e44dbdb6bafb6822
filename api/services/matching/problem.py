"""Database rows → the matcher's ``Problem`` for one street and date (the one place this converts).

Helpers enter with what is left of their day: every live assignment they hold that date outside
the orders being matched (pending or accepted offers, done visits) takes one of their orders, its
minutes plus travel, and — for a timed visit — that stretch of their availability.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from api.services.circles.facts import Pairs, blocks_for, members_of, pair_records
from api.services.hours.days import on_date
from api.services.ledger.street_catalogue import forget_catalogues, street_catalogue
from api.services.matching.keys import IdMap, Keys, helper_key, order_key, resident_key
from api.store.db import among_bound, dialect_of
from api.store.stamps import CATALOGUE, StampedCache, current_many, helpers_name
from api.store.tables import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    AssignmentRow,
    HelperRow,
    OfferRow,
    OrderRow,
    ResidentRow,
)
from matcher.eligible import FreeDay, free_day
from matcher.model import (
    Catalogue,
    Gender,
    Helper,
    HelperKind,
    Location,
    Order,
    Problem,
    Resident,
    ResidentCategory,
    TimeWindow,
)
from matcher.result import Assignment, Reason
from matcher.travel import EARTH_RADIUS_KM, great_circle_km, round_trip_minutes
from matcher.verify import Rule, check_plan

_HELPERS = StampedCache()
FEW_LOADS = 300  # a problem of at most this many helpers reads only their visits of the day
COULD_SERVE_KEPT = 4096  # orders whose could-serve answer a worker keeps per street
FEW_HELPERS = 50  # a problem of this few named helpers reads them directly, not the street
DETOUR = 1.3  # matcher.model.GeoTravel's defaults: the street's travel model
SPEED_KMH = 12.0


@dataclass
class StreetProblem:
    """A matcher problem, its ids both ways (``keys``) and the rows behind them."""

    problem: Problem
    keys: Keys
    orders: dict[str, OrderRow] = field(default_factory=dict)
    helpers: dict[str, Any] = field(default_factory=dict)  # helper rows (plain or ORM)
    residents: dict[str, ResidentRow] = field(default_factory=dict)
    # Orders no day can staff, with why, in a problem made for answers only (``build_problem``):
    # pass them to ``matcher.eligible.eligible_helpers``.
    settled: dict[str, Reason] = field(default_factory=dict)


@dataclass(frozen=True)
class Deciders:
    """``matcher.eligible.FreeDay`` in row ids: the helpers who could decide one of the orders'
    answers, and the orders no day can staff (by order key) with why."""

    deciders: frozenset[int]
    settled: dict[str, Reason]


def catalogue_from_db(session: Session, street_id: int, stamp: str | None = "") -> Catalogue:
    """The matcher's catalogue of the street (``street_catalogue``: the shipped catalogue
    overlaid by the street's settings); ``stamp``: the catalogue's stamp as just read."""
    return street_catalogue(session, street_id, stamp).matcher


@dataclass(frozen=True)
class StreetHelpers:
    """A street's active helpers: their plain rows and, for each, the matcher's ``Helper`` with a
    free day (immutable; kept per worker while the street's helpers' stamp holds)."""

    rows: dict[int, Any]
    free: dict[int, Helper]
    lat: np.ndarray  # by position in ``ids``
    lon: np.ndarray
    reach: np.ndarray  # radius ÷ detour, km
    # Who could decide an order with a whole day free and no refusals (``build_problem``'s
    # ``near``), by the order's and its resident's matcher models and the catalogue's stamp:
    # a re-match asks again for the same order after each decline.
    could: dict[tuple[object, ...], Deciders] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: dict[int, Any]) -> StreetHelpers:
        return cls(
            rows,
            {i: _free_helper(row) for i, row in rows.items()},
            np.array([r.lat for r in rows.values()], dtype=float),
            np.array([r.lon for r in rows.values()], dtype=float),
            np.array([r.radius_km / DETOUR for r in rows.values()], dtype=float),
        )

    def could_serve(self, key: tuple[object, ...], ask: Callable[[], Deciders]) -> Deciders:
        """``ask()``'s answer for ``key``, asked once while these helpers hold (a bounded memo)."""
        if key not in self.could:
            if len(self.could) >= COULD_SERVE_KEPT:
                self.could.clear()
            self.could[key] = ask()
        return self.could[key]

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(self.rows)

    def within_boxes(self, residents: list[ResidentRow]) -> list[int]:
        """Helpers whose radius, as a box around them, holds one of the residents: a necessary
        condition of the reach rule (great-circle km × detour ≤ radius) with 5 % to spare, so
        never stricter than the matcher, which still decides."""
        inside = np.zeros(len(self.ids), dtype=bool)
        km_per_degree = math.pi * EARTH_RADIUS_KM / 180 / 1.05
        for resident in residents:
            lon_scale = km_per_degree * math.cos(math.radians(min(89.0, abs(resident.lat) + 1.0)))
            inside |= (np.abs(self.lat - resident.lat) * km_per_degree <= self.reach) & (
                np.abs(self.lon - resident.lon) * lon_scale <= self.reach
            )
        ids = self.ids
        return [ids[i] for i in np.flatnonzero(inside).tolist()]


def forget_kept() -> None:
    """Drop what this process keeps between problems (the next build reads everything afresh)."""
    _HELPERS.clear()
    forget_catalogues()


def street_helpers(session: Session, street_id: int, stamp: str | None = "") -> StreetHelpers:
    """The street's active helpers, by id (built once per change of any of them; ``stamp``: as
    just read by the caller; default: read here)."""

    def read() -> StreetHelpers:
        query = select(*HelperRow.__table__.columns).where(
            HelperRow.street_id == street_id, HelperRow.active
        )
        return StreetHelpers.of({h.id: h for h in session.execute(query.order_by(HelperRow.id))})

    return _HELPERS.get(session, helpers_name(street_id), read, stamp)


def leg_minutes(helper: Any, resident: ResidentRow | Location) -> tuple[float, int]:
    """One-way km and round-trip minutes, as the matcher's geo travel computes them (``helper``:
    a helper row, ORM or plain)."""
    where = resident if isinstance(resident, Location) else _where(resident)
    km = great_circle_km(Location(lat=helper.lat, lon=helper.lon), where) * DETOUR
    return km, round_trip_minutes(2 * km, helper.speed_kmh or SPEED_KMH)


def _where(row: Any) -> Location:
    return Location(lat=row.lat, lon=row.lon)


def build_problem(
    session: Session,
    street_id: int,
    date: dt.date,
    orders: Iterable[OrderRow],
    *,
    pins: dict[int, list[int]] | None = None,
    refused: dict[int, set[int]] | None = None,
    helper_ids: set[int] | None = None,
    fixed_starts: dict[int, int] | None = None,
    near: bool = False,
    committed: bool = True,
    members: Iterable[int] = (),
    stamps: Mapping[str, str | None] | None = None,
    pairs: Pairs | None = None,
    answers_only: bool = False,
) -> StreetProblem:
    """The problem of matching ``orders`` (all dated ``date``) on the street's active helpers.

    ``near`` (for a problem of one or a few orders: a re-match, a candidate list) enters only
    the helpers the matcher finds could decide one of the orders if their whole day were free
    (``matcher.eligible.FreeDay``: they pass skills, reach and time); what is left of a day
    only ever removes eligibility, so those are all who could serve it now or decide why not,
    and the matcher still decides among them. Helpers out of a bounding box of their radius,
    always looser than the matcher's reach check, are not even asked. When some order could
    not be staffed even with a free day, everyone stays in for a solve's explanation, which
    counts every helper; with ``answers_only`` (the problem only asks ``eligible_helpers``,
    e.g. a candidate list) the cut holds and such orders come with their reason (``settled``).

    ``pins`` maps an order id to helpers who must serve it (members who already accepted).
    ``refused`` maps an order id to helpers who declined or let it expire: they are not offered
    that resident again that day. ``helper_ids`` restricts the helpers (e.g. one claimer).
    With ``committed=False`` helpers enter with their whole day (no visit outside ``orders`` is
    taken off it) and ``members`` are entered even if deactivated since: what a checker needs
    to verify the visits already given out (``api.services.matching.invariants``).
    ``stamps``: the stamps of the street's helpers and the catalogue as the caller just read
    them (default: read here). ``pairs``: the care circles of the orders' residents
    (``pair_records``) as the caller just read them (default: read here).
    """
    orders = list(orders)
    pins = pins or {}
    fixed_starts = fixed_starts or {}
    residents = {o.resident_id: o.resident for o in orders}
    free: dict[int, Helper] = {}
    street: StreetHelpers | None = None
    if stamps is None:
        stamps = current_many(session, [helpers_name(street_id), CATALOGUE])
    kept_street: StreetHelpers | None = _HELPERS.peek(
        session, helpers_name(street_id), stamps[helpers_name(street_id)]
    )
    if helper_ids is not None and len(helper_ids) <= FEW_HELPERS and kept_street is not None:
        # The street's helpers are kept already: these few are among them (none read).
        street = kept_street
        helper_rows: dict[int, Any] = {
            i: street.rows[i] for i in sorted(helper_ids) if i in street.rows
        }
        free = street.free
    elif helper_ids is not None and len(helper_ids) <= FEW_HELPERS:
        # Plain rows (every column, no ORM objects) of just these helpers.
        query = select(*HelperRow.__table__.columns).where(
            HelperRow.street_id == street_id, HelperRow.active, HelperRow.id.in_(helper_ids or {-1})
        )
        rows = session.execute(query.order_by(HelperRow.id))
        helper_rows = {h.id: h for h in rows}
    else:
        street = street_helpers(session, street_id, stamps[helpers_name(street_id)])
        chosen = street.within_boxes(list(residents.values())) if near and orders else street.ids
        helper_rows = {i: street.rows[i] for i in chosen if helper_ids is None or i in helper_ids}
        free = street.free
    kept = [*(h for pinned in pins.values() for h in pinned), *members]
    for helper_id in kept:  # a pinned member stays in, even if deactivated since
        if helper_id not in helper_rows:
            helper_rows[helper_id] = session.get_one(HelperRow, helper_id)
    catalogue = catalogue_from_db(session, street_id, stamps[CATALOGUE])
    codes = {r.code: resident_key(r.id) for r in residents.values()}
    ledger: dict[int, set[str]] = {  # the ledger's own blocks (resident codes)
        row.id: {codes[c] for c in row.blocked_residents if c in codes}
        for row in helper_rows.values()
        if row.blocked_residents
    }
    refusals = _refusals(orders, refused or {})  # this day's declines and expiries
    blocked = {
        h: ledger.get(h, set()) | refusals.get(h, set()) for h in ledger.keys() | refusals.keys()
    }
    if pairs is None:  # care circles: members, weights, blocks
        pairs = pair_records(session, residents.values())
    if committed:  # a circle's block binds what is given out from now on (not visits before it)
        for h, blocked_from in blocks_for(session, pairs, orders, pins).items():
            blocked.setdefault(h, set()).update(resident_key(r) for r in blocked_from)
    matcher_orders = tuple(
        _order(o, date, pins.get(o.id, ()), fixed_starts.get(o.id), catalogue) for o in orders
    )
    circles: dict[int, dict[str, float]] = {}
    day_read: set[int] | None = None  # whose day's visits are read (None: every helper entered)

    def problem_of(helpers: Iterable[Helper], checked: bool = True) -> Problem:
        helpers = tuple(helpers)
        present = {h.id for h in helpers}
        # Unchecked: the question to ``_could_serve`` only, made of parts already checked.
        make = Problem if checked else Problem.model_construct
        return make(
            date=date,
            catalogue=catalogue,
            helpers=helpers,
            residents=tuple(
                _resident(r, {h: w for h, w in circles.get(r.id, {}).items() if h in present})
                for r in residents.values()
            ),
            orders=matcher_orders,
        )

    def whole_day(h: int) -> Helper:  # the helper's own time of the date applied (leave …)
        return on_date(free.get(h) or _free_helper(helper_rows[h]), helper_rows[h], date)

    settled: dict[str, Reason] = {}
    if near and orders:

        def ask(ids: Iterable[int], blocks: dict[int, set[str]]) -> Deciders:
            ids = list(ids)
            return _deciders(
                problem_of(
                    (_with_day(whole_day(h), [], blocks.get(h, set())) for h in ids),
                    checked=False,
                ),
                Keys.of(helpers=ids).helpers,
            )

        could: Deciders | None
        if street is not None and helper_ids is None:
            # Who could decide an order with no refusals is the same question at every re-match
            # of an order: asked once per worker while the street's helpers and the catalogue
            # hold. A refusal only ever removes eligibility, so the exact answer is then asked
            # of those few alone (the same helpers, each judged on their own).
            key = (
                stamps[CATALOGUE],
                matcher_orders,
                tuple(_resident(r, {}) for r in residents.values()),
            )
            could = first = street.could_serve(key, lambda: ask(helper_rows, ledger))
            if refusals and (answers_only or not first.settled):
                could = ask(sorted(first.deciders & helper_rows.keys()), blocked)
                # An order no day can staff keeps its reason where its resident was not refused
                # (the same helpers, judged the same); asked of those few alone, an order of a
                # refused resident would be judged without the helpers it lost.
                lost = set().union(*refusals.values())  # residents with a refusal
                resident_of = {order_key(o.id): resident_key(o.resident_id) for o in orders}
                if could.settled and (
                    not answers_only or any(resident_of[o] in lost for o in could.settled)
                ):
                    # Everyone stays in, but only those who could decide an order with a free
                    # day need their day read. The others fail a step (skills, reach, time)
                    # that a taken day only makes harder: the answer is the same.
                    day_read = set(first.deciders) | set(kept)
                    could = None
                else:
                    could = Deciders(could.deciders, {o: first.settled[o] for o in could.settled})
        else:
            could = ask(helper_rows, blocked)
        # A solve's explanation counts every helper: with an order no day can staff, everyone
        # stays in (unless the problem only answers who could serve).
        if could is not None and (answers_only or not could.settled):
            keep = could.deciders | set(kept)
            helper_rows = {h: row for h, row in helper_rows.items() if h in keep}
            settled = could.settled
    circles = _circles(pairs, helper_rows)
    # The helpers asked about are named too, even if not entered (e.g. deactivated): the
    # checker then reports them as unknown to the problem.
    asked = helper_rows.keys() | (helper_ids or set())
    keys = Keys.of(orders=(o.id for o in orders), helpers=sorted(asked), residents=residents)
    busy = (
        helper_rows
        if day_read is None
        else {h: helper_rows[h] for h in day_read & helper_rows.keys()}
    )
    loads = (
        _loads(session, street_id, date, {o.id for o in orders}, busy, catalogue)
        if committed
        else {}
    )
    problem = problem_of(
        _with_day(whole_day(h), loads.get(h, []), blocked.get(h, set())) for h in helper_rows
    )
    return StreetProblem(
        problem=problem,
        keys=keys,
        orders={order_key(o.id): o for o in orders},
        helpers={helper_key(h): row for h, row in helper_rows.items()},
        residents={resident_key(r): row for r, row in residents.items()},
        settled=settled,
    )


def _deciders(problem: Problem, helpers: IdMap) -> Deciders:
    """The matcher's ``free_day`` answer of ``problem`` (every helper's whole day free)."""
    answer: FreeDay = free_day(problem)
    return Deciders(frozenset(helpers.row(h) for h in answer.deciders), answer.settled)


@dataclass(frozen=True)
class Load:
    """A visit a helper already holds that day."""

    minutes: int  # visit plus round trip
    span: tuple[int, int] | None  # occupied stretch of the day, for timed visits


def _loads(
    session: Session,
    street_id: int,
    date: dt.date,
    solving: set[int],
    helpers: dict[int, Any],
    catalogue: Catalogue,
) -> dict[int, list[Load]]:
    few = len(helpers) <= FEW_LOADS  # a few helpers (a re-match's): just theirs
    # The street's orders only: offers go to helpers of the order's street (offers.dispatch),
    # and without it a city's database returns every street's offers of the day.
    values: dict[str, Any] = {"date": date, "street": street_id}
    if few:
        values["helpers"] = list(helpers)
    rows = session.execute(_loads_query(dialect_of(session), few), values)
    loads: dict[int, list[Load]] = defaultdict(list)
    durations = {i.code: i.duration_min for i in catalogue.items}  # as the street has them
    for helper_id, start, order_id, lat, lon, item in rows:
        if order_id in solving or helper_id not in helpers:
            continue
        duration = durations[item]
        _, minutes = leg_minutes(helpers[helper_id], Location(lat=lat, lon=lon))
        span = None
        if start is not None:
            out = (minutes + 1) // 2
            span = (start - out, start + duration + minutes - out)
        loads[helper_id].append(Load(minutes=duration + minutes, span=span))
    return loads


@cache  # built once per database kind and shape, run with each call's values
def _loads_query(dialect: str, few: bool) -> Select[int, int | None, int, float, float, str]:
    query = (
        select(
            OfferRow.helper_id,
            AssignmentRow.start_minute,
            OrderRow.id,
            ResidentRow.lat,
            ResidentRow.lon,
            OrderRow.item,
        )
        .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
        .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
        .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
        .where(
            OrderRow.street_id == bindparam("street"),
            OrderRow.date == bindparam("date"),
            AssignmentRow.status.in_(LIVE_ASSIGNMENT_STATUSES),
            OfferRow.status.in_(LIVE_OFFER_STATUSES),
        )
    )
    if few:
        query = query.where(among_bound(OfferRow.helper_id, "helpers", dialect))
    return query


def _refusals(orders: list[OrderRow], refused: dict[int, set[int]]) -> dict[int, set[str]]:
    blocked: dict[int, set[str]] = defaultdict(set)
    for order in orders:
        for helper_id in refused.get(order.id, ()):
            blocked[helper_id].add(resident_key(order.resident_id))
    return blocked


def _circles(pairs: Pairs, helpers: dict[int, Any]) -> dict[int, dict[str, float]]:
    """Each resident's circle among ``helpers`` with each member's continuity weight
    (``api.services.circles``: the ledger's circle, staff's additions and who served them, less
    those a low score or staff took out)."""
    return {
        r: {helper_key(h): w for h, w in sorted(members_of(records).items()) if h in helpers}
        for r, records in pairs.items()
    }


def _free_helper(row: Any) -> Helper:
    """The helper as the ledger has them, with their whole day free."""
    return Helper(
        id=helper_key(row.id),
        kind=HelperKind(row.kind),
        location=_where(row),
        skills=frozenset(row.skills),
        availability=tuple(TimeWindow(start=int(a), end=int(b)) for a, b in row.availability),
        max_orders=row.max_orders,
        max_minutes=row.max_minutes,
        radius_km=row.radius_km,
        languages=frozenset(row.languages),
        gender=Gender(row.gender) if row.gender else None,
        speed_kmh=row.speed_kmh,
    )


def _with_day(free: Helper, loads: list[Load], blocked: set[str]) -> Helper:
    """The helper with what is left of their day: each visit they hold takes an order and its
    minutes, a timed one also its stretch of availability; ``blocked`` residents added."""
    if not loads and not blocked:
        return free
    availability = free.availability
    spans = [load.span for load in loads if load.span is not None]
    if spans:
        windows = [(w.start, w.end) for w in availability]
        for span in spans:
            windows = _cut(windows, span)
        # Pieces of valid windows (start < end, within the day): built unchecked.
        availability = tuple(TimeWindow.model_construct(start=a, end=b) for a, b in windows)
    return free.model_copy(
        update={
            "availability": availability,
            "max_orders": max(0, free.max_orders - len(loads)),
            "committed_minutes": sum(load.minutes for load in loads),
            "blocked_residents": frozenset(blocked),
        }
    )


def _cut(windows: list[tuple[int, int]], span: tuple[int, int]) -> list[tuple[int, int]]:
    """Availability windows with the busy span taken out."""
    lo, hi = span
    out = []
    for start, end in windows:
        if start < lo:
            out.append((start, min(end, lo)))
        if end > hi:
            out.append((max(start, hi), end))
    return [(a, b) for a, b in out if b > a]


def _resident(row: ResidentRow, circle: dict[str, float]) -> Resident:
    weights = tuple(circle.values())
    return Resident(
        id=resident_key(row.id),
        category=ResidentCategory(row.category),
        location=_where(row),
        priority_weight=row.priority_weight,
        circle=tuple(circle),
        circle_weights=weights if any(w != 1.0 for w in weights) else (),
        preferred_gender=Gender(row.preferred_gender) if row.preferred_gender else None,
        language=row.language,
    )


def _order(
    row: OrderRow, date: dt.date, pinned: Iterable[int], start: int | None, catalogue: Catalogue
) -> Order:
    window = None
    flexible = row.flexible
    if start is not None:
        duration = next(i.duration_min for i in catalogue.items if i.code == row.item)
        window, flexible = TimeWindow(start=start, end=min(1440, start + duration)), False
    elif row.window_start is not None and row.window_end is not None:
        window = TimeWindow(start=row.window_start, end=row.window_end)
    return Order(
        id=order_key(row.id),
        resident=resident_key(row.resident_id),
        item=row.item,
        date=date,
        window=window,
        flexible_start=flexible,
        priority=row.priority,
        days_waited=max(0, (date - row.placed_at.date()).days - 1),
        pinned=tuple(helper_key(h) for h in pinned),
    )


def team_violations(
    session: Session,
    order: OrderRow,
    helper_ids: list[int],
    start: int | None,
    refused: dict[int, set[int]] | None = None,
) -> list[TeamViolation]:
    """The hard rules sending ``helper_ids`` to ``order`` at ``start`` would break, as the
    matcher's own checker judges them: helpers enter with what is left of their day outside
    this order (the one path manual assignment and claims take; nothing restated here)."""
    fixed = {order.id: start} if start is not None else None
    street = build_problem(
        session,
        order.street_id,
        order.date,
        [order],
        refused=refused,
        helper_ids=set(helper_ids),
        fixed_starts=fixed,
    )
    keys = street.keys
    team = tuple(sorted(keys.helpers.keys(helper_ids)))
    planned = Assignment(order=keys.orders.key(order.id), helpers=team, start=start)
    return [
        TeamViolation(v.rule, keys.helpers.row(v.helper) if v.helper else None, v.message)
        for v in check_plan(street.problem, [planned])
    ]


@dataclass(frozen=True)
class TeamViolation:
    """A hard rule a hand-picked team breaks, and the helper (row id) who breaks it, if one."""

    rule: Rule
    helper_id: int | None
    message: str  # the matcher's diagnostic, in its own ids
