"""One order at a time: its cheapest team with the rest of the plan held.

The neighbourhood search (``matcher.lns``) improves a plan by re-solving windows of 20-60 orders
with CP-SAT, a few hundred windows in a nightly's 20 s on a street of 10,000 orders: about one
sweep of the street. Many of the cheaper plans it finds are simpler than a window: one order's
team swapped for cheaper helpers who are free at its start, or at another start. This module
makes those moves without a model, so the search makes them over the whole street in a fraction
of a second around its windows.

Re-planning one order with every other visit of the plan held is a window with one free order,
and with one free order that model reduces to ``matcher.single.best_team`` over the order's
candidates whose day, as the plan books it, still has room for the visit, each cut to the starts
at which it fits around their other visits (``matcher.greedy.fitting``, the hand rule's booking
rule), each costing their ``pair_cost`` plus the load penalty of one more order (the k-th order
of a helper's day costs k-1 units: ``matcher.cpsat.objective.plan_cost``). A move is therefore an
optimum of the one-order window CP-SAT would solve, and a test compares the two on random
streets (``tests/matcher/test_moves.py``).

Two moves of two orders build on it: an open order that no team fits gets one once another order
moves off one of its candidates (``insert_by_moving``), and an order takes a cheaper helper that
another order gives up (``cheaper_by_moving``). At town 10,000 from a 20 s solve's plan these
covered 232 more orders (+0.8 %) in 0.14 CPU s and took 6.2 % off the cost in 3.9 CPU s
(bench/README.md, "Large streets", 2026-11-27 08:37).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from matcher.candidates import Candidate, OrderContext
from matcher.cpsat.objective import COST_SCALE, CostsByHelper, PairCosts
from matcher.greedy import HelperDay, book, fitting, unbook
from matcher.model import Problem
from matcher.params import ObjectiveWeights
from matcher.single import Plan, best_team


class OrderMoves:
    """Every helper's day as ``plans`` books it, kept up to date move by move."""

    def __init__(
        self,
        problem: Problem,
        contexts: list[OrderContext],
        plans: Mapping[int, Plan],
        weights: ObjectiveWeights,
        costs: CostsByHelper | None = None,
    ) -> None:
        """``costs``: each order's candidates' ``pair_cost`` (order -> helper -> scaled
        cost), when the caller keeps them (``PairCosts``)."""
        self.problem, self.contexts, self.weights = problem, contexts, weights
        self.days = [
            HelperDay(h.max_orders, h.max_minutes - h.committed_minutes) for h in problem.helpers
        ]
        self.load = [0] * len(problem.helpers)
        self.unit = round(COST_SCALE * weights.fairness)
        self._costs = costs if costs is not None else PairCosts(problem, contexts, weights)
        self._by_helper: dict[int, dict[int, Candidate]] = {}
        for order, plan in plans.items():
            self._book(order, plan)

    def cost(self, order: int, plan: Plan) -> int:
        """The scaled cost the order's booked ``plan`` adds to the plan's: its members'
        ``pair_cost`` and the load penalty of their order beyond the others they serve."""
        costs = self._pair_costs(order)
        return sum(costs[h] + self.unit * (self.load[h] - 1) for h in plan[0])

    def best(self, order: int, plan: Plan | None) -> tuple[Plan, int] | None:
        """The order's cheapest full team and start with every other booked visit held, and its
        scaled cost (as ``cost`` counts it once booked). None when no full team fits or, for a
        booked ``plan`` (None: the order is not planned; tried first at its start), when no
        team could cost less than it."""
        if plan is None:
            return self._best_free(order, None)
        if self._cheapest_possible(order, plan) >= self.cost(order, plan):
            return None  # no team could cost less, whatever the starts
        self._unbook(order, plan)
        try:
            return self._best_free(order, plan[1])
        finally:
            self._book(order, plan)

    def insertion(
        self, order: int, plans: Mapping[int, Plan], visits_of: Mapping[int, set[int]]
    ) -> list[tuple[int, Plan | None, Plan]] | None:
        """For an unplanned order: its cheapest team that fits (``best``), else a team that
        fits once one other order moves (``insert_by_moving``); the moves, or None."""
        found = self.best(order, None)
        if found is not None:
            return [(order, None, found[0])]
        return self.insert_by_moving(order, plans, visits_of)

    def insert_by_moving(
        self, order: int, plans: Mapping[int, Plan], visits_of: Mapping[int, set[int]]
    ) -> list[tuple[int, Plan | None, Plan]] | None:
        """For an unplanned order no team fits: one planned order moved off one of its candidate
        helpers to a team without them (its cheapest, at any start), after which the order
        fits. The two moves (order, old plan, new plan), the other order's first, to be made
        with ``move`` in that order; None when no such pair is found. ``visits_of``: helper ->
        the planned orders they serve."""
        for candidate in self.contexts[order].candidates:
            helper = candidate.helper
            for other in sorted(visits_of.get(helper, ())):
                if helper in self.contexts[other].pinned:
                    continue
                old = plans[other]
                self._unbook(other, old)
                try:
                    moved = self._best_free(other, old[1], without=helper)
                    if moved is None:
                        continue
                    self._book(other, moved[0])
                    inserted = self._best_free(order, None)
                    self._unbook(other, moved[0])
                    if inserted is not None:
                        return [(other, old, moved[0]), (order, None, inserted[0])]
                finally:
                    self._book(other, old)
        return None

    def cheaper_by_moving(
        self, order: int, plans: Mapping[int, Plan], visits_of: Mapping[int, set[int]]
    ) -> tuple[list[tuple[int, Plan | None, Plan]], int] | None:
        """For a planned order: one other planned order moved off a candidate helper who costs
        the order less than one of its members (to its cheapest team without them), after which
        the order's cheapest team costs less than before by more than the move adds. The two
        moves (the other order's first) and the saving (scaled), or None."""
        plan = plans[order]
        costs = self._pair_costs(order)
        current = self.cost(order, plan)
        dearest = max(costs[h] + self.unit * (self.load[h] - 1) for h in plan[0])
        for candidate in self.contexts[order].candidates:
            helper = candidate.helper
            if helper in plan[0] or costs[helper] + self.unit * (self.load[helper] - 1) >= dearest:
                continue  # taking them over, at their load without the other order, saves nothing
            for other in sorted(visits_of.get(helper, ())):
                if other == order or helper in self.contexts[other].pinned:
                    continue
                found = self._moved_pair(order, plan, current, other, plans[other], helper)
                if found is not None:
                    return found
        return None

    def _moved_pair(
        self, order: int, plan: Plan, current: int, other: int, old: Plan, helper: int
    ) -> tuple[list[tuple[int, Plan | None, Plan]], int] | None:
        """``cheaper_by_moving`` for one other order and helper: both orders unbooked, the other
        one's cheapest team without ``helper``, then the order's cheapest; the days restored."""
        self._unbook(order, plan)
        before = current + self.cost(other, old)  # what unbooking both takes off, exactly
        self._unbook(other, old)
        try:
            moved = self._best_free(other, old[1], without=helper)
            if moved is None:
                return None
            self._book(other, moved[0])
            try:
                found = self._best_free(order, plan[1])
            finally:
                self._unbook(other, moved[0])
            if found is None or found[1] + moved[1] >= before:
                return None
            changes: list[tuple[int, Plan | None, Plan]] = [
                (other, old, moved[0]),
                (order, plan, found[0]),
            ]
            return changes, before - found[1] - moved[1]
        finally:
            self._book(order, plan)
            self._book(other, old)

    def best_among(self, order: int, helpers: frozenset[int]) -> tuple[Plan, int] | None:
        """For an order not booked: its cheapest full team of ``helpers`` alone (at its
        cheapest start, every booked visit held) and its scaled cost; None when none fits."""
        return self._best_free(order, None, among=helpers)

    def _best_free(
        self,
        order: int,
        preferred: int | None,
        without: int | None = None,
        among: frozenset[int] | None = None,
    ) -> tuple[Plan, int] | None:
        """``best`` for an order not booked, its candidates but ``without`` considered (only
        those ``among``, when given)."""
        ctx = self.contexts[order]
        fits = [
            fitted
            for c in ctx.candidates
            if c.helper != without
            and (among is None or c.helper in among)
            and (fitted := fitting(ctx, c, self.days[c.helper])) is not None
        ]
        if len(fits) < ctx.team:
            return None
        costs = self._pair_costs(order)
        marginal = {c.helper: costs[c.helper] + self.unit * self.load[c.helper] for c in fits}
        return best_team(
            self.problem, replace(ctx, candidates=fits), self.weights, preferred, marginal
        )

    def _cheapest_possible(self, order: int, plan: Plan) -> int:
        """A lower bound on the cost of any team for the booked order: its team size of the
        cheapest candidates, their load penalty counted without this order, starts ignored."""
        costs, members = self._pair_costs(order), set(plan[0])
        marginal = sorted(
            cost + self.unit * (self.load[helper] - (helper in members))
            for helper, cost in costs.items()
        )
        return sum(marginal[: self.contexts[order].team])

    def move(self, order: int, old: Plan | None, new: Plan) -> None:
        """Book ``new`` for the order instead of ``old`` (None: it was not planned)."""
        if old is not None:
            self._unbook(order, old)
        self._book(order, new)

    def _book(self, order: int, plan: Plan) -> None:
        ctx, by_helper = self.contexts[order], self._candidates(order)
        for helper in plan[0]:
            book(self.days[helper], ctx, by_helper[helper], plan[1])
            self.load[helper] += 1

    def _unbook(self, order: int, plan: Plan) -> None:
        ctx, by_helper = self.contexts[order], self._candidates(order)
        for helper in plan[0]:
            unbook(self.days[helper], ctx, by_helper[helper], plan[1])
            self.load[helper] -= 1

    def _candidates(self, order: int) -> dict[int, Candidate]:
        found = self._by_helper.get(order)
        if found is None:
            found = {c.helper: c for c in self.contexts[order].candidates}
            self._by_helper[order] = found
        return found

    def _pair_costs(self, order: int) -> Mapping[int, int]:
        return self._costs[order]
