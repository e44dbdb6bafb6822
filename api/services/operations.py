"""What operating the service reads from the database: whether it can serve (the health check),
each street's last nightly run and the outbox backlog (the metrics). Plain data; the HTTP edge
renders it (``/health``, ``/metrics``)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from functools import cache

from sqlalchemy import case, func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.store.db import alembic_config
from api.store.statuses import NotificationStatus, RunKind, RunStatus
from api.store.tables import NotificationRow, RunRow, Street

log = logging.getLogger("qunbang.health")

# ----------------------------------------------------------------------------- health


@dataclass(frozen=True)
class Unhealthy:
    """Why the service cannot serve: ``code`` for programs, ``message`` for people."""

    code: str
    message: str


@cache
def schema_heads() -> frozenset[str]:
    """The schema revisions this code expects (read once from the migration scripts)."""
    from alembic.script import ScriptDirectory  # here: Alembic is slow to import

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def database_health(session: Session) -> Unhealthy | None:
    """None when the database answers and its schema is at the head; else why not. One query
    when all is well."""
    try:
        found = frozenset(session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError as error:
        session.rollback()
        if not _answers(session):
            log.warning("health: the database does not answer: %s", _first_line(error))
            return Unhealthy("database_unreachable", _("the database does not answer"))
        found = frozenset()  # it answers, but was never migrated
    expected = schema_heads()
    if found != expected:
        log.warning("health: schema at %s, this code expects %s", sorted(found), sorted(expected))
        return Unhealthy(
            "schema_mismatch",
            _(
                "the database schema is at %(found)s, this version needs %(needed)s "
                "(qunbang db upgrade)",
                found=", ".join(sorted(found)) or "none",
                needed=", ".join(sorted(expected)),
            ),
        )
    return None


def _answers(session: Session) -> bool:
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        session.rollback()
        return False
    return True


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


# ----------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class NightlyFigures:
    """A street's last nightly run that finished well (its end, wall time and coverage; None
    if it never had one) and the end of its last failed one (None if none failed)."""

    street: str  # the street's code
    succeeded_at: dt.datetime | None = None  # UTC
    failed_at: dt.datetime | None = None
    duration_s: float | None = None
    coverage_ratio: float | None = None  # priority-weighted, 0-1
    orders: int | None = None
    covered: int | None = None


@dataclass(frozen=True)
class OutboxBacklog:
    """Messages not out yet: due now, waiting (for a back-off or a sender's claim), failed for
    good; and how long the oldest due one has waited since it was queued."""

    due: int
    waiting: int
    failed: int
    oldest_due_age_s: float


def nightly_figures(session: Session) -> list[NightlyFigures]:
    """Per street (by code) that had a nightly run finish: its last good and last failed run."""
    latest = (
        select(func.max(RunRow.id))
        .where(
            RunRow.kind == RunKind.NIGHTLY, RunRow.status.in_((RunStatus.DONE, RunStatus.FAILED))
        )
        .group_by(RunRow.street_id, RunRow.status)
    )
    rows = session.execute(
        select(RunRow, Street.code)
        .join(Street, Street.id == RunRow.street_id)
        .where(RunRow.id.in_(latest))
    )
    streets: dict[str, NightlyFigures] = {}
    for run, code in rows:
        known = streets.get(code) or NightlyFigures(code)
        ended = run.finished_at or run.started_at
        if run.status == RunStatus.FAILED:
            streets[code] = replace(known, failed_at=ended)
            continue
        figures = run.figures or {}
        wall = figures.get("wall_s")
        if wall is None and run.finished_at is not None:
            wall = (run.finished_at - run.started_at).total_seconds()
        streets[code] = replace(
            known,
            succeeded_at=ended,
            duration_s=wall,
            coverage_ratio=figures.get("coverage_ratio"),
            orders=figures.get("orders"),
            covered=figures.get("covered"),
        )
    return [streets[code] for code in sorted(streets)]


def outbox_backlog(session: Session, now: dt.datetime) -> OutboxBacklog:
    """The outbox's unsent messages at ``now`` (UTC, naive as stored)."""
    due = or_(NotificationRow.next_attempt_at.is_(None), NotificationRow.next_attempt_at <= now)
    state = case(
        (NotificationRow.status == NotificationStatus.FAILED, "failed"),
        (due, "due"),
        else_="waiting",
    )
    unsent = (NotificationStatus.PENDING, NotificationStatus.FAILED)
    counts = {"due": 0, "waiting": 0, "failed": 0}
    for name, count in session.execute(
        select(state, func.count()).where(NotificationRow.status.in_(unsent)).group_by(state)
    ):
        counts[name] = count
    oldest = session.scalar(
        select(func.min(NotificationRow.created_at)).where(
            NotificationRow.status == NotificationStatus.PENDING, due
        )
    )
    age = max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
    return OutboxBacklog(counts["due"], counts["waiting"], counts["failed"], age)
