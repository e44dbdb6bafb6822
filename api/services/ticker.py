"""The server's background ticker: expire overdue offers, send reminders, drain the outbox."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from api.settings import Settings

log = logging.getLogger("qunbang.ticker")


def run_ticker(sessions: sessionmaker[Session], settings: Settings, stop: threading.Event) -> None:
    """Call ``tick`` every ``settings.tick_seconds`` until ``stop`` is set; errors are logged."""
    while not stop.wait(settings.tick_seconds):
        try:
            tick(sessions, settings)
        except Exception:  # the ticker must survive a bad minute; the next tick retries
            log.exception("tick failed")


def tick(sessions: sessionmaker[Session], settings: Settings) -> None:
    """One round of time-driven work (filled in by the offers and notifications services)."""
