"""Two-way long-term pairing (双向自主选择): shortlists for both sides, then a **stable** matching.

A programme (e.g. 周末妈妈, weekend mothers for left-behind children) pairs residents with helpers
for a season. Both sides rank a shortlist; Qunbang pairs them so that no resident and helper would
both rather be with each other than with what they got (no *blocking pair*).

What goes in
    ``shortlists(problem, rules)``: ``problem`` is a matcher ``Problem`` with one representative
    visit (order) per resident: the programme's item on a day of its rhythm, in its time window.
    Who may serve whom is asked of ``matcher.eligible`` (skills, reach, blocks, free time, limits:
    the matcher's own rules, not restated here). A pair is one helper, so the matcher's team rules
    apply to that helper alone: they hold the item's lead skill and speak the resident's language
    (its ``has_lead`` and ``speaks`` flags). The programme's own rules only *filter* what it
    answers: the gender-preference flag (hard for the programme, where the nightly matcher only
    prefers) and a programme distance cap. A pair is
    on both shortlists when the helper is among the resident's ``size`` nearest eligible helpers
    *or* the resident among the helper's ``size`` nearest eligible residents.

    ``Market``: each participant's preference list (acceptable partners, most preferred first;
    ``preference_list`` turns a shortlist, a ranking and refusals into one: ranked entries first,
    the rest nearest first, refused ones dropped), a capacity (a helper's number of residents; a
    resident's number of helpers, 1 unless the programme says more) and one-way km per pair. A pair
    is acceptable when each lists the other.

How the matching is computed (``stable_matching``)
    This is the hospitals/residents problem with incomplete lists (many-to-many when residents
    take more than one helper; preferences are responsive: a list ordered by single partners).

    - ``Favour.RESIDENTS`` (the default) and ``Favour.HELPERS``: deferred acceptance (Gale and
      Shapley 1962; Roth 1984 for many-to-many) with the favoured side proposing. Each proposer
      offers to the best partners who have not yet refused them, up to its capacity; each receiver
      holds its best offers up to its capacity and refuses the rest. The result is stable and is
      the *favoured side's optimal* stable matching: every proposer gets partners at least as good
      as in any other stable matching. It runs in O(E log q) for E acceptable pairs.
    - ``Favour.TRAVEL``: among all stable matchings, the one with the least total travel, found
      with CP-SAT: a Boolean per acceptable pair, capacities as sums, and stability as one clause
      per acceptable pair (r, h): paired, or r is full with partners it prefers to h, or h is
      full with partners it prefers to r (the linear description of stable matchings of Vande Vate
      1989 and Baïou and Balinski 2000, written with enforcement literals). Should CP-SAT not prove
      the optimum in time, its best stable matching is kept; if it has none, the residents'
      optimal one.

    "More pairs" needs no search: by the rural hospitals theorem (Roth 1986; Gale and Sotomayor
    1985 for incomplete lists; also many-to-many with responsive preferences) every stable
    matching pairs the same people, each with the same number of partners, so every stable
    matching has the same number of pairs. Shorter travel enters twice: a participant's unranked
    shortlist entries follow the ranked ones nearest first, and ``Favour.TRAVEL`` minimises it
    among the stable matchings.

``blocking_pairs`` is the solver-independent stability check (tests and the service's invariant
checker use it). Nothing here knows of the database; ids are the problem's ids.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from matcher.eligible import eligible_helpers
from matcher.model import Problem

KM_SCALE = 1000  # CP-SAT works on integers: metres


class Favour(StrEnum):
    """Which stable matching to take: the residents' best, the helpers' best, or the shortest
    travel."""

    RESIDENTS = "residents"
    HELPERS = "helpers"
    TRAVEL = "travel"


@dataclass(frozen=True)
class PairingRules:
    """A programme's filters on the matcher's eligibility, and the shortlist length."""

    size: int = 5  # entries per shortlist (the nearest; pairs listed from the other side join)
    gender_preference: bool = False  # the helper has the resident's preferred gender, if any
    max_km: float | None = None  # one way, on top of the helper's radius and the item's cap

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"shortlist size must be at least 1, not {self.size}")
        if self.max_km is not None and self.max_km <= 0:
            raise ValueError(f"max_km must be positive, not {self.max_km}")


@dataclass(frozen=True)
class Option:
    """One entry of a shortlist: the other side's id and the one-way km between them."""

    other: str
    km: float


