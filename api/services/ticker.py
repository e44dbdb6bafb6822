"""The server's background ticker: expire overdue offers, send reminders, drain the outbox."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from api.services.offers import expire_due, send_reminders
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
    send_pending = _outbox_sender()
    if send_pending is not None:
        with session_scope(sessions) as session:
            send_pending(session, settings)


def _outbox_sender() -> Callable[[Session, Settings], object] | None:
    """``api.services.outbox.send_pending`` when that module exists."""
    try:
        module = importlib.import_module("api.services.outbox")
    except ModuleNotFoundError as error:
        if error.name != "api.services.outbox":
            raise
        return None
    return getattr(module, "send_pending", None)
