"""Operating the service: request ids, JSON logs, ``/metrics`` and ``/health``."""

from __future__ import annotations

import datetime as dt
import gc
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.http.app import create_app
from api.http.observe import MULTIPROCESS_ENV, shared_across_workers
from api.logs import (
    JsonLogFormatter,
    RequestIdFilter,
    configure_cli_logging,
    request_id,
    server_logging_config,
)
from api.settings import Settings
from api.store.db import session_factory
from api.store.statuses import NotificationKind, NotificationStatus, RunKind, RunStatus
from api.store.tables import NotificationRow, RunRow, Street
from tests.api.conftest import DATE, World, login, make_settings

TOKEN = "scrape-token-0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(db_url: str) -> Settings:
    """The usual test settings, with a metrics token."""
    return make_settings(db_url).model_copy(update={"metrics_token": SecretStr(TOKEN)})


@pytest.fixture
def bare_app(tmp_path: Path) -> FastAPI:
    """The app on an empty SQLite file (no database work), with two routes that log."""
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path}/q.db", tick_seconds=0), ticker=False
    )

    @app.get("/test/log")
    def log_something() -> dict[str, str]:  # a sync route: runs in a worker thread
        logging.getLogger("qunbang.test").warning("来自路由 / from a route")
        return {"request_id": request_id.get()}

    @app.get("/test/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    return app


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the ``qunbang`` loggers write while the test runs, one JSON object per line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("qunbang")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# ----------------------------------------------------------------------------- request ids


def test_request_id_is_taken_when_sane_and_made_otherwise(bare_app: FastAPI) -> None:
    """A sane X-Request-ID comes back as sent; a missing, too long or unsafe one is replaced by a
    fresh id, different for each request."""
    with TestClient(bare_app) as client:
        sent = client.get("/test/log", headers={"X-Request-ID": "lb-7f3a:42"})
        assert sent.headers["X-Request-ID"] == "lb-7f3a:42"
        assert sent.json() == {"request_id": "lb-7f3a:42"}  # seen inside the route's thread
        made = [
            client.get("/test/log", headers=headers).headers["X-Request-ID"]
            for headers in ({}, {"X-Request-ID": "x" * 129}, {"X-Request-ID": 'a b"<script>'})
        ]
    assert len(set(made)) == 3
    assert all(len(rid) == 32 and int(rid, 16) >= 0 for rid in made)


def test_json_log_lines_carry_the_request_id(bare_app: FastAPI, json_lines: io.StringIO) -> None:
    """Every line logged while serving a request (in its thread, and the 500's) is one JSON
    object with UTC time, level, logger, message and that request's id; a crash's line has the
    traceback, and its answer has the id too. Lines outside a request have no id."""
    with TestClient(bare_app, raise_server_exceptions=False) as client:
        client.get("/test/log", headers={"X-Request-ID": "req-1"})
        crashed = client.get("/test/boom", headers={"X-Request-ID": "req-2"})
    logging.getLogger("qunbang.test").error("outside")
    assert crashed.status_code == 500 and crashed.headers["X-Request-ID"] == "req-2"
    routed, failed, outside = records(json_lines)
    assert routed["message"] == "来自路由 / from a route" and routed["request_id"] == "req-1"
    assert routed["level"] == "WARNING" and routed["logger"] == "qunbang.test"
    assert failed["request_id"] == "req-2" and failed["logger"] == "qunbang.api"
    assert "RuntimeError: boom" in str(failed["exception"])
    assert "request_id" not in outside
    moment = dt.datetime.fromisoformat(str(routed["time"]).replace("Z", "+00:00"))
    assert str(routed["time"]).endswith("Z") and moment.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - moment) < dt.timedelta(minutes=5)


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Puts the loggers that the test's logging set-up changes back as they were."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = [
        (logging.getLogger(n), logging.getLogger(n).handlers[:], logging.getLogger(n).level)
        for n in names
    ]
    propagate = {n: logging.getLogger(n).propagate for n in names}
    yield
    for logger, handlers, level in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate[logger.name if logger.name != "root" else ""]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_server_logging_puts_the_request_id_on_access_and_app_lines(
    log_format: str, logging_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve``'s logging set-up (as uvicorn applies it) writes uvicorn's access lines and the
    app's lines with the request id, as text or as one JSON object per line."""
    logging.config.dictConfig(server_logging_config(log_format))  # type: ignore[arg-type]
    token = request_id.set("rid-9")
    try:
        access = ('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/health", "1.1", 200)
        logging.getLogger("uvicorn.access").info(*access)
        logging.getLogger("qunbang.notify").info("notify id=%s", 7)
    finally:
        request_id.reset(token)
    output = capsys.readouterr()
    lines = (output.out + output.err).splitlines()
    assert len(lines) == 2
    if log_format == "json":
        parsed = [json.loads(line) for line in lines]
        assert {p["logger"] for p in parsed} == {"uvicorn.access", "qunbang.notify"}
        assert all(p["request_id"] == "rid-9" for p in parsed)
        assert any("GET /health" in str(p["message"]) for p in parsed)
    else:
        assert all("rid-9" in line for line in lines)
        assert any("GET /health" in line and "200" in line for line in lines)


def test_cli_logging_writes_json_when_asked(
    logging_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's logging in JSON: warnings as JSON lines on stderr, infos left out."""
    logging.getLogger().handlers[:] = []  # as in a fresh process (pytest adds its own)
    configure_cli_logging("json")
    logging.getLogger("qunbang.cli").info("quiet")
    logging.getLogger("qunbang.cli").warning("夜间运行失败 / nightly failed")
    (line,) = capsys.readouterr().err.splitlines()
    assert json.loads(line)["message"] == "夜间运行失败 / nightly failed"


# ----------------------------------------------------------------------------- /metrics


def _stored_figures(sessions: sessionmaker[Session], world: World) -> None:
    """Two nightly runs of the world's street (a good one, then a failed one) and three unsent
    messages: one due, one waiting for its back-off, one failed for good."""
    started = dt.datetime(2026, 11, 22, 22, 0)
    figures = {"wall_s": 12.5, "coverage_ratio": 0.875, "orders": 40, "covered": 35}
    with sessions() as session:
        session.add_all(
            [
                RunRow(
                    street_id=world.street_id,
                    date=DATE,
                    kind=RunKind.NIGHTLY,
                    status=status,
                    started_at=started + dt.timedelta(hours=hours),
                    finished_at=started + dt.timedelta(hours=hours, seconds=13),
                    figures=figures if status == RunStatus.DONE else {},
                )
                for hours, status in ((0, RunStatus.DONE), (1, RunStatus.FAILED))
            ]
        )
        later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)
        for status, next_attempt_at in (
            (NotificationStatus.PENDING, None),
            (NotificationStatus.PENDING, later),
            (NotificationStatus.FAILED, None),
        ):
            session.add(
                NotificationRow(
                    helper_id=world.helper_ids[0],
                    kind=NotificationKind.OFFER,
                    text_zh="测试",
                    text_en="test",
                    status=status,
                    next_attempt_at=next_attempt_at,
                )
            )
        session.commit()


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_metrics_expose_latency_by_route_template_nightly_and_outbox(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    """After a few requests, /metrics has the latency histogram labelled by route template
    (never the raw path), each street's last nightly run and the outbox backlog."""
    _stored_figures(sessions, world)
    headers = login(client, "staff")
    helper = world.helper_ids[0]
    for _ in range(2):
        assert client.get(f"/helpers/{helper}", headers=headers).status_code == 200
    body = client.get("/metrics", headers=SCRAPE)
    assert body.status_code == 200 and body.headers["content-type"].startswith("text/plain")
    samples = _samples(body.text)
    route = (("method", "GET"), ("route", "/helpers/{helper_id}"), ("status", "2xx"))
    assert samples[("qunbang_http_request_duration_seconds_count", route)] >= 2
    assert f"/helpers/{helper}" not in body.text
    with sessions() as session:
        code = session.get_one(Street, world.street_id).code
    street = (("street", code),)
    ended = dt.datetime(2026, 11, 22, 22, 0, 13, tzinfo=dt.UTC).timestamp()
    assert samples[("qunbang_nightly_last_success_timestamp_seconds", street)] == ended
    assert samples[("qunbang_nightly_last_failure_timestamp_seconds", street)] == ended + 3600
    assert samples[("qunbang_nightly_duration_seconds", street)] == 12.5
    assert samples[("qunbang_nightly_coverage_ratio", street)] == 0.875
    assert samples[("qunbang_nightly_covered_orders", street)] == 35
    for state, count in (("due", 1), ("waiting", 1), ("failed", 1)):
        assert samples[("qunbang_outbox_messages", (("state", state),))] == count
    assert samples[("qunbang_outbox_oldest_due_age_seconds", ())] >= 0


def test_metrics_need_the_scrape_token(client: TestClient, settings: Settings) -> None:
    """/metrics answers 401 without the token, with a wrong one or a staff login, and to
    everyone while no token is set."""
    staff = login(client, "staff")
    for headers in ({}, {"Authorization": "Bearer wrong"}, staff):
        assert client.get("/metrics", headers=headers).status_code == 401
    client.app.state.settings = settings.model_copy(update={"metrics_token": SecretStr("")})  # type: ignore[attr-defined]
    refused = client.get("/metrics", headers=SCRAPE)
    assert refused.status_code == 401 and "QUNBANG_METRICS_TOKEN" in refused.json()["detail"]


SCRIPT = """
import sys
from api.http.observe import REQUEST_SECONDS, served_figures
REQUEST_SECONDS.labels("/health", "GET", "2xx").observe(0.01)
if sys.argv[1] == "print":
    sys.stdout.write(served_figures().decode())
"""


def test_workers_figures_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """With ``serve --workers N``'s shared folder, a scrape adds up every worker's requests
    (here two processes, one request each)."""
    env = {**os.environ, MULTIPROCESS_ENV: str(tmp_path)}
    for step in ("count", "print"):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, step], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    route = (("method", "GET"), ("route", "/health"), ("status", "2xx"))
    assert _samples(done.stdout)[("qunbang_http_request_duration_seconds_count", route)] == 2


def test_serve_shares_a_fresh_folder_between_workers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several workers get a fresh shared folder for the time the server runs; one worker, or a
    folder the operator chose, is left as it is."""
    monkeypatch.delenv(MULTIPROCESS_ENV, raising=False)
    with shared_across_workers(1):
        assert MULTIPROCESS_ENV not in os.environ
    with shared_across_workers(2):
        folder = Path(os.environ[MULTIPROCESS_ENV])
        assert folder.is_dir() and not any(folder.iterdir())
    assert MULTIPROCESS_ENV not in os.environ and not folder.exists()
    monkeypatch.setenv(MULTIPROCESS_ENV, "/srv/chosen")
    with shared_across_workers(2):
        assert os.environ[MULTIPROCESS_ENV] == "/srv/chosen"


# ----------------------------------------------------------------------------- /health


def test_health_is_ok_when_the_database_answers(client: TestClient) -> None:
    """A reachable database at the schema's head: 200 ``{"status": "ok"}``."""
    answer = client.get("/health")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_health_is_503_when_the_database_is_missing(
    client: TestClient, db_url: str, tmp_path: Path
) -> None:
    """A database that cannot be reached (here: one that does not exist) answers 503 with a
    clear body, not a 500."""
    url = make_url(db_url)
    missing = str(tmp_path / "gone" / "q.db") if url.get_backend_name() == "sqlite" else "qb_gone"
    engine = create_engine(url.set(database=missing))
    client.app.state.sessions = session_factory(engine)  # type: ignore[attr-defined]
    try:
        answer = client.get("/health")
    finally:
        engine.dispose()
    assert answer.status_code == 503
    assert answer.json()["code"] == "database_unreachable"
    assert answer.json()["status"] == "unavailable" and "数据库" in answer.json()["detail"]


def test_health_is_503_when_the_schema_is_not_this_versions(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """A database whose schema is behind (not upgraded) answers 503 naming both versions."""
    with sessions() as session:
        head = session.scalar(text("SELECT version_num FROM alembic_version"))
        session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        session.commit()
        try:
            answer = client.get("/health")
        finally:
            session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
            session.commit()
    assert answer.status_code == 503 and answer.json()["code"] == "schema_mismatch"
    assert "0001" in answer.json()["detail"] and str(head) in answer.json()["detail"]


def test_route_tables_are_built_at_startup_not_on_the_first_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's starting worker (``serving_app``: ``warm``) builds FastAPI's lazy per-router
    route tables in its lifespan, so the first requests do not wait for them (about a second of
    CPU on a busy machine); an app made for a test does not (a quarter second each)."""
    import fastapi.routing as routing

    included = getattr(routing, "_IncludedRouter", None)
    if included is None:
        pytest.skip("this FastAPI builds its route tables eagerly")
    built: list[str] = []
    build = included._build_effective_context

    def counting(self: object, route: object) -> object:
        built.append(getattr(route, "path", "?"))
        return build(self, route)

    monkeypatch.setattr(included, "_build_effective_context", counting)
    url = f"sqlite:///{tmp_path}/q.db"
    from api.store.db import migrate

    migrate(url)
    app = create_app(Settings(database_url=url, tick_seconds=0), ticker=False, warm=True)
    assert built == []
    with TestClient(app) as client:
        at_startup = len(built)
        assert at_startup > 20  # every included router's routes
        assert client.get("/health").status_code == 200
        assert client.get("/no/such/page").status_code == 404  # walks every router
    assert len(built) == at_startup


def test_a_served_worker_freezes_what_it_built_at_startup(tmp_path: Path) -> None:
    """A server's worker (``warm``) moves what it built before answering out of the garbage
    collector's walks (``gc.freeze``) and collects its young objects less often; an app made
    for a test does neither."""
    from api.http.app import YOUNG_COLLECTION_EVERY
    from api.store.db import migrate

    url = f"sqlite:///{tmp_path}/q.db"
    migrate(url)
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        with TestClient(create_app(Settings(database_url=url, tick_seconds=0), ticker=False)):
            assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
        app = create_app(Settings(database_url=url, tick_seconds=0), ticker=False, warm=True)
        with TestClient(app) as client:
            assert gc.get_freeze_count() > 10_000
            assert gc.get_threshold() == (YOUNG_COLLECTION_EVERY, *thresholds[1:])
            assert client.get("/health").status_code == 200
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