@dataclass(frozen=True)
class Shortlists:
    """Per resident and per helper, the other side's candidates, nearest first."""

    residents: dict[str, tuple[Option, ...]]
    helpers: dict[str, tuple[Option, ...]]


def shortlists(problem: Problem, rules: PairingRules) -> Shortlists:
    """Each side's shortlist for a programme whose representative visits are ``problem``'s
    orders (one per resident): see the module docstring."""
    eligible: dict[tuple[str, str], float] = {}
    for options in eligible_helpers(problem):
        resident = problem.order(options.order).resident
        for entry in options.helpers:
            if not (entry.speaks and entry.has_lead):
                continue  # the matcher's team rules, for a team of one
            if rules.gender_preference and entry.gender_mismatch:
                continue
            if rules.max_km is not None and entry.km_one_way > rules.max_km + 1e-9:
                continue
            key = (resident, entry.helper)
            eligible[key] = min(entry.km_one_way, eligible.get(key, entry.km_one_way))
    by_resident = _nearest(((r, h, km) for (r, h), km in eligible.items()), rules.size)
    by_helper = _nearest(((h, r, km) for (r, h), km in eligible.items()), rules.size)
    chosen = {(r, h) for r, hs in by_resident.items() for h in hs}
    chosen |= {(r, h) for h, rs in by_helper.items() for r in rs}
    residents: dict[str, list[Option]] = {r.id: [] for r in problem.residents}
    helpers: dict[str, list[Option]] = {h.id: [] for h in problem.helpers}
    for r, h in chosen:
        residents[r].append(Option(h, eligible[r, h]))
        helpers[h].append(Option(r, eligible[r, h]))
    return Shortlists(
        residents={r: _by_km(options) for r, options in residents.items()},
        helpers={h: _by_km(options) for h, options in helpers.items()},
    )


def _nearest(triples: Iterable[tuple[str, str, float]], size: int) -> dict[str, list[str]]:
    lists: dict[str, list[tuple[float, str]]] = {}
    for owner, other, km in triples:
        lists.setdefault(owner, []).append((km, other))
    return {owner: [o for _, o in sorted(items)[:size]] for owner, items in lists.items()}


def _by_km(options: list[Option]) -> tuple[Option, ...]:
    return tuple(sorted(options, key=lambda o: (o.km, o.other)))


def preference_list(
    shortlist: Iterable[Option], ranking: Iterable[str] = (), refused: Iterable[str] = ()
) -> tuple[str, ...]:
    """A participant's preferences: the ranked entries of their shortlist in their order, then
    the unranked ones nearest first; refused entries (and anything not on the shortlist) are
    dropped."""
    listed = [o.other for o in sorted(shortlist, key=lambda o: (o.km, o.other))]
    on_list, no = set(listed), set(refused)
    ranked = [other for other in dict.fromkeys(ranking) if other in on_list and other not in no]
    seen = set(ranked)
    return (*ranked, *(o for o in listed if o not in seen and o not in no))


# ----------------------------------------------------------------------------- the market


@dataclass(frozen=True)
class Participant:
    """A resident or a helper in the market: acceptable partners, most preferred first."""

    id: str
    capacity: int
    prefs: tuple[str, ...]


@dataclass(frozen=True)
class Market:
    """Both sides' preferences and capacities, and one-way km per pair (absent: 0)."""

    residents: tuple[Participant, ...]
    helpers: tuple[Participant, ...]
    km: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (resident, helper)

    def __post_init__(self) -> None:
        for side, people, others in (
            ("resident", self.residents, {h.id for h in self.helpers}),
            ("helper", self.helpers, {r.id for r in self.residents}),
        ):
            seen: set[str] = set()
            for index, person in enumerate(people):
                if person.id in seen:
                    raise ValueError(f"{side} {index} ({person.id!r}): duplicate id")
                seen.add(person.id)
                if person.capacity < 0:
                    raise ValueError(f"{side} {index} ({person.id!r}): negative capacity")
                if len(set(person.prefs)) != len(person.prefs):
                    raise ValueError(f"{side} {index} ({person.id!r}): a partner listed twice")
                unknown = [p for p in person.prefs if p not in others]
                if unknown:
                    raise ValueError(f"{side} {index} ({person.id!r}): unknown {unknown[0]!r}")

    def acceptable(self) -> list[tuple[str, str]]:
        """Pairs (resident, helper) each of whom lists the other."""
        wanted_by = {h.id: set(h.prefs) for h in self.helpers}
        return [(r.id, h) for r in self.residents for h in r.prefs if r.id in wanted_by[h]]


