"""Care circles (帮扶圈): who stands in a resident's circle and how strongly, by one rule.

A helper joins a resident's circle by the ledger (the office's list), by serving them (a done or
confirmed visit) or by staff adding them. Ratings feed the circle (定效果): a score at or below
``LOW_SCORE`` takes the helper out unless staff keep them (an explicit "keep" covers the low
scores seen so far), and ``BLOCK_AFTER`` low scores from the same resident block the pair: the
matcher never sends that helper to that resident again (``Helper.blocked_residents``). Each good
score (``GOOD_SCORE`` or more) raises the pair's continuity weight by ``GOOD_STEP``, up to
``MOST_WEIGHT`` (``Resident.circle_weights``, ``matcher.weights.continuity_units``).

Pure: the service gathers the facts of each pair (``PairFacts``) and asks ``standing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pydantic import Field

from matcher.model import Frozen

LOW_SCORE = 2  # a score this low or lower takes the helper out of the circle
BLOCK_AFTER = 2  # this many low scores from one resident block the pair
GOOD_SCORE = 4  # a score this high or higher raises the pair's continuity weight
GOOD_STEP = 0.5  # … by this much per good score
MOST_WEIGHT = 3.0  # … up to this


class StaffChoice(StrEnum):
    """What staff last decided about a pair (none: nothing)."""

    ADDED = "added"
    REMOVED = "removed"


class Standing(StrEnum):
    """Where a helper stands with a resident's circle."""

    MEMBER = "member"
    OUTSIDE = "outside"  # never joined
    REMOVED = "removed"  # staff took them out
    LOW_SCORE = "low_score"  # a low score took them out (staff may keep them)
    BLOCKED = "blocked"  # low scores twice: never matched with this resident again


class PairFacts(Frozen):
    """What is known of one helper and one resident: the ledger's circle, visits, scores and
    staff's last choice (``kept_lows``: how many low scores staff kept the helper through)."""

    in_ledger: bool = False
    visits: int = Field(default=0, ge=0)
    low_scores: int = Field(default=0, ge=0)
    good_scores: int = Field(default=0, ge=0)
    staff: StaffChoice | None = None
    kept_lows: int = Field(default=0, ge=0)


def is_low(score: int) -> bool:
    return score <= LOW_SCORE


def is_good(score: int) -> bool:
    return score >= GOOD_SCORE


def standing(facts: PairFacts) -> Standing:
    """The pair's standing (``standing_of`` its facts)."""
    return standing_of(
        in_ledger=facts.in_ledger,
        visits=facts.visits,
        low_scores=facts.low_scores,
        staff=facts.staff,
        kept_lows=facts.kept_lows,
    )


def standing_of(
    *, in_ledger: bool, visits: int, low_scores: int, staff: str | None, kept_lows: int
) -> Standing:
    """The pair's standing from its facts given one by one (a street's thousands of pairs are
    judged without building a ``PairFacts`` each): blocked after ``BLOCK_AFTER`` low scores
    (staff cannot keep them then); out by staff's removal; out by a low score staff have not kept
    them through; a member by staff's addition, the ledger or a visit; otherwise outside."""
    if low_scores >= BLOCK_AFTER:
        return Standing.BLOCKED
    if staff == StaffChoice.REMOVED:
        return Standing.REMOVED
    if low_scores > kept_lows:
        return Standing.LOW_SCORE
    if staff == StaffChoice.ADDED or in_ledger or visits > 0:
        return Standing.MEMBER
    return Standing.OUTSIDE


def continuity_weight(facts: PairFacts) -> float:
    """The pair's continuity multiplier (1 for a member nobody scored well yet)."""
    return min(MOST_WEIGHT, 1.0 + GOOD_STEP * facts.good_scores)


def may_keep(facts: PairFacts) -> bool:
    """Staff may keep a helper a low score took out (not a blocked pair)."""
    return standing(facts) == Standing.LOW_SCORE


def may_add(facts: PairFacts) -> bool:
    """Staff may add anyone not blocked and not already a member (adding keeps them through the
    low scores seen so far)."""
    return standing(facts) not in (Standing.BLOCKED, Standing.MEMBER)


def resident_circle(pairs: Mapping[str, PairFacts]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """A resident's circle for the matcher (``Resident.circle`` and ``circle_weights``) from the
    facts of each helper paired with them: the members, by id, and their weights (empty when all
    are 1)."""
    members = tuple(sorted(h for h, facts in pairs.items() if standing(facts) == Standing.MEMBER))
    weights = tuple(continuity_weight(pairs[h]) for h in members)
    return members, weights if any(w != 1.0 for w in weights) else ()


def blocked_helpers(pairs: Mapping[str, PairFacts]) -> frozenset[str]:
    """The helpers blocked from the resident (for ``Helper.blocked_residents``)."""
    return frozenset(h for h, facts in pairs.items() if standing(facts) == Standing.BLOCKED)
