"""Background work runs once: the lease (racing holders, expiry, release), the ticker working
only while it holds the lease, and ``serve --workers 2`` delivering each message exactly once,
also after the worker holding the lease is killed."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.services.messages import lease, ticker
from api.services.messages.notify import enqueue
from api.services.messages.ticker import LEASE, lead_tick, lease_ttl, run_ticker
from api.settings import Settings
from api.store.tables import LeaseRow, NotificationRow
from tests.api.test_outbox import Hook

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 20, 2, 0)
TTL = dt.timedelta(seconds=30)


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def queue(sessions: sessionmaker[Session], count: int, text: str = "消息") -> list[int]:
    """``count`` pending messages to no one in particular; their ids."""
    with sessions() as session:
        rows = [
            enqueue(session, helper_id=None, kind="change", text_zh=f"{text} {n}", text_en=str(n))
            for n in range(count)
        ]
        session.commit()
        return [row.id for row in rows if row is not None]


def statuses(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(NotificationRow.status).order_by(NotificationRow.id)))


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


# ----------------------------------------------------------------------------- the lease


def race(sessions: sessionmaker[Session], holders: str, now: dt.datetime) -> list[str]:
    """Each holder (one letter each) tries to take the ticker lease in its own thread and
    session, all released at once; the holders that got it."""
    start = threading.Barrier(len(holders))
    won: dict[str, bool] = {}

    def take(holder: str) -> None:
        with sessions() as session:
            start.wait()
            won[holder] = lease.acquire(session, LEASE, holder, TTL, now)

    threads = [threading.Thread(target=take, args=(holder,)) for holder in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == len(holders)
    return [holder for holder, took in won.items() if took]


def test_racing_holders_one_wins(sessions: sessionmaker[Session]) -> None:
    """Eight threads taking a free lease at the same moment: exactly one gets it; again when
    the lease has just expired: exactly one of the newcomers gets it."""
    for now, holders in ((NOW, "abcdefgh"), (NOW + TTL, "ijklmnop")):
        winners = race(sessions, holders, now)
        assert len(winners) == 1
        with sessions() as session:
            assert lease.holder_of(session, LEASE, now) == winners[0]


def test_the_lease_is_renewed_by_its_holder_and_handed_over_when_it_expires(
    sessions: sessionmaker[Session],
) -> None:
    """The holder renews it; another holder is refused until it has gone unrenewed for the
    time to live, then takes it, and the old holder is refused in turn."""
    second = dt.timedelta(seconds=1)
    with sessions() as session:
        assert lease.acquire(session, LEASE, "a", TTL, NOW)
        assert not lease.acquire(session, LEASE, "b", TTL, NOW + 10 * second)
        assert lease.acquire(session, LEASE, "a", TTL, NOW + 20 * second)  # renewed to +50 s
        assert not lease.acquire(session, LEASE, "b", TTL, NOW + 49 * second)
        assert lease.acquire(session, LEASE, "b", TTL, NOW + 50 * second)
        assert not lease.acquire(session, LEASE, "a", TTL, NOW + 51 * second)
        row = session.get_one(LeaseRow, LEASE, populate_existing=True)
        assert (row.holder, row.expires_at) == ("b", NOW + 80 * second)


def test_a_released_lease_is_free_at_once(sessions: sessionmaker[Session]) -> None:
    """Only the holder can release; after that anyone takes the lease without waiting."""
    with sessions() as session:
        assert lease.acquire(session, LEASE, "a", TTL, NOW)
        assert not lease.release(session, LEASE, "b")
        assert lease.holder_of(session, LEASE, NOW) == "a"
        assert lease.release(session, LEASE, "a")
        assert lease.holder_of(session, LEASE, NOW) is None
        assert lease.acquire(session, LEASE, "b", TTL, NOW)


# ----------------------------------------------------------------------------- the ticker


def test_only_the_lease_holder_ticks_and_another_takes_over_after_it_dies(
    sessions: sessionmaker[Session], settings: Settings, hook: Hook
) -> None:
    """Two workers' ticks: the holder's round sends the outbox, the other's does nothing; when
    the holder stops ticking (dies), the other takes over once the lease has expired."""
    webhook = settings.model_copy(
        update={"notify_sender": "webhook", "webhook_url": hook.url, "tick_seconds": 10}
    )
    ttl = lease_ttl(webhook)
    assert ttl == dt.timedelta(seconds=30)
    first = queue(sessions, 2)
    assert lead_tick(sessions, webhook, "worker-1", NOW)
    assert not lead_tick(sessions, webhook, "worker-2", NOW + dt.timedelta(seconds=1))
    assert [body["id"] for body in hook.bodies] == first
    later = queue(sessions, 1)
    assert not lead_tick(sessions, webhook, "worker-2", NOW + ttl - dt.timedelta(seconds=1))
    assert len(hook.bodies) == 2  # worker-1 is silent (dead) but its lease still stands
    assert lead_tick(sessions, webhook, "worker-2", NOW + ttl)
    assert [body["id"] for body in hook.bodies] == first + later
    assert statuses(sessions) == ["sent"] * 3


def test_a_holder_that_loses_the_lease_mid_round_stops(
    sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease is renewed before each step of a round: when another worker has taken it
    meanwhile (the round outlived the lease), the old holder does no further step."""
    ran: list[str] = []

    def overtaken(session: Session, _settings: Settings, now: dt.datetime | None) -> None:
        ran.append("first")
        lease_row = session.get_one(LeaseRow, LEASE)
        lease_row.holder, lease_row.expires_at = "worker-2", NOW + TTL  # taken over
        session.commit()

    def second(_session: Session, _settings: Settings, _now: dt.datetime | None) -> None:
        ran.append("second")

    monkeypatch.setattr(ticker, "STEPS", (overtaken, second))
    assert not lead_tick(sessions, settings, "worker-1", NOW)
    assert ran == ["first"]
    with sessions() as session:
        assert lease.holder_of(session, LEASE, NOW) == "worker-2"