@dataclass(frozen=True)
class Pair:
    resident: str
    helper: str
    km: float
    resident_rank: int  # 1 = the resident's first choice
    helper_rank: int


@dataclass(frozen=True)
class Pairing:
    """A stable matching: its pairs (sorted), who stays unpaired, and how it was found."""

    pairs: tuple[Pair, ...]
    favour: Favour
    optimal: bool  # the favoured criterion is proven optimal (always, for deferred acceptance)
    runtime_s: float
    unpaired_residents: tuple[str, ...]
    unpaired_helpers: tuple[str, ...]

    @property
    def total_km(self) -> float:
        return sum(p.km for p in self.pairs)


def stable_matching(
    market: Market,
    favour: Favour = Favour.RESIDENTS,
    *,
    time_limit_s: float = 10.0,
    seed: int = 0,
    workers: int = 1,
) -> Pairing:
    """A stable matching of ``market``: the favoured side's optimal one, or (``TRAVEL``) the
    one with the least total km. See the module docstring."""
    began = time.perf_counter()
    optimal = True
    if favour == Favour.HELPERS:
        chosen = {(r, h) for h, r in _deferred_acceptance(market.helpers, market.residents)}
    elif favour == Favour.TRAVEL:
        found = _least_travel(market, time_limit_s, seed, workers)
        if found is None:
            chosen, optimal = set(_deferred_acceptance(market.residents, market.helpers)), False
        else:
            chosen, optimal = found
    else:
        chosen = set(_deferred_acceptance(market.residents, market.helpers))
    return _pairing(market, chosen, favour, optimal, time.perf_counter() - began)


def _pairing(
    market: Market, chosen: set[tuple[str, str]], favour: Favour, optimal: bool, runtime: float
) -> Pairing:
    r_rank = {(r.id, h): i + 1 for r in market.residents for i, h in enumerate(r.prefs)}
    h_rank = {(r, h.id): i + 1 for h in market.helpers for i, r in enumerate(h.prefs)}
    pairs = tuple(
        Pair(r, h, market.km.get((r, h), 0.0), r_rank[r, h], h_rank[r, h])
        for r, h in sorted(chosen)
    )
    paired_r, paired_h = {p.resident for p in pairs}, {p.helper for p in pairs}
    return Pairing(
        pairs=pairs,
        favour=favour,
        optimal=optimal,
        runtime_s=runtime,
        unpaired_residents=tuple(r.id for r in market.residents if r.id not in paired_r),
        unpaired_helpers=tuple(h.id for h in market.helpers if h.id not in paired_h),
    )


def _deferred_acceptance(
    proposers: tuple[Participant, ...], receivers: tuple[Participant, ...]
) -> list[tuple[str, str]]:
    """Proposer-optimal stable matching as (proposer, receiver) pairs."""
    rank = {p.id: {other: i for i, other in enumerate(p.prefs)} for p in receivers}
    capacity = {p.id: p.capacity for p in receivers}
    held: dict[str, list[tuple[int, str]]] = {p.id: [] for p in receivers}  # max-heap by rank
    prefs = {p.id: p.prefs for p in proposers}
    wants = {p.id: p.capacity for p in proposers}
    count = dict.fromkeys(prefs, 0)
    position = dict.fromkeys(prefs, 0)
    waiting = [p.id for p in proposers]
    while waiting:
        proposer = waiting.pop()
        mine = prefs[proposer]
        while count[proposer] < wants[proposer] and position[proposer] < len(mine):
            receiver = mine[position[proposer]]
            position[proposer] += 1
            their_rank = rank[receiver].get(proposer)
            if their_rank is None or capacity[receiver] == 0:
                continue  # not acceptable to them
            heap = held[receiver]
            if len(heap) < capacity[receiver]:
                heapq.heappush(heap, (-their_rank, proposer))
                count[proposer] += 1
            elif -heap[0][0] > their_rank:
                _, dropped = heapq.heapreplace(heap, (-their_rank, proposer))
                count[proposer] += 1
                count[dropped] -= 1
                waiting.append(dropped)
    return [(proposer, receiver) for receiver, heap in held.items() for _, proposer in heap]


