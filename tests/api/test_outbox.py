"""The notification outbox: the log sender, the webhook sender against a real HTTP server on
loopback, failures retried with back-off (a fixed clock) and then given up, claims that keep two
senders from sending one message twice, staff resending a failed message, and who may read
which messages."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.messages import outbox
from api.services.messages.notify import enqueue
from api.services.messages.outbox import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    CLAIM,
    JITTER,
    MAX_ATTEMPTS,
    LogSender,
    WebhookSender,
    backoff,
    make_sender,
    resend,
    send_pending,
)
from api.settings import Settings
from api.store.tables import AuditEntry, NotificationRow
from tests.api.conftest import World, actor_named, login
from tests.api.test_ledger import Other, add_community
from tests.api.test_web_staff import web_login

NOW = dt.datetime(2026, 11, 20, 2, 0)


class FixedRandom(random.Random):
    """A random source whose ``random()`` always answers ``value`` (jitter pinned in tests)."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


NO_JITTER = FixedRandom(0.0)


class Hook:
    """A tiny webhook receiver on 127.0.0.1: records each JSON body and answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def queue(sessions: sessionmaker[Session], helper_ids: list[int], kind: str = "offer") -> list[int]:
    """One pending message per helper; their ids."""
    with sessions() as session:
        rows = [
            enqueue(
                session,
                helper_id=helper_id,
                kind=kind,
                text_zh=f"消息 {helper_id}",
                text_en=f"message {helper_id}",
                payload={"order": helper_id},
            )
            for helper_id in helper_ids
        ]
        session.commit()
        return [row.id for row in rows if row is not None]


def messages(sessions: sessionmaker[Session]) -> list[NotificationRow]:
    with sessions() as session:
        return list(session.scalars(select(NotificationRow).order_by(NotificationRow.id)))


def test_log_sender_sends_every_pending_message_once(
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The default sender logs one line per message on qunbang.notify; sent messages are not
    sent again."""
    ids = queue(sessions, world.helper_ids[:3])
    assert isinstance(make_sender(settings), LogSender)
    with caplog.at_level(logging.INFO, logger="qunbang.notify"), sessions() as session:
        assert send_pending(session, settings, now=NOW) == 3
        assert send_pending(session, settings, now=NOW) == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "qunbang.notify"]
    assert [line.split()[1] for line in lines] == [f"id={i}" for i in ids]
    assert [(m.status, m.sent_at, m.attempts) for m in messages(sessions)] == [("sent", NOW, 0)] * 3