def test_a_stopped_ticker_gives_the_lease_up(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    """A running ticker holds the lease; once told to stop, it releases it on its way out."""
    fast = settings.model_copy(update={"tick_seconds": 0.02})
    stop = threading.Event()
    thread = threading.Thread(target=run_ticker, args=(sessions, fast, stop, "worker-1"))
    thread.start()
    try:

        def held() -> bool:
            with sessions() as session:
                return lease.holder_of(session, LEASE) == "worker-1"

        wait_for(held, "the ticker to take its lease", 30)
    finally:
        stop.set()
        thread.join(30)
    with sessions() as session:
        assert session.get(LeaseRow, LEASE) is None


# ----------------------------------------------------------------------------- serve --workers 2


def last_holder(sessions: sessionmaker[Session]) -> str:
    """Who took the ticker lease last (expired or not)."""
    with sessions() as session:
        return session.scalars(select(LeaseRow.holder).where(LeaseRow.name == LEASE)).one()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``qunbang serve --workers 2`` on 127.0.0.1 in its own process group, its log in a file;
    the ticker ticks every 0.2 s and sends through the webhook ``hook_url``."""

    def __init__(self, db_url: str, hook_url: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "QUNBANG_DATABASE_URL": db_url,
            "QUNBANG_TICK_SECONDS": "0.2",
            "QUNBANG_NOTIFY_SENDER": "webhook",
            "QUNBANG_WEBHOOK_URL": hook_url,
        }
        command = [sys.executable, "-m", "api.cli.main", "serve", "--workers", "2"]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def started_workers(self) -> int:
        if self.process.poll() is not None:
            pytest.fail(f"the server stopped:\n{self.log.read_text()[-3000:]}")
        return self.log.read_text().count("Application startup complete")

    def healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/health"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """SIGTERM to the server (it stops its workers), SIGKILL to its process group if it
        lingers (a worker restarted after the kill may still be starting)."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


# The lease's statements are tested on both kinds above; the whole server with two worker
# processes, SIGKILL and take-over (half a minute of CPU) runs on PostgreSQL, where several
# workers are the usual deployment.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.slow
@pytest.mark.timeout(180)  # its waits give up after 60 s each
def test_serve_with_two_workers_sends_each_message_once(
    db_url: str, sessions: sessionmaker[Session], hook: Hook, tmp_path: Path
) -> None:
    """The real server with two worker processes delivers every queued message exactly once;
    after the worker holding the ticker lease is killed (SIGKILL), the other takes over and
    the next messages are again delivered exactly once."""
    server = Server(db_url, hook.url, tmp_path / "serve.log")
    try:
        wait_for(lambda: server.started_workers() >= 2, "two workers to start")
        wait_for(server.healthy, "the server to answer /health")
        first = queue(sessions, 20)
        wait_for(lambda: statuses(sessions) == ["sent"] * 20, "20 messages to be sent")
        holder = last_holder(sessions)
        _host, pid, _random = holder.split(":")
        os.kill(int(pid), signal.SIGKILL)  # the worker holding the lease dies
        later = queue(sessions, 10, "再一次")
        wait_for(lambda: last_holder(sessions) != holder, "the other worker to take the lease")
        wait_for(lambda: statuses(sessions) == ["sent"] * 30, "10 more messages to be sent")
        time.sleep(1.0)  # five more ticks of both workers: room for any second delivery
    finally:
        server.stop()
    delivered = Counter(body["id"] for body in hook.bodies)
    assert delivered == Counter(first + later), server.log.read_text()[-3000:]
