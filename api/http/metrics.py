"""``/metrics`` in Prometheus's text format, and who may read it.

Two kinds of figures:
- counted by the server as it answers: request latency (``api.http.observe``). Under
  ``serve --workers N`` each worker counts its own requests in a folder they share
  (prometheus_client's multiprocess mode) and a scrape, whichever worker answers it, adds up
  every worker's.
- read from the database at scrape time (``api.services.operations``): each street's last
  nightly run and the outbox backlog. Every worker answers the same, and a worker's restart
  loses nothing.

No figure names a person: labels are route templates, methods, status classes, street codes
and message states. Reading them takes ``Authorization: Bearer <QUNBANG_METRICS_TOKEN>``; with
no token set, ``/metrics`` answers 401 to everyone."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy.orm import Session

from api.http.observe import served_figures
from api.i18n import N_
from api.i18n import gettext as _
from api.services.errors import Unauthorized
from api.services.operations import NightlyFigures, nightly_figures, outbox_backlog
from api.settings import Settings
from api.store.tables import utcnow

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
OFF = N_("metrics are off: set QUNBANG_METRICS_TOKEN")
REFUSED = N_("the metrics token is required (Authorization: Bearer …)")
Figure = Callable[[NightlyFigures], float | None]
NIGHTLY: tuple[tuple[str, str, Figure], ...] = (  # name, help, the figure
    (
        "nightly_last_success_timestamp_seconds",
        "When the street's last nightly run that finished well ended (Unix time).",
        lambda n: _unix(n.succeeded_at),
    ),
    (
        "nightly_last_failure_timestamp_seconds",
        "When the street's last failed nightly run ended (Unix time).",
        lambda n: _unix(n.failed_at),
    ),
    (
        "nightly_duration_seconds",
        "Wall time of the street's last nightly run that finished well.",
        lambda n: n.duration_s,
    ),
    (
        "nightly_coverage_ratio",
        "Priority-weighted share of demand the street's last good nightly run covered (0-1).",
        lambda n: n.coverage_ratio,
    ),
    ("nightly_orders", "Orders the street's last good nightly run planned.", lambda n: n.orders),
    (
        "nightly_covered_orders",
        "Orders the street's last good nightly run matched.",
        lambda n: n.covered,
    ),
)


def check_scrape_token(settings: Settings, authorization: str | None) -> None:
    """Raise ``Unauthorized`` unless ``authorization`` is ``Bearer <QUNBANG_METRICS_TOKEN>``."""
    expected = settings.metrics_token.get_secret_value()
    if not expected:
        raise Unauthorized(_(OFF))
    scheme, _space, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(_(REFUSED))


def render_metrics(session: Session, now: dt.datetime | None = None) -> bytes:
    """The scrape: the request figures (this process's, or every worker's) and the database's."""
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
    """The nightly runs' and the outbox's figures as Prometheus families (two small reads)."""
    streets = nightly_figures(session)
    families: list[Metric] = [
        _per_street(name, documentation, figure, streets) for name, documentation, figure in NIGHTLY
    ]
    backlog = outbox_backlog(session, now)
    messages = GaugeMetricFamily(
        "qunbang_outbox_messages",
        "Messages not sent yet: due now, waiting to be tried again, failed for good.",
        labels=["state"],
    )
    for state, count in (
        ("due", backlog.due),
        ("waiting", backlog.waiting),
        ("failed", backlog.failed),
    ):
        messages.add_metric([state], count)
    age = GaugeMetricFamily(
        "qunbang_outbox_oldest_due_age_seconds",
        "How long the oldest message due now has waited since it was queued (0: none due).",
        value=backlog.oldest_due_age_s,
    )
    return [*families, messages, age]


def _per_street(
    name: str, documentation: str, figure: Figure, streets: list[NightlyFigures]
) -> Metric:
    family = GaugeMetricFamily(f"qunbang_{name}", documentation, labels=["street"])
    for street in streets:
        value = figure(street)
        if value is not None:
            family.add_metric([street.street], float(value))
    return family


def _unix(moment: dt.datetime | None) -> float | None:
    return moment.replace(tzinfo=dt.UTC).timestamp() if moment else None
