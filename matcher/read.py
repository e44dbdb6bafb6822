"""Reading Generalized Assignment Problem (GAP) files and expressing them as Qunbang problems.

GAP: assign every job j to exactly one agent i, such that each agent's resource use
``sum_j resource[i][j]`` stays within ``capacity[i]``, minimising ``sum cost[i][j]``.

File formats (whitespace-separated integers; lines wrap arbitrarily, so both are token streams):

* OR-Library (``gap1..gap12``, ``gapa..gapd``): ``P``, then P problems.
* Yagiura collection (``c10400``, ``e05100`` ...): exactly one problem, no leading ``P``.

One problem is ``m n``, then cost (m rows of n), resource (m rows of n), capacity (m values).

Mapping into the matcher (``gap_to_problem``): each agent is a helper whose daily minutes are
its capacity, each job is one untimed order of zero duration, and the (agent, job) travel leg
carries ``minutes_round_trip = resource`` and ``km_round_trip = cost``. With travel as the only
objective term, Qunbang's cost stage minimises exactly the GAP cost once every order is covered.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from matcher.model import (
    Catalogue,
    Category,
    Helper,
    HelperKind,
    Location,
    MatrixTravel,
    Order,
    Problem,
    Resident,
    ResidentCategory,
    ServiceItem,
    TravelLeg,
)
from matcher.result import Result

GAP_ITEM = "GAP_JOB"
# Every helper and resident sits at one point; reach is never the limiting factor.
GAP_LOCATION = Location(lat=40.8, lon=111.7)
GAP_RADIUS_KM = 1e6
# The largest literature instances (Yagiura type E, 80 x 1600) are well under 1 MB.
MAX_GAP_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class GapInstance:
    """One GAP problem: ``agents`` (m) x ``jobs`` (n) matrices ``cost`` and ``resource``, and the
    ``capacity`` of every agent. Matrices are indexed ``[agent][job]``, both 0-based."""

    name: str
    agents: int
    jobs: int
    cost: tuple[tuple[int, ...], ...]
    resource: tuple[tuple[int, ...], ...]
    capacity: tuple[int, ...]

    def __post_init__(self) -> None:
        where = f"GAP instance {self.name!r}"
        if self.agents < 1 or self.jobs < 1:
            raise ValueError(f"{where}: needs at least one agent and one job")
        for label, matrix in (("cost", self.cost), ("resource", self.resource)):
            if len(matrix) != self.agents or any(len(row) != self.jobs for row in matrix):
                raise ValueError(f"{where}: field {label!r}: not {self.agents} x {self.jobs}")
        if len(self.capacity) != self.agents:
            raise ValueError(f"{where}: field 'capacity': not {self.agents} values")


# ----------------------------------------------------------------------------- reading


class _Tokens:
    """Integer tokens of one file with their 1-based positions, for error messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():  # a device (/dev/zero) or FIFO would never end or never start
            raise ValueError(f"{path}: not a regular file")
        if path.stat().st_size > MAX_GAP_BYTES:
            raise ValueError(f"{path}: larger than {MAX_GAP_BYTES:,} bytes")
        try:
            self.tokens = path.read_text(encoding="ascii").split()
        except UnicodeDecodeError as error:
            raise ValueError(
                f"{path}: byte {error.start + 1}: not a text file of integers"
            ) from None
        self.position = 0  # index of the next token

    def take(self, what: str, minimum: int = 0) -> int:
        if self.position >= len(self.tokens):
            raise ValueError(
                f"{self.path}: token {self.position + 1}: file ends while reading {what}"
            )
        token = self.tokens[self.position]
        self.position += 1
        try:
            value = int(token)
        except ValueError:
            raise ValueError(
                f"{self.path}: token {self.position}: expected an integer for {what}, "
                f"found {token!r}"
            ) from None
        if value < minimum:
            raise ValueError(
                f"{self.path}: token {self.position}: {what} is {value}, must be >= {minimum}"
            )
        return value

    def take_matrix(self, what: str, rows: int, columns: int) -> tuple[tuple[int, ...], ...]:
        return tuple(
            tuple(self.take(f"{what}[{i}][{j}]") for j in range(columns)) for i in range(rows)
        )

    def expect_end(self) -> None:
        if self.position < len(self.tokens):
            raise ValueError(
                f"{self.path}: token {self.position + 1}: unexpected data after the last problem "
                f"({len(self.tokens) - self.position} tokens left)"
            )


