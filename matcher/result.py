"""What a solve returns: status, per-stage objectives and bounds, assignments, unmatched orders."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from matcher.model import Frozen
from matcher.params import ObjectiveWeights


class Status(StrEnum):
    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    UNKNOWN = "UNKNOWN"


class Reason(StrEnum):
    """Why an order was left unmatched, most basic cause first."""

    NO_SKILL = "no_skill"
    OUT_OF_REACH = "out_of_reach"
    NOT_FREE = "not_free"
    AT_LIMIT = "at_limit"
    OUTRANKED = "outranked"


class Stage(Frozen):
    """One lexicographic stage: ``coverage`` (maximised) or ``cost`` (minimised)."""

    name: str
    sense: str
    status: Status
    objective: float
    bound: float
    gap: float
    runtime_s: float


class Assignment(Frozen):
    order: str
    helpers: tuple[str, ...]
    start: int | None  # minutes after midnight; None for untimed orders


class Window(Frozen):
    """A stretch of the day, minutes after midnight."""

    start: int
    end: int


class StepKind(StrEnum):
    """One change an office can make so that an unmatched order could be covered
    (``matcher.advice``); the order here is the order of preference."""

    ASSIGN_NOW = "assign_now"  # a team is free as things stand: send it by hand
    RAISE_LIMIT = "raise_limit"  # ask ``helper`` (at their daily limit) to take one more
    EXTEND_RADIUS = "extend_radius"  # ask ``helper`` to go ``km``, beyond their radius
    MOVE_WINDOW = "move_window"  # move the order's window to ``window``
    WIDEN_DISTANCE = "widen_distance"  # widen the item's maximum distance to ``km``
    SMALLER_TEAM = "smaller_team"  # send a team of ``team_size`` instead
    ADD_SKILL = "add_skill"  # ``helper`` would fit with ``skills`` / ``language``
    FIND_HELPER = "find_helper"  # no single change is enough: a helper from outside


class Step(Frozen):
    """The one suggested next step for an unmatched order, as data (``matcher.advice``).

    ``helper``: the helper to ask (ASSIGN_NOW, RAISE_LIMIT, EXTEND_RADIUS, ADD_SKILL); ``team``
    and ``start``: a team (and visit start) that would cover the order once the step is taken
    (none for FIND_HELPER); ``count``: how many helpers the step concerns (at their limit, free in
    the moved window, brought in by the wider distance, free for the smaller team); ``km``: the
    distance asked for (the helper's trip, or the item's new maximum); ``window``: the moved
    window; ``team_size``: the smaller team; ``skills``/``language``: what ``helper`` lacks;
    ``minutes``: for a raised limit of minutes (their number of visits has room), the minutes
    more the helper would give that day.
    """

    kind: StepKind
    helper: str | None = None
    team: tuple[str, ...] = ()
    start: int | None = None
    count: int = 0
    km: float | None = None
    window: Window | None = None
    team_size: int | None = None
    skills: tuple[str, ...] = ()
    language: str | None = None
    minutes: int | None = None


class WhyParams(Frozen):
    """The facts behind an unmatched order's reason, as data (a reader's sentence is made from
    them at the edge). Counts are of the problem's helpers, each stage within the one before.

    ``item``: the order's catalogue item; ``team``: helpers it needs; ``skills``: the skills it
    needs (required and lead); ``language``: the resident's language, if any; ``skilled``: helpers
    with the skills; ``in_reach``: of those, helpers within reach; ``nearest_km``: the nearest
    helper with the skills, one way (None without travel data); ``window``: the order's window
    (None for an untimed order, i.e. the whole day); ``rival_item``: the outranking order's item;
    ``joining``: members already on the team whom the missing places must join (a re-match);
    ``step``: the one next step an office can take (``matcher.advice``), consistent with the
    reason (``matcher.advice.STEPS``).
    """

    item: str = ""
    team: int = 1
    skills: tuple[str, ...] = ()
    language: str | None = None
    skilled: int | None = None
    in_reach: int | None = None
    nearest_km: float | None = None
    window: Window | None = None
    rival_item: str | None = None
    joining: int = 0
    step: Step | None = None


class Unmatched(Frozen):
    """An order left unmatched: the reason, its facts, and the outranking order (matcher id)."""

    order: str
    reason: Reason
    params: WhyParams = WhyParams()
    outranked_by: str | None = None


class BoundMethod(StrEnum):
    """How a bound of a ``PlanCertificate`` was obtained (``matcher.certificate`` explains each)."""

    COVERABLE = "coverable"  # orders a full team of eligible helpers could serve at all
    LP = "lp"  # linear relaxation of the full problem, priced over every eligible helper
    CANDIDATES = "candidates"  # CP-SAT's bound on the candidate lists, with pricing for the rest
    LAGRANGIAN = "lagrangian"  # CP-SAT on the lists, the rest priced by the relaxation's duals
    MIP = "mip"  # HiGHS on every eligible visit, start times dropped (``matcher.full_mip``)
    CORE = "core"  # HiGHS on a relaxation of that: the binding visits exact, the rest free


class PlanCertificate(Frozen):
    """How far a plan can be from the best plan of the full problem (every eligible helper).

    ``coverage_gap`` = (bound - coverage) / bound: the plan covers at least 1 - gap of the best
    possible weighted coverage. ``cost_gap`` = (cost - bound) / bound: among plans covering at
    least as much, none costs less than 1 / (1 + gap) of this one. ``within`` is the larger of
    the two, what staff read as "within x % of the best possible". ``columns``: helper visits in
    the relaxation at the end; ``eligible``: every eligible helper visit, all priced;
    ``converged``: no visit left that could improve the relaxation.
    """

    coverage: int
    coverage_bound: int
    coverage_gap: float
    coverage_method: BoundMethod
    cost: float
    cost_bound: float
    cost_gap: float
    cost_method: BoundMethod
    within: float
    columns: int = Field(ge=0)
    eligible: int = Field(ge=0)
    rounds: int = Field(ge=0)
    converged: bool
    runtime_s: float


class Result(Frozen):
    """The outcome of ``solve`` or ``solve_greedy``.

    ``gap`` is the relative gap of the last stage that ran. ``weighted_coverage`` is the sum of the
    covered orders' weights (see ``matcher.weights.order_weight``) and ``weighted_demand`` the sum
    over all orders.
    """

    solver: str
    status: Status
    stages: tuple[Stage, ...]
    gap: float
    runtime_s: float
    assignments: tuple[Assignment, ...]
    unmatched: tuple[Unmatched, ...]
    weights: ObjectiveWeights
    weighted_coverage: int
    weighted_demand: int
    candidate_limit: int | None = None
    message: str = ""
    # Per order, the helpers to ask next should a member decline (``matcher.reserve``); only
    # with ``SolveParams.reserve_size``. Left out of dumps: a hint for the service, not a figure.
    reserves: dict[str, tuple[str, ...]] = Field(default_factory=dict, exclude=True)
    # Bounds against the full problem (``matcher.certificate``); with ``SolveParams.certify_s``.
    certificate: PlanCertificate | None = None

    @property
    def covered_orders(self) -> int:
        return len(self.assignments)

    @property
    def coverage_ratio(self) -> float:
        return self.weighted_coverage / self.weighted_demand if self.weighted_demand else 1.0

    def assignment_of(self, order_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.order == order_id), None)
