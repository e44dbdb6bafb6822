"""Run records: what a run was asked, runs that died half-way, and what staff read about runs.

A ``running`` run whose process is gone (same host, pid no longer alive) or that is older than
three times its time limit plus a minute was interrupted: the next run of that street and date,
and every run listing, marks it failed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api import i18n
from api.i18n import N_
from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.closing.deadlines import overdue_where
from api.services.errors import BadInput, NotFound
from api.services.matching import community_figures
from api.services.matching.day_loads import visits_on
from api.services.matching.explain_text import NamedHelper, explain_in, suggest_in
from api.services.matching.problem import catalogue_from_db
from api.services.paging import Page
from api.services.types import UtcDateTime
from api.settings import Settings
from api.store.db import begin_write, session_scope
from api.store.statuses import RunStatus
from api.store.tables import HelperRow, OrderRow, ResidentRow, RunRow, RunUnmatched, utcnow
from matcher.model import Catalogue
from matcher.params import SolveParams
from matcher.result import WhyParams

log = logging.getLogger("qunbang.runs")
# An interrupted run's error, stored as its message id and shown in the reader's language.
INTERRUPTED = N_("interrupted: the process ended before the run finished")
PRIVATE_SETTINGS = ("pid", "host")  # how interrupted runs are found; not for readers


@dataclass(frozen=True)
class UnmatchedView:
    """An order a run could not match: the reason and its facts (``params``, the matcher's
    ``WhyParams``; None for a row from before they were stored), and the sentence made from
    them in the reader's language and in each shipped one (the API returns both)."""

    order_id: int
    community_id: int
    reason: str
    params: dict[str, Any] | None
    explanation: str  # in the reader's language
    explanation_zh: str
    explanation_en: str
    outranked_by: int | None
    overdue: bool = False  # the order is past its promised deadline (listed first)
    # The one next step an office can take (``params["step"]``, ``matcher.advice``) as a
    # sentence in the reader's language and in each shipped one ("" when there is none).
    suggestion: str = ""
    suggestion_zh: str = ""
    suggestion_en: str = ""


@dataclass(frozen=True)
class RunSummary:
    id: int
    street_id: int
    date: dt.date
    kind: str
    status: str
    trigger: str
    started_at: UtcDateTime
    finished_at: UtcDateTime | None
    started_by: int | None
    error: str
    settings: dict[str, Any]
    figures: dict[str, Any]


@dataclass(frozen=True)
class RunView(RunSummary):
    unmatched: list[UnmatchedView]


@dataclass(frozen=True)
class Progress:
    """How far a run being matched is: seconds since it started, its solver's time limit, and
    their ratio in percent (at most 99: writing the result follows the solve)."""

    elapsed: int
    limit: int
    percent: int


def progress_of(run: RunView | None, now: dt.datetime | None = None) -> Progress | None:
    """The progress of ``run`` if it is still being matched, else None."""
    if run is None or run.status != RunStatus.RUNNING:
        return None
    now = now or utcnow()
    elapsed = max(0.0, (now - run.started_at.replace(tzinfo=None)).total_seconds())
    limit = max(1.0, float(run.settings.get("time_limit_s") or 1))
    return Progress(int(elapsed), int(limit), min(99, int(100 * elapsed / limit)))


# ----------------------------------------------------------------------------- records


def run_settings(settings: Settings, params: SolveParams, trigger: str) -> dict[str, Any]:
    """What a run records about how it solves, and where it runs (to spot a dead process)."""
    return {
        "time_limit_s": params.time_limit_s,
        "workers": params.workers,
        "seed": params.seed,
        "candidate_limit": params.candidate_limit,
        "weights": params.weights.model_dump(),
        "offer_response_hours": settings.offer_response_hours,
        "trigger": trigger,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }


