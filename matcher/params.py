"""Solver settings and objective weights; every default lives here."""

from __future__ import annotations

from pydantic import Field

from matcher.model import Frozen


class ObjectiveWeights(Frozen):
    """Weights of the second (cost) stage. Any may be zero.

    Units: ``travel`` per round-trip km; ``continuity`` per team member who is not in the
    resident's circle, only when the resident has a circle (``matcher.weights.continuity_misses``);
    ``fairness`` per unit of piled-up load, where a helper's k-th order of the day costs k-1 units
    (so 1, 2, 3 orders cost 0, 1, 3); ``preference`` per team member whose gender differs from the
    resident's preferred gender.
    """

    travel: float = Field(default=1.0, ge=0)
    continuity: float = Field(default=2.0, ge=0)
    fairness: float = Field(default=0.5, ge=0)
    preference: float = Field(default=1.0, ge=0)


class SolveParams(Frozen):
    """How to solve: time limit, determinism and objective weights.

    ``candidate_limit`` keeps, per order, only the K nearest eligible helpers (plus the
    resident's circle, lead-skill holders and language speakers the team may need, pinned helpers
    and the hand rule's choice); ``None`` keeps every eligible helper. The default 4 lets CP-SAT
    prove coverage optimal within about 10 s on 1,500-order streets; a nightly run with minutes to
    spare gains up to about 2 % more coverage on a scarce street with 6 (bench/README.md).
    ``wait_boost`` raises an order's priority by that fraction per day already waited.
    ``reserve_size``: per order, how many helpers the result ranks next after its team
    (``Result.reserves``, ``matcher.reserve``); 0 ranks none.
    ``certify_s``: seconds of ``time_limit_s`` (at most half of it; after it on streets solved
    by neighbourhoods) for bounds against the full problem (every eligible helper,
    ``matcher.certificate``, ``Result.certificate``), part of them pricing visits into the
    candidate lists before the solve (with HiGHS's MIP over every eligible visit on streets
    small enough, which takes a share of the solve's time too); 0 skips them.
    """

    time_limit_s: float = Field(default=30.0, gt=0)
    coverage_time_share: float = Field(default=0.5, gt=0, le=1)
    seed: int = Field(default=0, ge=0)
    workers: int = Field(default=2, ge=1, le=64)
    weights: ObjectiveWeights = ObjectiveWeights()
    candidate_limit: int | None = Field(default=4, ge=1)
    wait_boost: float = Field(default=0.1, ge=0)
    reserve_size: int = Field(default=0, ge=0, le=100)
    log_progress: bool = False
    certify_s: float = Field(default=0.0, ge=0)
