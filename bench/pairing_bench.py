"""Two-way pairing (``matcher.pairing``) at 500 residents × 500 helpers.

Draws residents and helpers uniformly over a 10 km square (seeded ``Random``), every helper able
to serve every resident within their radius (3–8 km), then times, best of ``--repeat`` runs each:

- ``shortlists``: the matcher's eligibility for one representative visit per resident and the
  shortlists of ``--size`` (the full pipeline's first step);
- the stable matching itself from the members' preference lists (each ranks a random part of
  their shortlist, the rest nearest first): deferred acceptance favouring residents, favouring
  helpers, and least travel among the stable matchings (CP-SAT, ``--time-limit``).

It prints the pairs, the unpaired, total km and whether every result is stable
(``blocking_pairs``). Run by hand:
    .venv/bin/python bench/pairing_bench.py [--residents 500] [--helpers 500] [--size 10]
        [--helper-capacity 1] [--repeat 3] [--time-limit 60] [--seed 0]
        [--favour residents helpers travel]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import time
from collections.abc import Callable
from typing import TypeVar

from matcher.model import (
    Catalogue,
    Category,
    Helper,
    HelperKind,
    Location,
    Order,
    Problem,
    Resident,
    ResidentCategory,
    ServiceItem,
    Skill,
    TimeWindow,
)
from matcher.pairing import (
    Favour,
    Market,
    Pairing,
    PairingRules,
    Participant,
    Shortlists,
    blocking_pairs,
    preference_list,
    shortlists,
    stable_matching,
)

DATE = dt.date(2026, 11, 28)
KM_PER_DEG = 111.2
T = TypeVar("T")
CATALOGUE = Catalogue(
    skills=(Skill(code="care", name_zh="陪伴", name_en="care"),),
    categories=(Category(code="life", name_zh="生活", name_en="life", paid=False),),
    items=(
        ServiceItem(code="WEEKEND", name_zh="周末陪伴", name_en="Weekend company",
                    category="life", paid=False, required_skills=frozenset({"care"}),
                    duration_min=240),
    ),
)  # fmt: skip


def problem(residents: int, helpers: int, rng: random.Random) -> Problem:
    def where() -> Location:
        return Location(lat=40 + rng.uniform(0, 10) / KM_PER_DEG, lon=111 + rng.uniform(0, 10) / 84)

    return Problem(
        date=DATE,
        catalogue=CATALOGUE,
        helpers=tuple(
            Helper(id=f"h{i}", kind=HelperKind.WARM_HEARTED_RESIDENT, location=where(),
                   skills=frozenset({"care"}), radius_km=rng.uniform(3, 8), max_minutes=600)
            for i in range(helpers)
        ),
        residents=tuple(
            Resident(id=f"r{i}", category=ResidentCategory.LEFT_BEHIND_CHILD, location=where())
            for i in range(residents)
        ),
        orders=tuple(
            Order(id=f"o{i}", resident=f"r{i}", item="WEEKEND", date=DATE,
                  window=TimeWindow(start=9 * 60, end=17 * 60), flexible_start=True)
            for i in range(residents)
        ),
    )  # fmt: skip


def market(lists: Shortlists, helper_capacity: int, rng: random.Random) -> Market:
    """Each participant ranks a random half of their shortlist (in random order); the rest
    follows nearest first."""

    def prefs(options: tuple) -> tuple[str, ...]:  # type: ignore[type-arg]
        chosen = [o.other for o in options if rng.random() < 0.5]
        rng.shuffle(chosen)
        return preference_list(options, chosen)

    km = {(r, o.other): o.km for r, options in lists.residents.items() for o in options}
    return Market(
        residents=tuple(Participant(r, 1, prefs(o)) for r, o in lists.residents.items()),
        helpers=tuple(Participant(h, helper_capacity, prefs(o)) for h, o in lists.helpers.items()),
        km=km,
    )


def best_of(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    best, result = math.inf, None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - began)
    assert result is not None
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--helpers", type=int, default=500)
    parser.add_argument("--size", type=int, default=10, help="shortlist length")
    parser.add_argument("--helper-capacity", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=60.0, help="CP-SAT, seconds")
    parser.add_argument("--seed", type=int, default=0)
    favours = [f.value for f in Favour]
    parser.add_argument("--favour", nargs="*", default=favours, choices=favours)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    street = problem(args.residents, args.helpers, rng)
    seconds, lists = best_of(args.repeat, lambda: shortlists(street, PairingRules(size=args.size)))
    pairs = sum(len(o) for o in lists.residents.values())
    print(f"{args.residents} residents x {args.helpers} helpers, shortlist {args.size}, "
          f"helper capacity {args.helper_capacity}, seed {args.seed}")  # fmt: skip
    print(f"shortlists (eligibility + nearest): {seconds:.3f} s, {pairs} acceptable pairs")
    the_market = market(lists, args.helper_capacity, rng)
    for favour in map(Favour, args.favour):
        repeat = 1 if favour == Favour.TRAVEL else args.repeat

        def solve(favour: Favour = favour) -> Pairing:
            return stable_matching(the_market, favour, time_limit_s=args.time_limit)

        seconds, result = best_of(repeat, solve)
        chosen = [(p.resident, p.helper) for p in result.pairs]
        stable = not blocking_pairs(the_market, chosen)
        first = sum(p.resident_rank == 1 for p in result.pairs)
        print(f"{favour.value:>9}: {seconds:.3f} s  pairs {len(result.pairs)}  "
              f"unpaired residents {len(result.unpaired_residents)}  "
              f"total km {result.total_km:.1f}  residents' first choice {first}  "
              f"stable {stable}  optimal {result.optimal}")  # fmt: skip


if __name__ == "__main__":
    main()