def test_limit_sends_the_oldest_first(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """With ``limit`` 2 of 3 pending messages, the two oldest go out."""
    ids = queue(sessions, world.helper_ids[:3])
    with sessions() as session:
        assert send_pending(session, settings, limit=2) == 2
    assert [m.id for m in messages(sessions) if m.status == "sent"] == ids[:2]


def test_webhook_sender_posts_each_message_as_json(
    sessions: sessionmaker[Session], settings: Settings, world: World, hook: Hook
) -> None:
    """The webhook sender POSTs {id, helper_id, user_id, kind, text_zh, text_en, payload} per
    message."""
    ids = queue(sessions, world.helper_ids[:2], kind="reminder")
    webhook = settings.model_copy(update={"notify_sender": "webhook", "webhook_url": hook.url})
    assert isinstance(make_sender(webhook), WebhookSender)
    with sessions() as session:
        assert send_pending(session, webhook) == 2
    assert hook.bodies == [
        {
            "id": message_id,
            "helper_id": helper_id,
            "user_id": None,
            "kind": "reminder",
            "text_zh": f"消息 {helper_id}",
            "text_en": f"message {helper_id}",
            "payload": {"order": helper_id},
        }
        for message_id, helper_id in zip(ids, world.helper_ids[:2], strict=True)
    ]
    assert {m.status for m in messages(sessions)} == {"sent"}


def test_failures_are_retried_then_given_up(
    sessions: sessionmaker[Session], settings: Settings, world: World, hook: Hook
) -> None:
    """A message the webhook refuses stays pending with the error and is retried once its
    back-off has passed; after MAX_ATTEMPTS failures it is ``failed`` and no longer tried."""
    queue(sessions, world.helper_ids[:1])
    hook.status = 500
    sender = WebhookSender(hook.url)
    clock = NOW
    with sessions() as session:
        assert send_pending(session, settings, sender=sender, now=clock) == 0
        [message] = messages(sessions)
        assert (message.status, message.attempts) == ("pending", 1)
        assert "500" in message.last_error
        for _ in range(MAX_ATTEMPTS + 2):
            clock += BACKOFF_CAP
            send_pending(session, settings, sender=sender, now=clock)
    [message] = messages(sessions)
    assert (message.status, message.attempts, message.sent_at) == ("failed", MAX_ATTEMPTS, None)
    assert message.next_attempt_at is None
    assert len(hook.bodies) == MAX_ATTEMPTS


def test_a_message_goes_out_once_the_receiver_recovers(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A network error counts as one failed attempt; the round after the back-off delivers
    the message."""
    queue(sessions, world.helper_ids[:1])
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectTimeout("no route", request=request)
        return httpx.Response(204)

    sender = WebhookSender(
        "http://hook.invalid/x", client=httpx.Client(transport=httpx.MockTransport(answer))
    )
    later = NOW + BACKOFF_BASE
    with sessions() as session:
        assert send_pending(session, settings, sender=sender, now=NOW, rng=NO_JITTER) == 0
        assert send_pending(session, settings, sender=sender, now=later, rng=NO_JITTER) == 1
    [message] = messages(sessions)
    assert (message.status, message.attempts, message.sent_at) == ("sent", 1, later)
    assert message.last_error.startswith("ConnectTimeout")


def test_webhook_without_url_is_a_clear_error(settings: Settings) -> None:
    """Choosing the webhook sender without a URL is refused with a message naming the setting."""
    with pytest.raises(BadInput, match="QUNBANG_WEBHOOK_URL"):
        make_sender(settings.model_copy(update={"notify_sender": "webhook"}))


def test_who_reads_which_messages(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """Staff filter messages in their scope; a helper reads only their own."""
    other: Other = add_community(sessions, world.street_id)
    queue(sessions, world.helper_ids[:2])
    queue(sessions, [world.helper_ids[0], other.helper_id], kind="cancellation")
    staff = login(client, "staff")
    every = client.get("/notifications", headers=staff).json()
    assert every["total"] == 4
    assert [m["helper_id"] for m in every["items"]] == [
        other.helper_id,
        world.helper_ids[0],
        world.helper_ids[1],
        world.helper_ids[0],
    ]  # newest first
    cancelled = client.get("/notifications", headers=staff, params={"kind": "cancellation"})
    assert cancelled.json()["total"] == 2
    first = client.get("/notifications", headers=staff, params={"helper_id": world.helper_ids[0]})
    assert first.json()["total"] == 2
    scoped = client.get("/notifications", headers=login(client, "staff_c1")).json()
    assert other.helper_id not in {m["helper_id"] for m in scoped["items"]}
    own = client.get("/me/notifications", headers=login(client, "helper2")).json()
    assert [m["helper_id"] for m in own["items"]] == [world.helper_ids[1]]
    assert client.get("/notifications", headers=login(client, "helper1")).status_code == 404
    pending = client.get("/notifications", headers=staff, params={"status": "sent"}).json()
    assert pending["total"] == 0


# ----------------------------------------------------------------------------- back-off and claims


class Recorder:
    """A sender that records each message id it is handed (and can fail on demand)."""

    def __init__(self, fail: bool = False) -> None:
        self.ids: list[int] = []
        self.fail = fail
        self.lock = threading.Lock()

    def send(self, message: NotificationRow) -> None:
        with self.lock:
            self.ids.append(message.id)
        if self.fail:
            raise RuntimeError("receiver down")


def test_backoff_doubles_from_a_minute_up_to_an_hour() -> None:
    """Without jitter the waits are 1, 2, 4 … minutes, capped at one hour; jitter only ever
    shortens a wait, by at most JITTER."""
    minutes = [backoff(n, NO_JITTER) / dt.timedelta(minutes=1) for n in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    shortest = FixedRandom(0.999999)
    for n in range(1, 10):
        full = backoff(n, NO_JITTER)
        assert full * (1 - JITTER) <= backoff(n, shortest) < full
        assert full * (1 - JITTER) <= backoff(n, random.Random(n)) <= full
    assert backoff(10_000, NO_JITTER) == BACKOFF_CAP  # no overflow for absurd counts


def test_a_failed_message_waits_for_its_back_off(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """After each failure ``next_attempt_at`` is now + the back-off; until then no round picks
    the message, from then on the next round does."""
    [message_id] = queue(sessions, world.helper_ids[:1])
    sender = Recorder(fail=True)
    clock = NOW
    with sessions() as session:
        for attempt in range(1, 4):
            assert send_pending(session, settings, sender=sender, now=clock, rng=NO_JITTER) == 0
            [message] = messages(sessions)
            due = clock + backoff(attempt, NO_JITTER)
            assert (message.attempts, message.next_attempt_at) == (attempt, due)
            send_pending(session, settings, sender=sender, now=due - dt.timedelta(seconds=1))
            assert len(sender.ids) == attempt  # not tried before it is due
            clock = due
    assert sender.ids == [message_id] * 3


def test_a_message_claimed_by_one_sender_is_not_sent_by_another(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """While one sender is sending a message (claimed, not yet recorded), a second sender's
    round skips it; the message is delivered once and recorded sent."""
    [message_id] = queue(sessions, world.helper_ids[:1])
    inner = Recorder()
    inner_sent: list[int] = []

    class Meanwhile(Recorder):
        def send(self, message: NotificationRow) -> None:
            super().send(message)
            with sessions() as other:  # a second worker's round, in the middle of this send
                inner_sent.append(send_pending(other, settings, sender=inner, now=NOW))

    outer = Meanwhile()
    with sessions() as session:
        assert send_pending(session, settings, sender=outer, now=NOW) == 1
    assert (outer.ids, inner.ids, inner_sent) == ([message_id], [], [0])
    [message] = messages(sessions)
    assert (message.status, message.next_attempt_at, message.sent_at) == ("sent", None, NOW)


def test_racing_senders_deliver_each_message_once(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Four threads draining the same outbox at once hand every message to a sender exactly
    once, and every message ends ``sent``."""
    ids = queue(sessions, world.helper_ids * 3)
    sender = Recorder()
    start = threading.Barrier(4)

    def drain() -> None:
        with sessions() as session:
            start.wait()
            send_pending(session, settings, sender=sender)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sender.ids) == sorted(ids)
    assert {m.status for m in messages(sessions)} == {"sent"}


def test_a_claim_left_by_a_dead_sender_runs_out(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A sender that claimed a message and died (never recorded) holds it for CLAIM only;
    then the message is sent again (at least once), and the late record is ignored."""
    [message_id] = queue(sessions, world.helper_ids[:1])
    with sessions() as session:
        claimed_until = outbox._claim(session, message_id, NOW)
        assert claimed_until == NOW + CLAIM
        assert outbox._claim(session, message_id, NOW) is None  # one claim at a time
        sender = Recorder()
        assert send_pending(session, settings, sender=sender, now=NOW + CLAIM / 2) == 0
        assert send_pending(session, settings, sender=sender, now=NOW + CLAIM) == 1
        assert not outbox._record(session, message_id, claimed_until, "", NOW + CLAIM, None)
    assert sender.ids == [message_id]
    [message] = messages(sessions)
    assert (message.status, message.sent_at) == ("sent", NOW + CLAIM)


# ----------------------------------------------------------------------------- resending


def failed(sessions: sessionmaker[Session], helper_ids: list[int]) -> list[int]:
    """Messages that failed MAX_ATTEMPTS times (the last error ``RuntimeError: down``)."""
    ids = queue(sessions, helper_ids)
    with sessions() as session:
        session.execute(
            update(NotificationRow)
            .where(NotificationRow.id.in_(ids))
            .values(status="failed", attempts=MAX_ATTEMPTS, last_error="RuntimeError: down")
        )
        session.commit()
    return ids


def test_staff_resend_a_failed_message_and_the_next_round_sends_it(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Resend makes a failed message pending again with no attempts and no back-off, writes
    an audit entry, and the next round delivers it."""
    [message_id] = failed(sessions, world.helper_ids[:1])
    with sessions() as session:
        shown = resend(session, actor_named(session, "staff"), message_id)
        assert (shown.status, shown.attempts, shown.next_attempt_at) == ("pending", 0, None)
        assert shown.last_error == "RuntimeError: down"  # kept until the next try
        entry = session.scalars(select(AuditEntry).where(AuditEntry.entity == "notification"))
        [audited] = entry.all()
        assert (audited.action, audited.entity_id) == ("notification.resend", str(message_id))
        assert audited.detail["attempts"] == MAX_ATTEMPTS
        sender = Recorder()
        assert send_pending(session, settings, sender=sender, now=NOW) == 1
    assert sender.ids == [message_id]


def test_only_failed_messages_in_scope_are_resent(
    sessions: sessionmaker[Session], world: World
) -> None:
    """A pending or sent message cannot be resent (Conflict); community staff cannot reach a
    message to another community's helper (NotFound), and a helper account resends nothing."""
    other = add_community(sessions, world.street_id)
    [pending] = queue(sessions, world.helper_ids[:1])
    [elsewhere] = failed(sessions, [other.helper_id])
    with sessions() as session:
        with pytest.raises(Conflict):
            resend(session, actor_named(session, "staff"), pending)
        with pytest.raises(NotFound):
            resend(session, actor_named(session, "staff_c1"), elsewhere)
        with pytest.raises(Forbidden):
            resend(session, actor_named(session, "helper1"), pending)
        resend(session, actor_named(session, "staff"), elsewhere)
        with pytest.raises(Conflict):
            resend(session, actor_named(session, "staff"), elsewhere)  # pending again now


def test_resend_route_and_the_unsent_list(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """``POST /notifications/{id}/resend`` answers the message pending again (409 the second
    time, 404 for a helper); ``unsent=true`` lists pending and failed messages, not sent."""
    [sent] = queue(sessions, world.helper_ids[:1])
    with sessions() as session:
        session.execute(
            update(NotificationRow).where(NotificationRow.id == sent).values(status="sent")
        )
        session.commit()
    [gone] = failed(sessions, world.helper_ids[1:2])
    [waiting] = queue(sessions, world.helper_ids[2:3])
    staff = login(client, "staff")
    unsent = client.get("/notifications", headers=staff, params={"unsent": True}).json()
    assert [m["id"] for m in unsent["items"]] == [waiting, gone]
    assert unsent["items"][1]["helper_name"]
    failed_only = client.get("/notifications", headers=staff, params={"status": "failed"}).json()
    assert [m["id"] for m in failed_only["items"]] == [gone]
    answer = client.post(f"/notifications/{gone}/resend", headers=staff)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["attempts"]) == ("pending", 0)
    assert client.post(f"/notifications/{gone}/resend", headers=staff).status_code == 409
    helper = login(client, "helper1")
    assert client.post(f"/notifications/{waiting}/resend", headers=helper).status_code == 404


def test_the_messages_page_keeps_to_the_staff_members_scope(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """/s/messages lists unsent messages by default with a resend button on failed ones only;
    community staff do not see another community's messages; a planner is sent away."""
    other = add_community(sessions, world.street_id)
    [mine] = failed(sessions, world.helper_ids[:1])
    [theirs] = failed(sessions, [other.helper_id])
    [waiting] = queue(sessions, world.helper_ids[1:2])
    web_login(client, "staff")
    page = client.get("/s/messages").text
    assert all(f'id="message-{n}"' in page for n in (mine, theirs, waiting))
    assert page.count('action="/s/messages/') == 2  # the two failed ones
    web_login(client, "staff_c1")
    page = client.get("/s/messages").text
    assert f'id="message-{mine}"' in page and f'id="message-{theirs}"' not in page
    web_login(client, "planner")
    assert client.get("/s/messages", follow_redirects=False).status_code == 303
