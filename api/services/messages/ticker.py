"""The server's background ticker: expire overdue offers, send reminders, watch deadlines (the
owners' and requesters' messages), drain the outbox.

Every worker process of ``serve --workers N`` starts a ticker, but only one of them works at a
time: the one holding the ``ticker`` lease (``api.services.messages.lease``). Each ticker tries
to take or
renew the lease every tick; the holder renews it and does the round of work, the others wait. A
holder that dies stops renewing, and after ``lease_ttl`` another worker takes over; a holder
that stops cleanly gives the lease up at once. The outbox's own claims (``send_pending``) keep a
message from going out twice even if two rounds ever overlap (a round longer than the lease).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from api.services.messages import lease
from api.services.messages.outbox import send_pending
from api.services.messages.watch import watch_deadlines
from api.services.offers.answers import expire_due, send_reminders
from api.settings import Settings
from api.store.db import session_scope

log = logging.getLogger("qunbang.ticker")
LEASE = "ticker"
LEASE_TICKS = 3  # the lease outlives this many missed renewals
MIN_LEASE_S = 1.0


def _send(session: Session, settings: Settings, now: dt.datetime | None) -> None:
    send_pending(session, settings, now=now)


Step = Callable[[Session, Settings, "dt.datetime | None"], object]
STEPS: tuple[Step, ...] = (expire_due, send_reminders, watch_deadlines, _send)


def lease_ttl(settings: Settings) -> dt.timedelta:
    """How long the ticker lease lasts without renewal: a few ticks."""
    return dt.timedelta(seconds=max(LEASE_TICKS * settings.tick_seconds, MIN_LEASE_S))


def run_ticker(
    sessions: sessionmaker[Session],
    settings: Settings,
    stop: threading.Event,
    holder: str | None = None,
) -> None:
    """Every ``settings.tick_seconds`` until ``stop`` is set: take or renew the ticker lease and,
    while holding it, do one round of work (``tick``). Errors are logged; the lease is given up
    on the way out."""
    holder = holder or lease.new_holder()
    try:
        while not stop.wait(settings.tick_seconds):
            try:
                lead_tick(sessions, settings, holder)
            except Exception:  # the ticker must survive a bad minute; the next tick retries
                log.exception("tick failed")
    finally:
        _give_up(sessions, holder)


def lead_tick(
    sessions: sessionmaker[Session],
    settings: Settings,
    holder: str,
    now: dt.datetime | None = None,
) -> bool:
    """One round of work if ``holder`` holds (or can take) the ticker lease; True if it ran.
    The lease is renewed before each step, and a holder that lost it stops there."""
    for number, step in enumerate(STEPS):
        with session_scope(sessions) as session:
            if not lease.acquire(session, LEASE, holder, lease_ttl(settings), now):
                if number:
                    log.warning("ticker lease lost by %s in the middle of a round", holder)
                return False
        with session_scope(sessions) as session:
            step(session, settings, now)
    return True


def tick(
    sessions: sessionmaker[Session], settings: Settings, now: dt.datetime | None = None
) -> None:
    """One round of time-driven work, lease or not: expire overdue offers (re-matching their
    orders), queue reminders for offers close to their deadline, queue the owners' and
    requesters' messages of deadlines (``watch``), then send what the outbox holds."""
    for step in STEPS:
        with session_scope(sessions) as session:
            step(session, settings, now)


def _give_up(sessions: sessionmaker[Session], holder: str) -> None:
    try:
        with session_scope(sessions) as session:
            if lease.release(session, LEASE, holder):
                log.info("ticker lease given up by %s", holder)
    except Exception:  # shutting down: the lease expires by itself
        log.warning("could not give up the ticker lease", exc_info=True)
