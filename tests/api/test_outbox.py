"""The notification outbox: the log sender, the webhook sender against a real HTTP server on
loopback, failures retried and then given up, and who may read which messages."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.errors import BadInput
from api.services.notify import enqueue
from api.services.outbox import (
    MAX_ATTEMPTS,
    LogSender,
    WebhookSender,
    make_sender,
    send_pending,
)
from api.settings import Settings
from api.store.tables import NotificationRow
from tests.api.conftest import World, login
from tests.api.test_ledger import Other, add_community

NOW = dt.datetime(2026, 11, 20, 2, 0)


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
    """The webhook sender POSTs {id, helper_id, kind, text_zh, text_en, payload} per message."""
    ids = queue(sessions, world.helper_ids[:2], kind="reminder")
    webhook = settings.model_copy(update={"notify_sender": "webhook", "webhook_url": hook.url})
    assert isinstance(make_sender(webhook), WebhookSender)
    with sessions() as session:
        assert send_pending(session, webhook) == 2
    assert hook.bodies == [
        {
            "id": message_id,
            "helper_id": helper_id,
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
    """A message the webhook refuses stays pending with the error and is retried; after five
    failures it is ``failed`` and no longer tried."""
    queue(sessions, world.helper_ids[:1])
    hook.status = 500
    sender = WebhookSender(hook.url)
    with sessions() as session:
        assert send_pending(session, settings, sender=sender) == 0
        [message] = messages(sessions)
        assert (message.status, message.attempts) == ("pending", 1)
        assert "500" in message.last_error
        for _ in range(MAX_ATTEMPTS):
            send_pending(session, settings, sender=sender)
    [message] = messages(sessions)
    assert (message.status, message.attempts, message.sent_at) == ("failed", MAX_ATTEMPTS, None)
    assert len(hook.bodies) == MAX_ATTEMPTS


def test_a_message_goes_out_once_the_receiver_recovers(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A network error counts as one failed attempt; the next round delivers the message."""
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
    with sessions() as session:
        assert send_pending(session, settings, sender=sender, now=NOW) == 0
        assert send_pending(session, settings, sender=sender, now=NOW) == 1
    [message] = messages(sessions)
    assert (message.status, message.attempts, message.sent_at) == ("sent", 1, NOW)
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
