"""The largest-regret starting plan for capacity-only days (``matcher.regret``): valid, and
complete on GAP instances where the hand rule strands jobs."""

from __future__ import annotations

import datetime as dt
import itertools

from matcher.candidates import build_contexts
from matcher.greedy import greedy_assign
from matcher.params import ObjectiveWeights, SolveParams
from matcher.read import GapInstance, gap_to_problem
from matcher.regret import applies, regret_plan
from matcher.solve import solve
from matcher.verify import assert_valid

WEIGHTS = ObjectiveWeights(travel=1, continuity=0, fairness=0, preference=0)
PARAMS = SolveParams(time_limit_s=5, workers=1, candidate_limit=None, weights=WEIGHTS)


def _tight() -> GapInstance:
    """Two agents; cheap agent 0 fits only the two big jobs, and the hand rule (cheapest
    first) fills it with small ones and strands a big one."""
    return GapInstance(
        name="tight",
        agents=2,
        jobs=4,
        cost=((1, 1, 1, 1), (5, 5, 5, 5)),
        resource=((1, 1, 5, 5), (2, 2, 9, 9)),
        capacity=(10, 4),
    )


def _brute_best(instance: GapInstance) -> tuple[int, int]:
    """(most jobs assigned, least cost among those) over every assignment."""
    best = (0, 0)
    for choice in itertools.product(range(-1, instance.agents), repeat=instance.jobs):
        load = [0] * instance.agents
        for j, i in enumerate(choice):
            if i >= 0:
                load[i] += instance.resource[i][j]
        if any(load[i] > instance.capacity[i] for i in range(instance.agents)):
            continue
        jobs = sum(i >= 0 for i in choice)
        cost = sum(instance.cost[i][j] for j, i in enumerate(choice) if i >= 0)
        best = max(best, (jobs, -cost))
    return best[0], -best[1]


def test_regret_plan_is_valid_and_beats_the_hand_rule_on_a_tight_instance() -> None:
    """On a tight two-agent instance the regret plan keeps capacities, assigns every job where
    the hand rule leaves one out, and solve then reaches the brute-force optimum."""
    instance = _tight()
    problem = gap_to_problem(instance, dt.date(2026, 1, 5))
    eligibility, contexts = build_contexts(problem, PARAMS.wait_boost, None)
    assert applies(contexts)
    plan = regret_plan(problem, contexts, WEIGHTS)
    assert plan is not None
    greedy = greedy_assign(problem, eligibility, contexts)
    assert len(plan) == instance.jobs > len(greedy.assignments)
    load = [0, 0]
    for j, (team, _) in plan.items():
        agent = int(problem.helpers[team[0]].id.split("-")[1])
        load[agent] += instance.resource[agent][j]
    assert all(load[i] <= instance.capacity[i] for i in range(2))
    result = solve(problem, PARAMS)
    assert_valid(problem, result)
    jobs, cost = _brute_best(instance)
    assert result.covered_orders == jobs
    assert result.stages[-1].objective == cost


def test_regret_does_not_apply_to_timed_streets() -> None:
    """Streets with timed orders or teams keep the hand rule's start (the heuristic declines)."""
    from matcher.generator import generate_street, preset

    problem = generate_street(preset("tiny", seed=0))
    _, contexts = build_contexts(problem, 0.1, 4)
    assert not applies(contexts)
    assert regret_plan(problem, contexts, WEIGHTS) is None
