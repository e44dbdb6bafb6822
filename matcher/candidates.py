"""Which helpers may serve which order: the eligibility funnel shared by the solvers.

An order's candidates pass, in this order: skills (required skills held), reach (not blocked,
a travel leg exists, within the helper's radius and the item's maximum distance), time (a timed
visit with travel fits one availability window) and limits (committed minutes plus this visit fit
the day's minutes, and the helper takes at least one order). Team-level conditions (enough members,
a lead-skill holder, a speaker of the resident's language) are checked at each stage; the first
stage at which they fail is the order's basic reason for being unmatchable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matcher.model import Helper, MatrixTravel, Order, Problem, ServiceItem
from matcher.result import Reason
from matcher.travel import EARTH_RADIUS_KM, Leg, TravelTable
from matcher.weights import order_weight


@dataclass(frozen=True)
class Candidate:
    """A helper who could serve an order on their own account (ignoring other orders)."""

    helper: int  # index into problem.helpers
    leg: Leg
    starts: tuple[tuple[int, int], ...] | None  # allowed start ranges (inclusive); None if untimed
    has_lead: bool
    speaks: bool  # speaks the resident's language (True when the resident has none)
    in_circle: bool
    gender_mismatch: bool


@dataclass
class OrderContext:
    """An order with everything the solvers need about it."""

    index: int
    order: Order
    item: ServiceItem
    duration: int
    team: int
    weight: int
    start_range: tuple[int, int] | None  # earliest and latest start; None if untimed
    candidates: list[Candidate] = field(default_factory=list)
    pinned: tuple[int, ...] = ()
    needs_lead: bool = False
    needs_language: bool = False
    blocked_reason: Reason | None = None  # why no team can be formed at all, if so
    pin_errors: list[str] = field(default_factory=list)

    @property
    def timed(self) -> bool:
        return self.start_range is not None

    def team_possible(self, candidates: list[Candidate]) -> bool:
        return (
            len(candidates) >= self.team
            and (not self.needs_lead or any(c.has_lead for c in candidates))
            and (not self.needs_language or any(c.speaks for c in candidates))
        )


# Ranked helpers an order's first look aims at (``Eligibility.ranked_head``): enough for its
# candidate list and, mostly, for the hand rule's walk (bench/README.md, "Bounded preparation").
HEAD_HELPERS = 96
WIDEN = 4.0  # a head too short is looked at again this many times as far


@dataclass(frozen=True)
class Head:
    """The first helpers of an order's ranking (``Eligibility.ranked``), exactly: every helper of
    the ranking whose round trip is at most ``km_rt`` km, in the ranking's order, with round-trip
    km and minutes. ``complete``: the whole ranking."""

    indices: np.ndarray
    km: np.ndarray
    minutes: np.ndarray
    km_rt: float
    complete: bool


class Eligibility:
    """Vectorised eligibility checks over all helpers of a problem."""

    def __init__(self, problem: Problem, wait_boost: float) -> None:
        self.problem = problem
        self.wait_boost = wait_boost
        self.travel = TravelTable(problem)
        helpers = problem.helpers
        self.helper_index = {h.id: i for i, h in enumerate(helpers)}
        skills = sorted(problem.catalogue.skill_codes)
        self._skill_column = {s: j for j, s in enumerate(skills)}
        self._skills = np.zeros((len(helpers), len(skills)), dtype=bool)
        for i, helper in enumerate(helpers):
            for skill in helper.skills:
                self._skills[i, self._skill_column[skill]] = True
        self._speakers: dict[str, np.ndarray] = {}
        self._ranked: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._heads: dict[int, Head] = {}
        self._head_km: dict[str, float] = {}  # per item: the round trip a first look spans
        self._farthest: dict[str, float] = {}  # per item: the farthest one-way reach
        self._geo = not isinstance(problem.travel, MatrixTravel)
        most = max((len(h.availability) for h in helpers), default=1)
        self._window_start = np.full((len(helpers), most), 1, dtype=np.int64)
        self._window_end = np.full((len(helpers), most), 0, dtype=np.int64)  # empty padding
        for i, helper in enumerate(helpers):
            for j, window in enumerate(helper.availability):
                self._window_start[i, j], self._window_end[i, j] = window.start, window.end
        self._room = np.array([h.max_minutes - h.committed_minutes for h in helpers])
        self.max_orders = np.array([h.max_orders for h in helpers], dtype=np.int64)
        self._takes_orders = np.array([h.max_orders >= 1 for h in helpers], dtype=bool)
        self._radius = np.array([h.radius_km for h in helpers], dtype=float)
        self._skill_masks: dict[str, np.ndarray] = {}
        self._lead_masks: dict[str, np.ndarray] = {}
        self._taker_masks: dict[str, np.ndarray] = {}
        self._blocked_by: dict[str, list[int]] = {}
        for i, helper in enumerate(helpers):
            for resident in helper.blocked_residents:
                self._blocked_by.setdefault(resident, []).append(i)

    def context(self, index: int, order: Order) -> OrderContext:
        problem = self.problem
        item = problem.item_of(order)
        duration = problem.duration(order)
        start_range = None
        if order.window is not None:
            latest = order.window.end - duration if order.flexible_start else order.window.start
            start_range = (order.window.start, latest)
        resident = problem.resident(order.resident)
        return OrderContext(
            index=index,
            order=order,
            item=item,
            duration=duration,
            team=problem.team_size(order),
            weight=order_weight(problem, order, self.wait_boost),
            start_range=start_range,
            pinned=tuple(self.helper_index[h] for h in order.pinned),
            needs_lead=item.lead_skill is not None,
            needs_language=resident.language is not None,
        )

    def skill_mask(self, item: ServiceItem) -> np.ndarray:
        """Helpers holding every skill the item requires (computed once per item; read-only)."""
        mask = self._skill_masks.get(item.code)
        if mask is None:
            columns = [self._skill_column[s] for s in item.required_skills]
            if not columns:
                mask = np.ones(len(self.problem.helpers), dtype=bool)
            else:
                mask = np.asarray(self._skills[:, columns].all(axis=1))
            mask.flags.writeable = False
            self._skill_masks[item.code] = mask
        return mask

    def _skilled_takers(self, item: ServiceItem) -> np.ndarray:
        """``skill_mask(item) & takes orders`` (computed once per item; read-only)."""
        mask = self._taker_masks.get(item.code)
        if mask is None:
            mask = self.skill_mask(item) & self._takes_orders
            mask.flags.writeable = False
            self._taker_masks[item.code] = mask
        return mask

    def lead_mask(self, item: ServiceItem) -> np.ndarray:
        """Helpers holding the item's lead skill (everyone when it has none; read-only)."""
        mask = self._lead_masks.get(item.code)
        if mask is None:
            if item.lead_skill is None:
                mask = np.ones(len(self.problem.helpers), dtype=bool)
            else:
                mask = np.array(self._skills[:, self._skill_column[item.lead_skill]])
            mask.flags.writeable = False
            self._lead_masks[item.code] = mask
        return mask

    def limits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every helper's radius, daily orders and minutes left (before any plan)."""
        return self._radius, self.max_orders, self._room

    def blocked_from(self, resident: str) -> list[int]:
        """The helpers blocked from the resident."""
        return self._blocked_by.get(resident, [])

    def team_possible_among(self, ctx: OrderContext, mask: np.ndarray) -> bool:
        """Whether the helpers in ``mask`` could form a full team with lead and language."""
        if int(mask.sum()) < ctx.team:
            return False
        if (
            ctx.needs_lead
            and not (mask & self._skills[:, self._skill_column[ctx.item.lead_skill or ""]]).any()
        ):
            return False
        if ctx.needs_language:
            language = self.problem.resident(ctx.order.resident).language
            return bool((mask & self.speaker_mask(language or "")).any())
        return True

    def speaker_mask(self, language: str) -> np.ndarray:
        mask = self._speakers.get(language)
        if mask is None:
            mask = np.array([language in h.languages for h in self.problem.helpers], dtype=bool)
            self._speakers[language] = mask
        return mask

    def near(
        self, ctx: OrderContext, among: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Helpers (ascending index) the order is within reach of, with round-trip km and
        minutes: ``reach_mask`` over every helper, computed only for helpers near the order
        (``TravelTable.near``) and, given ``among`` (a mask over every helper), only for those
        (a cheap mask test first saves the distances of helpers the caller would drop)."""
        indices, km_rt, minutes = self._reachable(ctx, among)
        ascending = np.argsort(indices, kind="stable")
        return indices[ascending], km_rt[ascending], minutes[ascending]

    def _reachable(
        self, ctx: OrderContext, among: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``near`` in no particular order."""
        indices, km_rt, minutes = self.travel.near(ctx.order, ctx.item.max_distance_km, among)
        keep = self.reach_mask_at(ctx, indices, km_rt)
        return indices[keep], km_rt[keep], minutes[keep]

    def reach_mask_at(
        self, ctx: OrderContext, indices: np.ndarray, km_rt: np.ndarray
    ) -> np.ndarray:
        """``reach_mask`` for the helpers at ``indices`` (``km_rt`` theirs), legs taken present."""
        keep = km_rt / 2 <= self._reach(ctx, self._radius[indices]) + 1e-9
        blocked = self._blocked_by.get(ctx.order.resident)
        if blocked:
            keep &= ~np.isin(indices, blocked)
        return keep

    def reach_mask(self, ctx: OrderContext, km_rt: np.ndarray, present: np.ndarray) -> np.ndarray:
        """Helpers (all of them, indexed like ``problem.helpers``) the order is within reach of."""
        mask = present & (km_rt / 2 <= self._reach(ctx, self._radius) + 1e-9)
        blocked = self._blocked_by.get(ctx.order.resident)
        if blocked:
            mask[blocked] = False
        return mask

    def within_reach(self, ctx: OrderContext, index: int, leg: Leg) -> bool:
        """``reach_mask`` for one helper."""
        blocked = index in self._blocked_by.get(ctx.order.resident, ())
        return not blocked and leg.km_one_way <= self._reach(ctx, self._radius[index]) + 1e-9

    @staticmethod
    def _reach(ctx: OrderContext, radius: Any) -> Any:
        """The helpers' radius, capped by the item's maximum distance."""
        cap = ctx.item.max_distance_km
        return radius if cap is None else np.minimum(radius, cap)

    def candidate(self, ctx: OrderContext, index: int, leg: Leg) -> Candidate:
        """Facts about one helper for one order (no time or limit check)."""
        helper = self.problem.helpers[index]
        resident = self.problem.resident(ctx.order.resident)
        lead = ctx.item.lead_skill
        return Candidate(
            helper=index,
            leg=leg,
            starts=start_ranges(ctx, helper, leg),
            has_lead=lead is None or lead in helper.skills,
            speaks=resident.language is None or resident.language in helper.languages,
            in_circle=helper.id in resident.circle,
            gender_mismatch=(
                resident.preferred_gender is not None and helper.gender != resident.preferred_gender
            ),
        )

    def fits_limits(self, ctx: OrderContext, candidate: Candidate) -> bool:
        """The day's order and minute limits leave room for this visit (as ``_rank`` checks)."""
        index = candidate.helper
        minutes = ctx.duration + candidate.leg.minutes_round_trip
        return bool(self._takes_orders[index]) and minutes <= self._room[index]

    def ranked(self, ctx: OrderContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Helpers who could serve the order on their own account (skills, reach, a free slot
        in their availability, room in their day), nearest first (ties by index), with
        round-trip km and minutes. Computed once per order. The solvers' preparation walks only
        the head of it (``ranked_head``, ``ranked_more``), which costs its neighbourhood."""
        cached = self._ranked.get(ctx.index)
        if cached is None:
            cached = self._ranked[ctx.index] = self._rank(ctx)
            self._heads[ctx.index] = Head(*cached, math.inf, True)
        return cached

    def prepare_heads(self, contexts: list[OrderContext]) -> None:
        """The first look of every order at once (geo travel): per item, the skilled helpers
        within a radius holding about ``HEAD_HELPERS`` of them, found for all the item's orders
        together on a grid of cells as wide as that radius, and ranked by the funnel's very
        tests, element by element, so each order's head is what ``ranked_head`` would find on
        its own, for a fraction of the per-order cost (numpy calls over a few dozen helpers
        each). Orders near a pole or the antimeridian are left to ``ranked_head``."""
        if not self._geo or not contexts:
            return
        by_item: dict[str, list[OrderContext]] = {}
        for ctx in contexts:
            if ctx.index not in self._heads:
                by_item.setdefault(ctx.item.code, []).append(ctx)
        for group in by_item.values():
            self._heads_of_item(group)

    def _heads_of_item(self, group: list[OrderContext]) -> None:
        travel, item = self.travel, group[0].item
        takers = np.flatnonzero(self._skilled_takers(item))
        if not len(takers):
            return
        detour = travel._geo.detour_factor
        radius = self._radius[takers]
        farthest = float(radius.max())
        if item.max_distance_km is not None:
            farthest = min(farthest, item.max_distance_km)
        self._farthest.setdefault(item.code, farthest)
        residents = [self.problem.resident(c.order.resident).location for c in group]
        olat = np.array([math.radians(r.lat) for r in residents])
        olon = np.array([math.radians(r.lon) for r in residents])
        ocos = np.array([math.cos(x) for x in olat.tolist()])
        hlat, hlon = travel._lat[takers], travel._lon[takers]
        # One-way km of the head: about 2 x HEAD_HELPERS skilled helpers in the disc (some of
        # them fail the later tests), from their density over the street's extent.
        lat_lo = min(float(hlat.min()), float(olat.min()))
        lat_hi = max(float(hlat.max()), float(olat.max()))
        lon_lo = min(float(hlon.min()), float(olon.min()))
        lon_hi = max(float(hlon.max()), float(olon.max()))
        extent_km2 = max(
            1e-6,
            (lat_hi - lat_lo)
            * (lon_hi - lon_lo)
            * math.cos((lat_lo + lat_hi) / 2)
            * (EARTH_RADIUS_KM * detour) ** 2,
        )
        r = math.sqrt(2 * HEAD_HELPERS * extent_km2 / (math.pi * len(takers)))
        r = min(max(r, 1e-3), farthest)
        angle = (r * (1 + 1e-6) + 1e-6) / detour / EARTH_RADIUS_KM  # conservative, like _HomeIndex
        widest = max(abs(lat_lo), abs(lat_hi)) + angle
        if widest >= math.pi / 2 - 1e-3 or lon_hi - lon_lo > math.pi:
            return  # near a pole or across the antimeridian: orders look on their own
        s = math.sin(angle / 2) / math.cos(widest)
        if s >= 1:
            return
        width = 2 * math.asin(s) * (1 + 1e-6) + 1e-12  # longitude span of the disc, at most
        rows_h = np.floor(hlat / angle).astype(np.int64)
        cols_h = np.floor((hlon - lon_lo) / width).astype(np.int64)
        rows_o = np.floor(olat / angle).astype(np.int64)
        cols_o = np.floor((olon - lon_lo) / width).astype(np.int64)
        span = max(int(cols_h.max()), int(cols_o.max())) + 3  # keys of a row: col + 1
        keys = rows_h * span + (cols_h + 1)
        ordering = np.argsort(keys, kind="stable")
        keys, members = keys[ordering], takers[ordering]
        first = (rows_o[:, None] + np.arange(-1, 2)) * span + cols_o[:, None]  # cols c-1 .. c+1
        starts = np.searchsorted(keys, first, side="left").ravel()
        ends = np.searchsorted(keys, first + 2, side="right").ravel()
        lengths = ends - starts
        total = int(lengths.sum())
        which = np.repeat(np.repeat(np.arange(len(group)), 3), lengths)  # the pair's order
        offsets = np.cumsum(lengths) - lengths
        helper = members[np.repeat(starts - offsets, lengths) + np.arange(total)]
        # Distances: ``great_circle_km_from``'s operations, element by element.
        lat, lon = olat[which], olon[which]
        h = (
            np.sin((lat - travel._lat[helper]) / 2) ** 2
            + travel._cos_lat[helper] * ocos[which] * np.sin((lon - travel._lon[helper]) / 2) ** 2
        )
        km_rt = 2 * (2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))) * detour
        minutes = np.ceil(km_rt / travel._speed[helper] * 60 - 1e-9).astype(np.int64)
        # The funnel's tests (``reach_mask_at``, ``_funnel``), and the head's radius.
        reach = self._radius[helper]
        if item.max_distance_km is not None:
            reach = np.minimum(reach, item.max_distance_km)
        duration = np.array([c.duration for c in group])[which]
        keep = (km_rt / 2 <= reach + 1e-9) & (km_rt <= 2 * r)
        keep &= duration + minutes <= self._room[helper]
        blocked = [
            (k, b) for k, c in enumerate(group) for b in self._blocked_by.get(c.order.resident, ())
        ]
        if blocked:
            pairs = np.array([k * len(self.problem.helpers) + b for k, b in blocked])
            keep &= ~np.isin(which * len(self.problem.helpers) + helper, pairs)
        timed = np.array([c.start_range is not None for c in group])
        if timed.any():
            lo = np.array([(c.start_range or (0, 0))[0] for c in group])
            hi = np.array([(c.start_range or (0, 0))[1] for c in group])
            test = np.flatnonzero(keep & timed[which])
            m, w = minutes[test], which[test]
            out = (m + 1) // 2
            back = m - out
            a = np.maximum(lo[w][:, None], self._window_start[helper[test]] + out[:, None])
            b = np.minimum(
                hi[w][:, None],
                self._window_end[helper[test]] - duration[test][:, None] - back[:, None],
            )
            keep[test] = (a <= b).any(axis=1)
        which, helper, km_rt, minutes = which[keep], helper[keep], km_rt[keep], minutes[keep]
        ranked = np.lexsort((helper, km_rt, which))
        which, helper, km_rt, minutes = (
            which[ranked],
            helper[ranked],
            km_rt[ranked],
            minutes[ranked],
        )
        bounds = np.searchsorted(which, np.arange(len(group) + 1)).tolist()
        complete = r >= farthest
        for k, ctx in enumerate(group):
            a_, b_ = bounds[k], bounds[k + 1]
            self._heads[ctx.index] = Head(
                helper[a_:b_], km_rt[a_:b_], minutes[a_:b_], 2 * r, complete
            )

    def ranked_head(self, ctx: OrderContext) -> Head:
        """The first helpers of ``ranked(ctx)``, exactly, as far as a first look goes (about
        ``HEAD_HELPERS`` of them): what candidate lists and the hand rule mostly need, at a
        fraction of the whole ranking's cost on dense streets. ``ranked_more`` goes on."""
        head = self._heads.get(ctx.index)
        if head is None:
            whole = self._ranked.get(ctx.index)
            head = (
                Head(*whole, math.inf, True)
                if whole is not None
                else self._head_within(ctx, self._first_look(ctx))
            )
            self._heads[ctx.index] = head
        return head

    def ranked_more(self, ctx: OrderContext) -> Head:
        """A longer head than the last one given for ``ctx`` (or the whole ranking)."""
        head = self.ranked_head(ctx)
        while not head.complete:
            wider = self._head_within(ctx, head.km_rt * WIDEN)
            if len(wider.indices) > len(head.indices) or wider.complete:
                head = wider
                break
            head = wider
        self._heads[ctx.index] = head
        return head

    def ranked_at_least(self, ctx: OrderContext, count: int) -> Head:
        """A head of at least ``count`` helpers, or the whole ranking."""
        head = self.ranked_head(ctx)
        while len(head.indices) < count and not head.complete:
            head = self.ranked_more(ctx)
        return head

    def ranked_among(
        self, ctx: OrderContext, indices: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The helpers at ``indices`` that are in ``ranked(ctx)``, in its order, with its km and
        minutes (the same values), computed for those helpers alone."""
        indices = np.asarray(indices, dtype=np.int64)
        indices = indices[self._skilled_takers(ctx.item)[indices]]
        km_rt, minutes, present = self.travel.arrays_for_helpers(ctx.order, indices)
        keep = present & self.reach_mask_at(ctx, indices, km_rt)
        return self._funnel(ctx, indices[keep], km_rt[keep], minutes[keep])

    def _first_look(self, ctx: OrderContext) -> float:
        """The round-trip km an order's first look spans: per item, adapted as orders are
        looked at (about ``HEAD_HELPERS`` helpers; any value gives the same rankings)."""
        return self._head_km.get(ctx.item.code, 0.0)

    def _head_within(self, ctx: OrderContext, km_rt: float) -> Head:
        """The head of the ranking up to ``km_rt`` round-trip km (the whole ranking when that
        reaches as far as any skilled helper's radius and the item's distance allow, when the
        travel is a matrix, or before the item's first look is known)."""
        code = ctx.item.code
        farthest = self._farthest.get(code)
        if farthest is None:
            takers = self._skilled_takers(ctx.item)
            radius = float(self._radius[takers].max()) if takers.any() else 0.0
            cap = ctx.item.max_distance_km
            farthest = self._farthest[code] = radius if cap is None else min(radius, cap)
        if not self._geo or not km_rt > 0 or km_rt / 2 >= farthest:
            indices, km, minutes = self.ranked(ctx)
            self._adapt(code, km, complete=True)
            return Head(indices, km, minutes, math.inf, True)
        cap = ctx.item.max_distance_km
        one_way = km_rt / 2 if cap is None else min(km_rt / 2, cap)
        indices, km, minutes = self.travel.near(ctx.order, one_way, self._skilled_takers(ctx.item))
        keep = self.reach_mask_at(ctx, indices, km) & (km <= km_rt)
        indices, km, minutes = self._funnel(ctx, indices[keep], km[keep], minutes[keep])
        self._adapt(code, km, complete=False)
        return Head(indices, km, minutes, km_rt, False)

    def _adapt(self, code: str, km: np.ndarray, complete: bool) -> None:
        """Next first look of the item: as far as this order's ``HEAD_HELPERS``-th helper (half
        again when this one had fewer and was not complete)."""
        if len(km) >= HEAD_HELPERS:
            self._head_km[code] = float(km[HEAD_HELPERS - 1])
        elif not complete:
            self._head_km[code] = self._head_km.get(code, 0.0) * 1.5

    def _rank(self, ctx: OrderContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Only helpers near the order are looked at (``near``); the tests below are the funnel's,
        # so the result equals the same tests over every helper (tests/matcher/test_near.py).
        indices, km_rt, minutes = self._reachable(ctx, self._skilled_takers(ctx.item))
        return self._funnel(ctx, indices, km_rt, minutes)

    def _funnel(
        self, ctx: OrderContext, indices: np.ndarray, km_rt: np.ndarray, minutes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Of skilled helpers within reach: those with room in their day and a free slot,
        nearest first (ties by index)."""
        keep = ctx.duration + minutes <= self._room[indices]
        if ctx.start_range is not None and keep.any():
            keep[keep] = self.fits_window(ctx, indices[keep], minutes[keep])
        indices, km_rt, minutes = indices[keep], km_rt[keep], minutes[keep]
        nearest = np.lexsort((indices, km_rt))  # by km, ties by index (as ``near`` orders them)
        return indices[nearest], km_rt[nearest], minutes[nearest]

    def fits_window(
        self, ctx: OrderContext, indices: np.ndarray, minutes: np.ndarray
    ) -> np.ndarray:
        """Vectorised ``start_ranges(...) != ()`` for the given helpers."""
        lo, hi = ctx.start_range or (0, 0)
        out = (minutes + 1) // 2
        back = minutes - out
        first = np.maximum(lo, self._window_start[indices] + out[:, None])
        last = np.minimum(hi, self._window_end[indices] - ctx.duration - back[:, None])
        return (first <= last).any(axis=1)


def start_ranges(ctx: OrderContext, helper: Helper, leg: Leg) -> tuple[tuple[int, int], ...] | None:
    """Start times (inclusive ranges) at which the visit with travel fits an availability window."""
    if ctx.start_range is None:
        return None
    lo, hi = ctx.start_range
    out = leg.minutes_out
    back = ctx.duration + leg.minutes_round_trip - out  # duration + minutes back
    ranges = []
    for window in helper.availability:
        first = max(lo, window.start + out)
        last = min(hi, window.end - back)
        if first <= last:
            ranges.append((first, last))
    return tuple(sorted(ranges)) if len(ranges) > 1 else tuple(ranges)


def build_contexts(
    problem: Problem, wait_boost: float, limit: int | None
) -> tuple[Eligibility, list[OrderContext]]:
    """Every order's context with its candidates: the ``limit`` nearest eligible helpers, plus the
    resident's circle, the nearest lead-skill holders and language speakers, and pinned helpers."""
    eligibility = Eligibility(problem, wait_boost)
    contexts = [eligibility.context(index, order) for index, order in enumerate(problem.orders)]
    eligibility.prepare_heads(contexts)
    for ctx in contexts:
        _fill_candidates(eligibility, ctx, limit)
    return eligibility, contexts


def _fill_candidates(eligibility: Eligibility, ctx: OrderContext, limit: int | None) -> None:
    """Walks the head of the order's ranking (``Eligibility.ranked_head``), going on only when it
    walks past it: the same list as a walk over the whole ranking."""
    head = eligibility.ranked_head(ctx)
    resident = eligibility.problem.resident(ctx.order.resident)
    circle = {eligibility.helper_index[h] for h in resident.circle}
    lead = eligibility.lead_mask(ctx.item)
    speaks = eligibility.speaker_mask(resident.language) if resident.language else None
    keep: list[Candidate] = []
    leads = speakers = 0
    position = 0
    while True:
        if position == len(head.indices):
            if head.complete:
                break
            head = eligibility.ranked_more(ctx)
            if position == len(head.indices):
                break
        index = int(head.indices[position])
        position += 1
        full = limit is not None and len(keep) >= max(limit, ctx.team)
        lacking_lead = ctx.needs_lead and leads < ctx.team
        lacking_speaker = ctx.needs_language and speakers < ctx.team
        if full and not (lacking_lead or lacking_speaker):
            break
        if full and not (
            (lacking_lead and lead[index])
            or (lacking_speaker and (speaks is None or speaks[index]))
        ):
            continue  # what ``candidate`` would say of has_lead and speaks, from the masks
        leg = Leg(float(head.km[position - 1]), int(head.minutes[position - 1]))
        candidate = eligibility.candidate(ctx, index, leg)
        keep.append(candidate)
        leads += candidate.has_lead
        speakers += candidate.speaks
    _add_circle(eligibility, ctx, keep, circle, head)
    ctx.candidates = keep
    _check_pins(eligibility, ctx)
    if not ctx.team_possible(keep):
        ctx.blocked_reason = funnel_reason(eligibility, ctx)


def ranked_members(
    eligibility: Eligibility, ctx: OrderContext, head: Head, members: set[int]
) -> list[tuple[int, Leg]]:
    """Those of ``members`` (helper indices) in the order's ranking, in its order, with their
    legs: found in ``head`` and, when it is not the whole ranking, beyond it."""
    if not members:
        return []
    at = {int(i): p for p, i in enumerate(head.indices.tolist()) if i in members}
    found = sorted(at.values())
    out = [(int(head.indices[p]), Leg(float(head.km[p]), int(head.minutes[p]))) for p in found]
    if not head.complete and len(found) < len(members):
        rest = np.array(sorted(members - at.keys()), dtype=np.int64)
        # Not in the head: farther than it reaches, so after it in the ranking's order.
        indices, km_rt, minutes = eligibility.ranked_among(ctx, rest)
        out += [
            (int(i), Leg(float(k), int(m)))
            for i, k, m in zip(indices.tolist(), km_rt.tolist(), minutes.tolist(), strict=True)
        ]
    return out


def _add_circle(
    eligibility: Eligibility,
    ctx: OrderContext,
    keep: list[Candidate],
    circle: set[int],
    head: Head,
) -> None:
    """Circle members are always candidates when eligible: continuity is an objective term."""
    missing = circle - {c.helper for c in keep}
    for index, leg in ranked_members(eligibility, ctx, head, missing):
        keep.append(eligibility.candidate(ctx, index, leg))


def _check_pins(eligibility: Eligibility, ctx: OrderContext) -> None:
    kept = {c.helper for c in ctx.candidates}
    for index in ctx.pinned:
        if index in kept:
            continue
        helper = eligibility.problem.helpers[index]
        leg = eligibility.travel.leg(helper, ctx.order)
        reason = pin_reason(eligibility, ctx, index, leg)
        if reason is None and leg is not None:
            ctx.candidates.append(eligibility.candidate(ctx, index, leg))
        else:
            ctx.pin_errors.append(
                f"order {ctx.order.id!r}: pinned helper {helper.id!r} breaks a hard rule ({reason})"
            )


def pin_reason(
    eligibility: Eligibility, ctx: OrderContext, index: int, leg: Leg | None
) -> Reason | None:
    """Why a pinned helper could not serve the order on their own account, or None."""
    helper = eligibility.problem.helpers[index]
    if not ctx.item.required_skills <= helper.skills:
        return Reason.NO_SKILL
    if leg is None or not eligibility.within_reach(ctx, index, leg):
        return Reason.OUT_OF_REACH
    candidate = eligibility.candidate(ctx, index, leg)
    if candidate.starts == ():
        return Reason.NOT_FREE
    if not eligibility.fits_limits(ctx, candidate):
        return Reason.AT_LIMIT
    return None


def funnel_reason(eligibility: Eligibility, ctx: OrderContext) -> Reason:
    """The first funnel stage at which no full team (with lead and language) can be formed."""
    return _funnel_stages(eligibility, ctx, whole=False)[0]


def before_limits(eligibility: Eligibility, ctx: OrderContext) -> tuple[Reason, np.ndarray]:
    """``funnel_reason``, and the helpers who pass every stage before the limits (skills, reach
    and time), as a mask over every helper."""
    return _funnel_stages(eligibility, ctx, whole=True)


def _funnel_stages(
    eligibility: Eligibility, ctx: OrderContext, whole: bool
) -> tuple[Reason, np.ndarray]:
    """The funnel's stages in order; unless ``whole``, only as far as the first that fails."""
    reason: Reason | None = None
    skilled = eligibility.skill_mask(ctx.item)
    if not eligibility.team_possible_among(ctx, skilled):
        reason = Reason.NO_SKILL
        if not whole:
            return reason, skilled
    indices, _, minutes = eligibility.near(ctx, skilled)
    passing = np.zeros(len(skilled), dtype=bool)
    passing[indices] = True
    if reason is None and not eligibility.team_possible_among(ctx, passing):
        reason = Reason.OUT_OF_REACH
        if not whole:
            return reason, passing
    if ctx.start_range is not None and len(indices):
        # Helpers with a start range (``start_ranges(...) != ()``), vectorised.
        passing[indices[~eligibility.fits_window(ctx, indices, minutes)]] = False
    if reason is None and not eligibility.team_possible_among(ctx, passing):
        reason = Reason.NOT_FREE
    return reason or Reason.AT_LIMIT, passing


def broken_pins(problem: Problem, wait_boost: float = 0.1) -> dict[str, list[tuple[str, Reason]]]:
    """Per order id, the pinned helpers who could not serve that order on their own account, with
    the rule they break (skills, reach, time, limits): what a caller must unpin before solving."""
    eligibility = Eligibility(problem, wait_boost)
    broken: dict[str, list[tuple[str, Reason]]] = {}
    for index, order in enumerate(problem.orders):
        if not order.pinned:
            continue
        ctx = eligibility.context(index, order)
        for helper_index in ctx.pinned:
            helper = problem.helpers[helper_index]
            leg = eligibility.travel.leg(helper, order)
            reason = pin_reason(eligibility, ctx, helper_index, leg)
            if reason is not None:
                broken.setdefault(order.id, []).append((helper.id, reason))
    return broken


def earliest_common_start(team: list[Candidate]) -> int | None:
    """The first start at which every member's visit, travel included, fits their free time
    (None for an untimed order or when the members share no start)."""
    if not team or team[0].starts is None:
        return None
    common = list(team[0].starts)
    for member in team[1:]:
        common = [
            (max(a, c), min(b, d))
            for a, b in common
            for c, d in member.starts or ()
            if max(a, c) <= min(b, d)
        ]
    return min((a for a, _ in common), default=None)
