"""A helper's own time (时间自主管理): hours per weekday, leave dates and "pause this week",
set on their phone. A change binds matching from the next day on (``own_time_from``), so the
next nightly run already honours it (``days`` turns it into the matcher's data); a change that
would rule out a visit they accepted is refused naming its day, and pending offers it rules out
are withdrawn and re-matched (``ledger.people.change_own_time``, as for a profile edit)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput, NotFound
from api.services.hours.days import Windows
from api.services.ledger.people import change_own_time
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.tables import HelperRow, utcnow

DAYS = 7
MAX_WINDOWS = 4  # windows a weekday may have
MAX_LEAVE_DAYS = 92  # one leave at most this long
LEAVE_AHEAD_DAYS = 366  # leave may be entered up to a year ahead


@dataclass(frozen=True)
class OwnTime:
    """What the helper's time page shows: their usual windows (the ledger's), their hours per
    weekday (None: the usual ones), leave dates from today on, the pause, and from when their
    last change binds matching."""

    usual: Windows
    week: list[Windows | None]
    leave: list[dt.date]
    paused_until: dt.date | None
    binds_from: dt.date | None
    today: dt.date


def own_time(
    session: Session, settings: Settings, actor: Actor, now: dt.datetime | None = None
) -> OwnTime:
    """The calling helper's own time."""
    row = _own(session, actor)
    today = local_today(settings, now)
    week = list(row.week_hours) if row.week_hours else [None] * DAYS
    paused = row.paused_until if row.paused_until and row.paused_until >= today else None
    return OwnTime(
        usual=[(int(a), int(b)) for a, b in row.availability],
        week=[None if day is None else [(int(a), int(b)) for a, b in day] for day in week],
        leave=[d for d in _dates(row.leave_dates) if d >= today],
        paused_until=paused,
        binds_from=row.own_time_from,
        today=today,
    )


def set_week_hours(
    session: Session,
    settings: Settings,
    actor: Actor,
    week: Sequence[Sequence[tuple[int, int]] | None],
    now: dt.datetime | None = None,
) -> OwnTime:
    """Set the hours of each weekday (0 = Monday): None keeps the usual windows that day, an
    empty list means not that day; windows lie in the day, start before they end and do not
    overlap (they narrow the usual windows, never widen them)."""
    if len(week) != DAYS:
        raise BadInput(_("hours are given for the seven weekdays"), "week")
    checked: list[list[list[int]] | None] = []
    for day, windows in enumerate(week):
        checked.append(None if windows is None else _windows(day, windows))
    stored = None if all(day is None for day in checked) else checked
    return _save(session, settings, actor, {"week_hours": stored}, now)


def add_leave(
    session: Session,
    settings: Settings,
    actor: Actor,
    first: dt.date,
    last: dt.date,
    now: dt.datetime | None = None,
) -> OwnTime:
    """Take leave from ``first`` to ``last`` (both included): from tomorrow on (today's visits
    are declined on the visit, not by leave), within a year, at most ``MAX_LEAVE_DAYS``."""
    now = now or utcnow()
    today = local_today(settings, now)
    if last < first:
        raise BadInput(_("the leave ends before it starts"), "last")
    if first <= today:
        raise BadInput(_("leave starts tomorrow at the earliest"), "first")
    if last > today + dt.timedelta(days=LEAVE_AHEAD_DAYS):
        raise BadInput(_("leave can be entered up to a year ahead"), "last")
    if (last - first).days + 1 > MAX_LEAVE_DAYS:
        raise BadInput(_("one leave is at most %(days)s days", days=MAX_LEAVE_DAYS), "last")
    row = _own(session, actor)
    days = {d for d in _dates(row.leave_dates) if d > today}
    days |= {first + dt.timedelta(days=i) for i in range((last - first).days + 1)}
    return _save(session, settings, actor, {"leave_dates": _iso(days)}, now)


def cancel_leave(
    session: Session, settings: Settings, actor: Actor, day: dt.date, now: dt.datetime | None = None
) -> OwnTime:
    """Take a leave day back (the helper may be matched that day again)."""
    now = now or utcnow()
    today = local_today(settings, now)
    row = _own(session, actor)
    days = {d for d in _dates(row.leave_dates) if d > today}
    if day not in days:
        raise NotFound(_("no leave on %(day)s", day=day.isoformat()), "day")
    return _save(session, settings, actor, {"leave_dates": _iso(days - {day})}, now)


def pause_this_week(
    session: Session, settings: Settings, actor: Actor, now: dt.datetime | None = None
) -> OwnTime:
    """Pause from tomorrow through the coming Sunday (on a Sunday: through next Sunday)."""
    now = now or utcnow()
    today = local_today(settings, now)
    sunday = today + dt.timedelta(days=6 - today.weekday() or 7)
    return _save(session, settings, actor, {"paused_until": sunday}, now)


def resume(
    session: Session, settings: Settings, actor: Actor, now: dt.datetime | None = None
) -> OwnTime:
    """End the pause: the helper may be matched again from tomorrow on."""
    return _save(session, settings, actor, {"paused_until": None}, now)


def _save(
    session: Session,
    settings: Settings,
    actor: Actor,
    changes: dict[str, Any],
    now: dt.datetime | None,
) -> OwnTime:
    now = now or utcnow()
    changes["own_time_from"] = local_today(settings, now) + dt.timedelta(days=1)
    change_own_time(session, settings, actor, changes, now)
    return own_time(session, settings, actor, now)


def _windows(day: int, windows: Sequence[tuple[int, int]]) -> list[list[int]]:
    if len(windows) > MAX_WINDOWS:
        raise BadInput(_("at most %(count)s stretches a day", count=MAX_WINDOWS), f"week.{day}")
    ordered = sorted((int(a), int(b)) for a, b in windows)
    for start, end in ordered:
        if not 0 <= start < end <= 24 * 60:
            raise BadInput(_("a stretch of the day starts before it ends"), f"week.{day}")
    for (_a, end), (start, _b) in itertools.pairwise(ordered):
        if start < end:
            raise BadInput(_("the stretches of one day overlap"), f"week.{day}")
    return [[a, b] for a, b in ordered]


def _dates(values: Any) -> list[dt.date]:
    return sorted(dt.date.fromisoformat(v) for v in values or ())


def _iso(days: set[dt.date]) -> list[str]:
    return [d.isoformat() for d in sorted(days)]


def _own(session: Session, actor: Actor) -> HelperRow:
    row = session.get(HelperRow, actor.helper_id) if actor.helper_id is not None else None
    if row is None or actor.role != "helper":
        raise NotFound(_("helper not found"))
    return row