def _least_travel(
    market: Market, time_limit_s: float, seed: int, workers: int
) -> tuple[set[tuple[str, str]], bool] | None:
    """The stable matching with the least total km (CP-SAT), and whether it is proven optimal;
    None when CP-SAT finds none in time."""
    from ortools.sat.python import cp_model

    pairs = market.acceptable()
    model = cp_model.CpModel()
    x = {pair: model.new_bool_var(f"x_{i}") for i, pair in enumerate(pairs)}
    by_resident: dict[str, list[tuple[str, str]]] = {}
    by_helper: dict[str, list[tuple[str, str]]] = {}
    for pair in pairs:
        by_resident.setdefault(pair[0], []).append(pair)
        by_helper.setdefault(pair[1], []).append(pair)
    cap_r = {r.id: r.capacity for r in market.residents}
    cap_h = {h.id: h.capacity for h in market.helpers}
    for r, own in by_resident.items():
        model.add(sum(x[p] for p in own) <= cap_r[r])
    for h, own in by_helper.items():
        model.add(sum(x[p] for p in own) <= cap_h[h])
    r_rank = {(r.id, h): i for r in market.residents for i, h in enumerate(r.prefs)}
    h_rank = {(r, h.id): i for h in market.helpers for i, r in enumerate(h.prefs)}
    for r, h in pairs:
        # Stable at (r, h): paired, or r full with better partners, or h full with better ones.
        r_full, h_full = model.new_bool_var(""), model.new_bool_var("")
        better_h = [x[p] for p in by_resident[r] if r_rank[p] < r_rank[r, h]]
        better_r = [x[p] for p in by_helper[h] if h_rank[p] < h_rank[r, h]]
        model.add(sum(better_h) >= cap_r[r]).only_enforce_if(r_full)
        model.add(sum(better_r) >= cap_h[h]).only_enforce_if(h_full)
        model.add_bool_or([x[r, h], r_full, h_full])
    km = {p: round(market.km.get(p, 0.0) * KM_SCALE) for p in pairs}
    # More pairs first (fixed by the rural hospitals theorem; kept as a safeguard), then km.
    most = sum(km.values()) + 1
    model.minimize(sum((km[p] - most) * x[p] for p in pairs))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {p for p in pairs if solver.value(x[p])}, status == cp_model.OPTIMAL


def blocking_pairs(market: Market, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Acceptable (resident, helper) pairs not paired in which each would rather have the other
    than their worst partner, or has room: empty for a stable matching. Also reports pairs that
    are not acceptable or exceed a capacity (as the offending pair itself)."""
    chosen = set(pairs)
    partners_r: dict[str, list[str]] = {r.id: [] for r in market.residents}
    partners_h: dict[str, list[str]] = {h.id: [] for h in market.helpers}
    acceptable = set(market.acceptable())
    bad = sorted(p for p in chosen if p not in acceptable)
    for r, h in sorted(chosen & acceptable):
        partners_r[r].append(h)
        partners_h[h].append(r)
    rank_r = {r.id: {h: i for i, h in enumerate(r.prefs)} for r in market.residents}
    rank_h = {h.id: {r: i for i, r in enumerate(h.prefs)} for h in market.helpers}
    cap_r = {r.id: r.capacity for r in market.residents}
    cap_h = {h.id: h.capacity for h in market.helpers}
    for r, h in sorted(chosen & acceptable):
        if len(partners_r[r]) > cap_r[r] or len(partners_h[h]) > cap_h[h]:
            bad.append((r, h))

    def would_take(rank: dict[str, int], partners: list[str], capacity: int, other: str) -> bool:
        if len(partners) < capacity:
            return True
        return any(rank[p] > rank[other] for p in partners)

    for r, h in sorted(acceptable - chosen):
        if would_take(rank_r[r], partners_r[r], cap_r[r], h) and would_take(
            rank_h[h], partners_h[h], cap_h[h], r
        ):
            bad.append((r, h))
    return bad
