"""The server's background ticker: expire overdue offers, send reminders, drain the outbox."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from api.services.offers import expire_due, send_reminders
from api.services.outbox import send_pending
from api.settings import Settings
from api.store.db import session_scope

log = logging.getLogger("qunbang.ticker")


def run_ticker(sessions: sessionmaker[Session], settings: Settings, stop: threading.Event) -> None:
    """Call ``tick`` every ``settings.tick_seconds`` until ``stop`` is set; errors are logged."""
    while not stop.wait(settings.tick_seconds):
        try:
            tick(sessions, settings)
        except Exception:  # the ticker must survive a bad minute; the next tick retries
            log.exception("tick failed")


def tick(
    sessions: sessionmaker[Session], settings: Settings, now: dt.datetime | None = None
) -> None:
    """One round of time-driven work: expire overdue offers (re-matching their orders), queue
    reminders for offers close to their deadline, then send what the outbox holds."""
    with session_scope(sessions) as session:
        expire_due(session, settings, now)
    with session_scope(sessions) as session:
        send_reminders(session, settings, now)
    with session_scope(sessions) as session:
        send_pending(session, settings)
