"""A starting plan for capacity-only days: largest regret first (Martello and Toth's heuristic).

When every order is untimed, needs one helper and has no pins, lead skill or language, the day is
a generalized assignment problem: each order uses minutes of one helper's day, and the hand rule
(nearest helper first) strands many orders when helpers' minutes are tight. Here an order's
*regret* is how much worse its second-best helper with room is than its best; the order with the
largest regret goes to its best helper first, so orders with few good options are placed before
those options are taken. Several measures of "best" are tried (minutes relative to the helper's
room, minutes, cost, and the share of room plus a few weights of relative cost) and the plan
covering most weighted demand, then cheapest, is kept; a pass of single moves to cheaper helpers
with room follows. The mixed measures matter on Yagiura's type E, where cheap helpers are the
ones with little room: there they bring the start from about five times the best known cost to
within 2-30 % of it (e201600: 1,125,674 to 184,008 against 180,645). CP-SAT starts from this
plan when it is better than the hand rule's (``matcher.solve``).
"""

from __future__ import annotations

import numpy as np

from matcher.candidates import OrderContext
from matcher.cpsat.objective import pair_cost
from matcher.cpsat.solver import Plan
from matcher.model import Problem
from matcher.params import ObjectiveWeights

MIXES = (0.1, 0.3, 1.0, 3.0)  # weights of relative cost added to the share of a helper's room
MAX_CELLS = 4_000_000  # orders x helpers beyond which the dense arrays are not worth it


def applies(contexts: list[OrderContext]) -> bool:
    """Untimed single-helper orders without pins or team conditions only."""
    return bool(contexts) and all(
        c.start_range is None
        and c.team == 1
        and not c.pinned
        and not c.needs_lead
        and not c.needs_language
        for c in contexts
    )


def regret_plan(
    problem: Problem, contexts: list[OrderContext], weights: ObjectiveWeights
) -> dict[int, Plan] | None:
    """The best of the largest-regret plans, or None when the heuristic does not apply."""
    if not applies(contexts):
        return None
    helpers = sorted({c.helper for ctx in contexts for c in ctx.candidates})
    column = {h: j for j, h in enumerate(helpers)}
    n, m = len(contexts), len(helpers)
    if n * m > MAX_CELLS or m == 0:
        return None
    minutes = np.full((n, m), np.inf)
    cost = np.full((n, m), np.inf)
    for ctx in contexts:
        for candidate in ctx.candidates:
            j = column[candidate.helper]
            minutes[ctx.index, j] = ctx.duration + candidate.leg.minutes_round_trip
            cost[ctx.index, j] = pair_cost(problem, ctx, candidate, weights)
    people = [problem.helpers[h] for h in helpers]
    room = np.array([p.max_minutes - p.committed_minutes for p in people], dtype=float)
    orders = np.array([p.max_orders for p in people], dtype=np.int64)
    weight = np.array([c.weight for c in contexts], dtype=float)
    best: tuple[float, float, np.ndarray] | None = None
    share = minutes / np.maximum(room, 1)[None, :]
    spread = cost / max(1.0, float(np.nanmax(np.where(np.isfinite(cost), cost, 0.0))))
    measures = [-share, -minutes, -cost] + [-(share + mix * spread) for mix in MIXES]
    for desirability in measures:
        agent = _largest_regret(desirability, minutes, room.copy(), orders.copy())
        _improve(agent, minutes, cost, room.copy(), orders.copy())
        covered = agent >= 0
        value = (float(weight[covered].sum()), -float(cost[covered, agent[covered]].sum()))
        if best is None or value > best[:2]:
            best = (*value, agent)
    assert best is not None
    agent = best[2]
    return {o: ([helpers[agent[o]]], None) for o in range(n) if agent[o] >= 0}


def _largest_regret(
    desirability: np.ndarray, minutes: np.ndarray, room: np.ndarray, orders: np.ndarray
) -> np.ndarray:
    n, m = minutes.shape
    value = np.where(np.isfinite(minutes) & (minutes <= room[None, :]), desirability, -np.inf)
    agent = np.full(n, -1, dtype=np.int64)
    open_rows = np.ones(n, dtype=bool)
    top, second = _top_two(value)
    for _ in range(n):
        first = value[np.arange(n), top]
        placeable = open_rows & np.isfinite(first)
        if not placeable.any():
            break
        runner = value[np.arange(n), second] if m > 1 else np.full(n, -np.inf)
        with np.errstate(invalid="ignore"):  # rows with no helper left: masked below
            regret = np.where(np.isfinite(runner), first - runner, np.inf)
        regret[~placeable] = -np.inf
        o = int(np.argmax(regret))
        j = int(top[o])
        agent[o], open_rows[o] = j, False
        value[o, :] = -np.inf
        room[j] -= minutes[o, j]
        orders[j] -= 1
        shut = np.isfinite(value[:, j]) & ((minutes[:, j] > room[j]) | (orders[j] <= 0))
        if shut.any():
            value[shut, j] = -np.inf
            touched = shut & ((top == j) | (second == j))
            if touched.any():
                rows = np.flatnonzero(touched)
                top[rows], second[rows] = _top_two(value[rows])
    return agent


def _top_two(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if value.shape[1] == 1:
        zeros = np.zeros(value.shape[0], dtype=np.int64)
        return zeros, zeros
    part = np.argpartition(-value, 1, axis=1)[:, :2]
    rows = np.arange(value.shape[0])[:, None]
    order = np.argsort(-value[rows, part], axis=1, kind="stable")
    ranked = np.take_along_axis(part, order, axis=1)
    return ranked[:, 0], ranked[:, 1]


def _improve(
    agent: np.ndarray,
    minutes: np.ndarray,
    cost: np.ndarray,
    room: np.ndarray,
    orders: np.ndarray,
) -> None:
    """Single moves to a cheaper helper with room, until none is left (at most a few passes)."""
    for o in np.flatnonzero(agent >= 0):
        room[agent[o]] -= minutes[o, agent[o]]
        orders[agent[o]] -= 1
    for _ in range(5):
        moved = False
        for o in np.flatnonzero(agent >= 0):
            j = agent[o]
            fits = (minutes[o] <= room) & (orders > 0) & (cost[o] < cost[o, j])
            if not fits.any():
                continue
            k = int(np.argmin(np.where(fits, cost[o], np.inf)))
            room[j] += minutes[o, j]
            orders[j] += 1
            room[k] -= minutes[o, k]
            orders[k] -= 1
            agent[o], moved = k, True
        if not moved:
            break
