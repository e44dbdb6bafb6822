"""``/metrics`` in Prometheus's text format, and who may read it.

Two kinds of figures:
- counted by the server as it answers: request latency (``api.observability.requests``). Under
  ``serve --workers N`` each worker counts its own requests; ``serve`` then gives them a shared
  folder (``PROMETHEUS_MULTIPROC_DIR``, prometheus_client's multiprocess mode) and a scrape,
  whichever worker answers it, adds up every worker's files.
- read from the database at scrape time: the last nightly run of each street (when it finished,
  how long it took, how much it covered) and the outbox backlog. Every worker answers the same,
  and nothing is lost when a worker restarts.

No figure names a person: labels are route templates, methods, status classes, street codes
and message states. Reading them takes ``Authorization: Bearer <QUNBANG_METRICS_TOKEN>``; with
no token set, ``/metrics`` answers 401 to everyone."""

from __future__ import annotations

import datetime as dt
import hmac
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from api.errors import Unauthorized
from api.observability.requests import MULTIPROCESS_ENV, served_figures
from api.settings import Settings
from api.store.statuses import NotificationStatus, RunKind, RunStatus
from api.store.tables import NotificationRow, RunRow, Street, utcnow

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
OFF = "指标未开启：请设置 QUNBANG_METRICS_TOKEN / metrics are off: set QUNBANG_METRICS_TOKEN"
REFUSED = "需要指标令牌 / the metrics token is required (Authorization: Bearer …)"


def check_scrape_token(settings: Settings, authorization: str | None) -> None:
    """Raise ``Unauthorized`` unless ``authorization`` is ``Bearer <QUNBANG_METRICS_TOKEN>``."""
    expected = settings.metrics_token.get_secret_value()
    if not expected:
        raise Unauthorized(OFF)
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(REFUSED)


def render_metrics(session: Session, now: dt.datetime | None = None) -> bytes:
    """The scrape: the request figures (this process's, or every worker's in multiprocess mode)
    and the database's, in Prometheus's text format."""
    stored = CollectorRegistry()
    stored.register(_Families(database_families(session, now or utcnow())))
    return served_figures() + generate_latest(stored)


class _Families:
    """A collector of families already read."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def database_families(session: Session, now: dt.datetime) -> list[Metric]:
    """The nightly runs' and the outbox's figures, read now (two small queries)."""
    return [*_nightly_families(session), *_outbox_families(session, now)]


def _nightly_families(session: Session) -> list[Metric]:
    """Per street: the last nightly run that finished well and the last that failed."""
    finished = (RunStatus.DONE, RunStatus.FAILED)
    latest = (
        select(func.max(RunRow.id))
        .where(RunRow.kind == RunKind.NIGHTLY, RunRow.status.in_(finished))
        .group_by(RunRow.street_id, RunRow.status)
    )
    rows = session.execute(
        select(RunRow, Street.code)
        .join(Street, Street.id == RunRow.street_id)
        .where(RunRow.id.in_(latest))
        .order_by(Street.code)
    )
    success = _gauge(
        "nightly_last_success_timestamp_seconds",
        "When the street's last nightly run that finished well ended (Unix time).",
    )
    failure = _gauge(
        "nightly_last_failure_timestamp_seconds",
        "When the street's last failed nightly run ended (Unix time).",
    )
    duration = _gauge(
        "nightly_duration_seconds", "Wall time of the street's last nightly run that finished well."
    )
    coverage = _gauge(
        "nightly_coverage_ratio",
        "Priority-weighted share of demand the street's last good nightly run covered (0-1).",
    )
    orders = _gauge("nightly_orders", "Orders the street's last good nightly run planned.")
    covered = _gauge("nightly_covered_orders", "Orders the street's last good nightly run matched.")
    for run, code in rows:
        ended = _unix(run.finished_at or run.started_at)
        if run.status == RunStatus.FAILED:
            failure.add_metric([code], ended)
            continue
        figures = run.figures or {}
        success.add_metric([code], ended)
        wall = figures.get("wall_s")
        if wall is None and run.finished_at is not None:
            wall = (run.finished_at - run.started_at).total_seconds()
        for family, value in (
            (duration, wall),
            (coverage, figures.get("coverage_ratio")),
            (orders, figures.get("orders")),
            (covered, figures.get("covered")),
        ):
            if value is not None:
                family.add_metric([code], float(value))
    return [success, failure, duration, coverage, orders, covered]


def _outbox_families(session: Session, now: dt.datetime) -> list[Metric]:
    """Messages not out yet: due now, waiting (a back-off or a sender's claim), failed for good;
    and how long the oldest due one has waited."""
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
            and_(NotificationRow.status == NotificationStatus.PENDING, due)
        )
    )
    backlog = GaugeMetricFamily(
        "qunbang_outbox_messages",
        "Messages not sent yet: due now, waiting to be tried again, failed for good.",
        labels=["state"],
    )
    for name, count in counts.items():
        backlog.add_metric([name], count)
    age = GaugeMetricFamily(
        "qunbang_outbox_oldest_due_age_seconds",
        "How long the oldest message due now has waited since it was queued (0: none due).",
        value=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
    )
    return [backlog, age]


def _gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"qunbang_{name}", documentation, labels=["street"])


def _unix(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.UTC).timestamp()


@contextmanager
def shared_across_workers(workers: int) -> Iterator[None]:
    """For ``serve --workers N`` (N > 1): a fresh folder where every worker keeps its request
    figures (prometheus_client's multiprocess mode), removed when the server stops. Workers
    inherit it through the environment and must see it before they import prometheus_client.
    A folder the operator set (``PROMETHEUS_MULTIPROC_DIR``) is used as it is: they empty it
    between runs."""
    if workers <= 1 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    folder = tempfile.mkdtemp(prefix="qunbang-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)
