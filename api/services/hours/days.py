"""A helper's own time on one date, as the matcher's data (the one place this converts): on a
leave day, while paused, or on a weekday they set to none, they have no availability and take
no order (``max_orders`` 0: the matcher applies windows to timed visits only, so an empty day
must also say "no orders" for an any-time visit); on a weekday with hours of their own, their
usual windows are narrowed to those hours. Nothing binds before ``own_time_from`` (the
day after their last change), so a visit given earlier is judged as it was given.

Pure (rows in, matcher models out): ``api.services.matching.problem`` asks it for every helper
it enters, and no matcher rule changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from matcher.model import Helper, TimeWindow

Windows = list[tuple[int, int]]


def windows_on(row: Any, date: dt.date) -> Windows | None:
    """The helper's windows on ``date`` by their own time (``row``: a helper row, ORM or
    plain), or None when their own time changes nothing that day."""
    since = getattr(row, "own_time_from", None)
    if since is None or date < since:
        return None
    if off_on(row, date):
        return []
    week = row.week_hours
    if not week or week[date.weekday()] is None:
        return None
    usual = [(int(a), int(b)) for a, b in row.availability]
    return intersect(usual, [(int(a), int(b)) for a, b in week[date.weekday()]])


def off_on(row: Any, date: dt.date) -> bool:
    """Whether ``date`` is a leave day of the helper or falls in their pause."""
    paused = row.paused_until
    return date.isoformat() in (row.leave_dates or ()) or (paused is not None and date <= paused)


def on_date(helper: Helper, row: Any, date: dt.date) -> Helper:
    """``helper`` (the matcher's, with their whole day) with their own time of ``date``."""
    windows = windows_on(row, date)
    if windows is None:
        return helper
    availability = tuple(TimeWindow.model_construct(start=a, end=b) for a, b in windows)
    update: dict[str, object] = {"availability": availability}
    if not windows:
        update["max_orders"] = 0
    return helper.model_copy(update=update)


def intersect(first: Sequence[tuple[int, int]], second: Iterable[tuple[int, int]]) -> Windows:
    """The stretches of the day in a window of both lists (each without overlaps)."""
    out = []
    for a, b in first:
        for c, d in second:
            start, end = max(a, c), min(b, d)
            if start < end:
                out.append((start, end))
    return sorted(out)