def _read_problem(tokens: _Tokens, name: str) -> GapInstance:
    agents = tokens.take(f"{name}: number of agents m", minimum=1)
    jobs = tokens.take(f"{name}: number of jobs n", minimum=1)
    cost = tokens.take_matrix(f"{name}: cost", agents, jobs)
    resource = tokens.take_matrix(f"{name}: resource", agents, jobs)
    capacity = tuple(tokens.take(f"{name}: capacity[{i}]") for i in range(agents))
    return GapInstance(name, agents, jobs, cost, resource, capacity)


def gap_problem_name(stem: str, index: int, agents: int, jobs: int) -> str:
    """The literature name of problem ``index`` (1-based) of OR-Library file ``stem``.

    ``gapN`` problem k is ``cMN-k`` (gap1 -> c515-1 .. c515-5); ``gapa``..``gapd`` problems are
    named by type and size (a05100, a05200, a10100, a10200, a20100, a20200); other files give
    ``stem-k``.
    """
    if re.fullmatch(r"gap\d+", stem):
        return f"c{agents}{jobs}-{index}"
    letter = re.fullmatch(r"gap([a-e])", stem)
    if letter:
        return f"{letter.group(1)}{agents:02d}{jobs}"
    return f"{stem}-{index}"


def read_gap_file(path: str | Path) -> list[GapInstance]:
    """Every problem of an OR-Library GAP file (leading problem count P, then P problems).

    Raises ``ValueError`` naming the file and the 1-based token position on malformed input.
    """
    path = Path(path)
    tokens = _Tokens(path)
    count = tokens.take("the number of problems P", minimum=1)
    problems: list[GapInstance] = []
    for index in range(1, count + 1):
        problem = _read_problem(tokens, f"problem {index}")
        name = gap_problem_name(path.stem, index, problem.agents, problem.jobs)
        problems.append(replace(problem, name=name))
    tokens.expect_end()
    return problems


def read_gap_single(path: str | Path) -> GapInstance:
    """The one problem of a Yagiura-collection file (no leading P), named by the file stem."""
    path = Path(path)
    tokens = _Tokens(path)
    problem = _read_problem(tokens, path.stem)
    tokens.expect_end()
    return problem


# ----------------------------------------------------------------------------- to the matcher


def agent_id(agent: int) -> str:
    return f"agent-{agent}"


def job_id(job: int) -> str:
    return f"job-{job}"


def _gap_catalogue() -> Catalogue:
    category = Category(
        code="gap", name_zh="广义指派", name_en="Generalized assignment", paid=False
    )
    # 1 min is the model's minimum item duration; every order overrides it with 0.
    item = ServiceItem(
        code=GAP_ITEM,
        name_zh="任务",
        name_en="GAP job",
        category="gap",
        paid=False,
        duration_min=1,
    )
    return Catalogue(skills=(), categories=(category,), items=(item,))


