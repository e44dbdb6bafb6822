"""A report's period: a calendar month (``2026-10``) or a quarter (``2026-Q4``), as street-local
dates (the end is the first day after it) and the periods before and after it for the picker."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from api.i18n import gettext as _
from api.services.errors import BadInput

MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
FIRST_YEAR, LAST_YEAR = 2000, 2999  # a period outside these is a typing mistake


@dataclass(frozen=True)
class Period:
    """A month (``number`` 1-12) or a quarter (``number`` 1-4) of ``year``."""

    kind: Literal["month", "quarter"]
    year: int
    number: int

    @property
    def code(self) -> str:
        """How the period is written: ``2026-10`` or ``2026-Q4``."""
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        return f"{self.year}-{self.number:02d}"

    @property
    def start(self) -> dt.date:
        month = self.number if self.kind == "month" else 3 * self.number - 2
        return dt.date(self.year, month, 1)

    @property
    def end(self) -> dt.date:
        """The first day after the period."""
        return self.shifted(1).start

    def shifted(self, steps: int) -> Period:
        """The period ``steps`` months (or quarters) later; earlier for a negative ``steps``."""
        size = 12 if self.kind == "month" else 4
        index = self.year * size + self.number - 1 + steps
        return Period(self.kind, index // size, index % size + 1)

    def months(self) -> list[Period]:
        """The months of the period (a month: itself)."""
        if self.kind == "month":
            return [self]
        first = Period("month", self.year, 3 * self.number - 2)
        return [first.shifted(n) for n in range(3)]


def parse_period(text: str) -> Period:
    """``2026-10`` or ``2026-Q4`` (``BadInput`` naming the text otherwise)."""
    raw = (text or "").strip()
    month, quarter = MONTH.match(raw), QUARTER.match(raw)
    if quarter:
        period = Period("quarter", int(quarter[1]), int(quarter[2]))
    elif month and 1 <= int(month[2]) <= 12:
        period = Period("month", int(month[1]), int(month[2]))
    else:
        raise BadInput(_("a period is a month (2026-10) or a quarter (2026-Q4): %(raw)s",
                         raw=repr(raw[:40])), "period")  # fmt: skip
    if not FIRST_YEAR <= period.year <= LAST_YEAR:
        raise BadInput(_("a period is a month (2026-10) or a quarter (2026-Q4): %(raw)s",
                         raw=repr(raw[:40])), "period")  # fmt: skip
    return period


def period_of(day: dt.date, kind: Literal["month", "quarter"] = "month") -> Period:
    """The month (or quarter) holding ``day``."""
    if kind == "quarter":
        return Period("quarter", day.year, (day.month - 1) // 3 + 1)
    return Period("month", day.year, day.month)
