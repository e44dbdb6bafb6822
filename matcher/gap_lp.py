"""The LP relaxation of a capacity-only day (a GAP), by column generation with GLOP.

The GAP's LP relaxation (each order split over its helpers, capacities in minutes) is the
classic lower bound at the size of the Yagiura instances: on types D and E it lies within
0.05 % of the optimum. Solving it whole is slow (GLOP needs 16-35 s on 80 x 1,600), so it is
solved by **column generation**: a restricted LP over each order's few cheapest pairs and the
current plan's pairs (so it is feasible), then every pair priced at once with numpy, the pairs
of negative reduced cost added, until none is left. Its capacity prices ``u`` (dual values,
>= 0) turn each pair's cost into a reduced cost ``c[o, j] + u[j] * a[o, j] - v[o]`` that ranks
an order's helpers far better than raw cost, and the bound is never taken from the LP solver's
own objective: it is the Lagrangian value of the prices,

    L(u) = sum over orders of min over helpers of (c[o, j] + u[j] * a[o, j])  -  sum u[j] * b[j]

which is a valid lower bound on the cost of every plan covering every order, for any ``u >= 0``
(the LP optimum at the LP's own prices), whether or not the generation finished. The per-helper
limit on orders and the fairness penalty are left out of the relaxation (both only raise the
true cost), so the bound stays valid with them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

FIRST_COLUMNS = 4  # each order's cheapest pairs in the first restricted LP
ADD_PER_ORDER = 3  # at most this many new pairs per order and round
TOLERANCE = 1e-7
SUBGRADIENT_STEPS = 200


@dataclass
class GapLp:
    bound: float  # Lagrangian value of ``prices``: a lower bound on every full plan's cost
    prices: np.ndarray  # u[j] >= 0 per helper, cost per minute of its capacity
    reduced: np.ndarray  # (orders, helpers) reduced costs >= 0, inf where not eligible
    value: np.ndarray  # (orders, helpers) the LP solution x (dense, mostly 0/1)
    exact: bool  # column generation finished: ``bound`` is the LP optimum
    rounds: int
    columns: int


def lagrangian(
    cost: np.ndarray, minutes: np.ndarray, eligible: np.ndarray, room: np.ndarray, u: np.ndarray
) -> tuple[float, np.ndarray]:
    """L(u) and the (orders, helpers) reduced costs for capacity prices ``u >= 0``."""
    priced = np.where(eligible, cost + minutes * u[None, :], np.inf)
    best = priced.min(axis=1)
    return float(best.sum() - float(u @ room)), priced - best[:, None]


def subgradient(
    cost: np.ndarray,
    minutes: np.ndarray,
    eligible: np.ndarray,
    room: np.ndarray,
    plan: np.ndarray,
    iterations: int = SUBGRADIENT_STEPS,
) -> np.ndarray:
    """Capacity prices from a few subgradient steps on L(u) (Polyak steps towards the plan's
    cost): a cheap approximation of the LP's prices, to pick the first restricted LP's pairs."""
    n, m = cost.shape
    target = float(np.where(eligible, cost, 0.0)[np.arange(n), plan].sum())
    u, best, best_u, scale, stale = np.zeros(m), -np.inf, np.zeros(m), 1.0, 0
    for _ in range(iterations):
        priced = np.where(eligible, cost + minutes * u[None, :], np.inf)
        pick = priced.argmin(axis=1)
        value = float(priced[np.arange(n), pick].sum() - u @ room)
        if value > best + 1e-9:
            best, best_u, stale = value, u, 0
        else:
            stale += 1
            if stale >= 20:
                scale, stale = scale / 2, 0
        used = np.bincount(pick, weights=minutes[np.arange(n), pick], minlength=m)
        g = used - room
        norm = float(g @ g)
        if norm == 0:
            break
        u = np.maximum(0.0, u + scale * max(target - value, 1e-6) / norm * g)
    return best_u


def solve_lp(
    cost: np.ndarray,
    minutes: np.ndarray,
    eligible: np.ndarray,
    room: np.ndarray,
    plan: np.ndarray,
    deadline: float,
) -> GapLp | None:
    """The LP relaxation of assigning every order (each row of ``eligible`` has a helper) within
    ``room``; ``plan[o]`` is a feasible assignment (column per order) that keeps the first
    restricted LP feasible. None when the LP solver fails or the deadline passes first."""
    n, m = cost.shape
    if n == 0 or m == 0 or (plan < 0).any():
        return None
    costs = np.where(eligible, cost, np.inf).astype(np.float64)
    mins = minutes.astype(np.float64)
    rooms = room.astype(np.float64)
    u0 = subgradient(costs, mins, eligible, rooms, plan)
    _, first = lagrangian(costs, mins, eligible, rooms, u0)
    cheapest = np.argsort(first, axis=1, kind="stable")[:, : min(FIRST_COLUMNS, m)]
    active = np.zeros((n, m), dtype=bool)
    rows = np.repeat(np.arange(n), cheapest.shape[1])
    active[rows, cheapest.ravel()] = eligible[rows, cheapest.ravel()]
    active[np.arange(n), plan] = True

    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return None
    assign = [solver.Constraint(1.0, 1.0) for _ in range(n)]
    capacity = [solver.Constraint(-solver.infinity(), float(rooms[j])) for j in range(m)]
    objective = solver.Objective()
    objective.SetMinimization()
    variables: dict[tuple[int, int], pywraplp.Variable] = {}

    def add(pairs: np.ndarray) -> None:
        for o, j in pairs.tolist():
            var = solver.NumVar(0.0, 1.0, "")
            variables[o, j] = var
            assign[o].SetCoefficient(var, 1.0)
            capacity[j].SetCoefficient(var, float(mins[o, j]))
            objective.SetCoefficient(var, float(costs[o, j]))

    add(np.argwhere(active))
    best_bound, best_u = -np.inf, np.zeros(m)
    rounds, exact = 0, False
    while time.perf_counter() < deadline:
        rounds += 1
        remaining = deadline - time.perf_counter()
        solver.SetTimeLimit(max(1, int(remaining * 1000)))
        if solver.Solve() != pywraplp.Solver.OPTIMAL:
            break
        u = np.maximum(0.0, -np.array([c.dual_value() for c in capacity]))
        v = np.array([c.dual_value() for c in assign])
        bound, _ = lagrangian(costs, mins, eligible, rooms, u)
        if bound > best_bound:
            best_bound, best_u = bound, u
        priced = costs + mins * u[None, :] - v[:, None]
        priced[active] = np.inf
        negative = priced < -TOLERANCE
        if not negative.any():
            exact = True
            break
        # each order's most negative new pairs
        order = np.argsort(np.where(negative, priced, np.inf), axis=1, kind="stable")
        pick = order[:, :ADD_PER_ORDER]
        chosen = np.take_along_axis(negative, pick, axis=1)
        new = np.argwhere(chosen)
        pairs = np.stack([new[:, 0], pick[new[:, 0], new[:, 1]]], axis=1)
        active[pairs[:, 0], pairs[:, 1]] = True
        add(pairs)
    if best_bound == -np.inf:
        return None
    _, reduced = lagrangian(costs, mins, eligible, rooms, best_u)
    value = np.zeros((n, m))
    for (o, j), var in variables.items():
        value[o, j] = var.solution_value()
    return GapLp(best_bound, best_u, reduced, value, exact, rounds, len(variables))