def gap_to_problem(instance: GapInstance, date: dt.date) -> Problem:
    """``instance`` as a Qunbang problem on ``date``: agents -> helpers (max_minutes = capacity),
    jobs -> untimed zero-duration orders, and one matrix leg per (agent, job) with
    ``minutes_round_trip = resource`` and ``km_round_trip = cost``."""
    helpers = tuple(
        Helper(
            id=agent_id(i),
            kind=HelperKind.WARM_HEARTED_RESIDENT,
            location=GAP_LOCATION,
            max_orders=instance.jobs,
            max_minutes=instance.capacity[i],
            radius_km=GAP_RADIUS_KM,
            committed_minutes=0,
        )
        for i in range(instance.agents)
    )
    residents = tuple(
        Resident(id=f"resident-{j}", category=ResidentCategory.LIVING_ALONE, location=GAP_LOCATION)
        for j in range(instance.jobs)
    )
    orders = tuple(
        Order(
            id=job_id(j),
            resident=f"resident-{j}",
            item=GAP_ITEM,
            date=date,
            window=None,
            duration_min=0,
        )
        for j in range(instance.jobs)
    )
    legs = tuple(
        TravelLeg(
            helper=agent_id(i),
            order=job_id(j),
            km_round_trip=float(instance.cost[i][j]),
            minutes_round_trip=instance.resource[i][j],
        )
        for i in range(instance.agents)
        for j in range(instance.jobs)
    )
    return Problem(
        date=date,
        catalogue=_gap_catalogue(),
        helpers=helpers,
        residents=residents,
        orders=orders,
        travel=MatrixTravel(legs=legs),
    )


# ----------------------------------------------------------------------------- checking


def gap_assignment(instance: GapInstance, result: Result) -> list[int | None]:
    """The agent of every job (``None`` when unmatched) read from ``result``.

    Raises ``ValueError`` when an assignment names an unknown order or helper, or a job is given
    to other than exactly one helper, or appears twice.
    """
    agents = {agent_id(i): i for i in range(instance.agents)}
    jobs = {job_id(j): j for j in range(instance.jobs)}
    agent_of: list[int | None] = [None] * instance.jobs
    for assignment in result.assignments:
        if assignment.order not in jobs:
            raise ValueError(f"assignment of unknown order {assignment.order!r}")
        job = jobs[assignment.order]
        if agent_of[job] is not None:
            raise ValueError(f"order {assignment.order!r} is assigned twice")
        if len(assignment.helpers) != 1 or assignment.helpers[0] not in agents:
            raise ValueError(
                f"order {assignment.order!r}: needs exactly one known helper, "
                f"got {assignment.helpers!r}"
            )
        agent_of[job] = agents[assignment.helpers[0]]
    return agent_of


def gap_cost(instance: GapInstance, agent_of: Sequence[int | None]) -> int:
    """Sum of ``cost[agent][job]`` over the assigned jobs (unassigned jobs add nothing)."""
    return sum(instance.cost[i][j] for j, i in enumerate(agent_of) if i is not None)


def gap_violations(instance: GapInstance, agent_of: Sequence[int | None]) -> list[str]:
    """Every way ``agent_of`` (job -> agent index) breaks the GAP, independent of any solver:
    unassigned jobs, unknown agents and exceeded capacities. Empty when feasible."""
    if len(agent_of) != instance.jobs:
        return [f"{len(agent_of)} jobs given, the instance has {instance.jobs}"]
    violations: list[str] = []
    load = [0] * instance.agents
    for j, i in enumerate(agent_of):
        if i is None:
            violations.append(f"job {j}: not assigned")
        elif not 0 <= i < instance.agents:
            violations.append(f"job {j}: unknown agent {i}")
        else:
            load[i] += instance.resource[i][j]
    for i, (used, capacity) in enumerate(zip(load, instance.capacity, strict=True)):
        if used > capacity:
            violations.append(f"agent {i}: uses {used}, capacity {capacity}")
    return violations


def gap_solution_cost(instance: GapInstance, result: Result) -> int:
    """The GAP cost of ``result``'s assignments (sum of ``cost`` over assigned jobs)."""
    return gap_cost(instance, gap_assignment(instance, result))


def gap_result_violations(instance: GapInstance, result: Result) -> list[str]:
    """``gap_violations`` of ``result``'s assignments; malformed assignments are violations too."""
    try:
        agent_of = gap_assignment(instance, result)
    except ValueError as error:
        return [str(error)]
    return gap_violations(instance, agent_of)