def is_interrupted(run: RunRow, settings: Settings, now: dt.datetime) -> bool:
    """A ``running`` run whose process is gone, or far past any time it could take."""
    if run.status != "running":
        return False
    info = run.settings or {}
    limit = float(info.get("time_limit_s", settings.nightly_time_limit_s)) * 3 + 60
    if (now - run.started_at).total_seconds() > limit:
        return True
    pid = info.get("pid")
    if info.get("host") == socket.gethostname() and isinstance(pid, int):
        return not _alive(pid)
    return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def reap_interrupted(
    session: Session, settings: Settings, street_id: int, date: dt.date | None, now: dt.datetime
) -> int:
    """Mark the street's interrupted runs (of ``date``, if given) failed. The caller holds a
    write transaction and commits."""
    query = select(RunRow).where(RunRow.street_id == street_id, RunRow.status == "running")
    if date is not None:
        query = query.where(RunRow.date == date)
    reaped = 0
    for run in session.scalars(query):
        if is_interrupted(run, settings, now):
            run.status, run.error, run.finished_at = "failed", INTERRUPTED, now
            reaped += 1
            log.warning("run %s was interrupted; marked failed", run.id)
    return reaped


def mark_failed(sessions: sessionmaker[Session], run_id: int, message: str) -> None:
    """Record a run's failure in its own transaction (the run's own was rolled back)."""
    try:
        with session_scope(sessions) as session:
            begin_write(session)
            run = session.get(RunRow, run_id)
            if run is not None and run.status == "running":
                run.status, run.error, run.finished_at = "failed", message[:4000], utcnow()
            session.commit()
    except Exception:  # the database itself may be what failed; the next run reaps the record
        log.exception("could not record the failure of run %s", run_id)


def _reap_for_reading(
    session: Session, settings: Settings, street_id: int, now: dt.datetime
) -> None:
    """Listings report interrupted runs as failed: write that down first (rarely needed)."""
    running = session.scalars(
        select(RunRow).where(RunRow.street_id == street_id, RunRow.status == "running")
    ).all()
    if any(is_interrupted(run, settings, now) for run in running):
        begin_write(session)
        reap_interrupted(session, settings, street_id, None, now)
        session.commit()


# ----------------------------------------------------------------------------- reading


def list_runs(
    session: Session,
    settings: Settings,
    actor: Actor,
    *,
    date: dt.date | None = None,
    status: str | None = None,
    kind: str | None = None,
    page: int = 1,
    page_size: int = 50,
    now: dt.datetime | None = None,
) -> Page[RunSummary]:
    """The runs of the actor's street, newest first."""
    street_id = _street(actor)
    _reap_for_reading(session, settings, street_id, now or utcnow())
    query = select(RunRow).where(RunRow.street_id == street_id)
    if date is not None:
        query = query.where(RunRow.date == date)
    if status is not None:
        query = query.where(RunRow.status == status)
    if kind is not None:
        query = query.where(RunRow.kind == kind)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(RunRow.started_at.desc(), RunRow.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return Page([_summary(r, actor) for r in rows], total, page, page_size)


def get_run(
    session: Session,
    settings: Settings,
    actor: Actor,
    run_id: int,
    now: dt.datetime | None = None,
) -> RunView:
    """One run with its figures and the orders it could not match, each with why. Staff of one
    community see only their community's unmatched orders."""
    street_id = _street(actor)
    _reap_for_reading(session, settings, street_id, now or utcnow())
    run = session.get(RunRow, run_id)
    if run is None or run.street_id != street_id:
        raise NotFound(_("run %(run_id)s not found", run_id=run_id))
    overdue = overdue_where(now or utcnow())
    query = (  # what matters first: overdue, then the most urgent, then the earliest visit
        select(RunUnmatched, ResidentRow.community_id, overdue)
        .join(OrderRow, RunUnmatched.order_id == OrderRow.id)
        .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
        .where(RunUnmatched.run_id == run.id)
        .order_by(
            overdue.desc(),
            OrderRow.priority.desc(),
            OrderRow.date,
            OrderRow.window_start.is_(None),
            OrderRow.window_start,
            RunUnmatched.order_id,
        )
    )
    if actor.community_id is not None:
        query = query.where(ResidentRow.community_id == actor.community_id)
    rows = session.execute(query).all()
    unmatched: list[UnmatchedView] = []
    if rows:
        catalogue = catalogue_from_db(session, run.street_id)
        named = _named_helpers(session, actor, run.date, [row for row, _, _ in rows])
        unmatched = [
            _unmatched_view(row, community_id, bool(late), catalogue, named)
            for row, community_id, late in rows
        ]
    return RunView(**vars(_summary(run, actor, len(unmatched))), unmatched=unmatched)


def _unmatched_view(
    row: RunUnmatched,
    community_id: int,
    overdue: bool,
    catalogue: Catalogue,
    named: dict[str, NamedHelper],
) -> UnmatchedView:
    """The stored reason, facts and next step, with the sentences made from them (a row from
    before migration 0004 has no facts: its stored sentences are shown as they are)."""
    suggestions = ["", "", ""]
    locales = ("zh_CN", "en", i18n.current())  # each shipped language, then the reader's
    if row.params is None:
        zh, en = row.explanation_zh or "", row.explanation_en or ""
        here = zh if i18n.short() == "zh" else en
    else:
        params = WhyParams.model_validate(row.params)
        zh, en, here = (
            explain_in(locale, row.reason, params, catalogue, row.outranked_by)
            for locale in locales
        )
        suggestions = [suggest_in(loc, row.reason, params, catalogue, named) for loc in locales]
    return UnmatchedView(
        order_id=row.order_id,
        community_id=community_id,
        reason=row.reason,
        params=row.params,
        explanation=here,
        explanation_zh=zh,
        explanation_en=en,
        outranked_by=row.outranked_by,
        overdue=overdue,
        suggestion=suggestions[2],
        suggestion_zh=suggestions[0],
        suggestion_en=suggestions[1],
    )


def _named_helpers(
    session: Session, actor: Actor, date: dt.date, rows: list[RunUnmatched]
) -> dict[str, NamedHelper]:
    """The helpers the rows' next steps name (by the row id as text the steps keep), with their
    visits that day now: two queries for the whole run. Planners see no names."""
    ids = {
        int(helper)
        for row in rows
        for step in [(row.params or {}).get("step") or {}]
        for helper in [step.get("helper"), *(step.get("team") or ())]
        if helper
    }
    if not ids:
        return {}
    found = session.execute(
        select(HelperRow.id, HelperRow.name, HelperRow.code, HelperRow.max_orders,
               HelperRow.radius_km).where(HelperRow.id.in_(sorted(ids)))
    ).all()  # fmt: skip
    visits = visits_on(session, date, ids)
    personal = actor.role != "planner"
    return {
        str(helper_id): NamedHelper(
            label=f"{name} ({code})" if personal else "",
            visits=visits.get(helper_id, 0),
            limit=max_orders,
            radius_km=radius_km,
        )
        for helper_id, name, code, max_orders, radius_km in found
    }


def _error_text(error: str) -> str:
    """A run's stored error as the reader reads it: an interrupted run's message id (or the
    "中文 / English" pair rows from before the catalogs hold) in the current locale; any other
    error (an exception's text) as it is."""
    if error == INTERRUPTED or error.endswith(" / " + INTERRUPTED):
        return _(INTERRUPTED)
    return error


def _street(actor: Actor) -> int:
    if actor.street_id is None:
        raise BadInput(_("this account belongs to no street"), "street_id")
    return actor.street_id


def _summary(run: RunRow, actor: Actor, unmatched: int | None = None) -> RunSummary:
    """The run as the actor reads it: a community's staff get their community's figures."""
    return RunSummary(
        id=run.id,
        street_id=run.street_id,
        date=run.date,
        kind=run.kind,
        status=run.status,
        trigger=run.trigger,
        started_at=run.started_at,
        finished_at=run.finished_at,
        started_by=run.started_by,
        error=_error_text(run.error),
        settings={k: v for k, v in (run.settings or {}).items() if k not in PRIVATE_SETTINGS},
        figures=community_figures.scoped(run.figures or {}, actor.community_id, unmatched),
    )
