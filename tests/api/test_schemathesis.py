"""Schemathesis against the app for every role, all checks, a few examples per operation.

Bounded: derandomized cases, no shrinking, two valid-data and one invalid-data case per
operation and role; ``POST /runs`` (seconds-long solves) and ``POST /auth/logout`` are left out
(see ``fuzz_support``). SQLite only: the run costs about 1,000 requests, and PostgreSQL adds as
much again; ``bench/api_fuzz_bench.py --database-url …`` runs it on PostgreSQL with thousands.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.http.app import create_app
from api.services.offers.assign import local_today
from api.services.types import utc_text
from api.settings import Settings
from api.store.db import make_engine, session_factory
from tests.api.fuzz_support import fuzz, role_headers, seed_fuzz_world


@pytest.fixture
def fuzz_client(sqlite_template: Path, tmp_path: Path) -> Iterator[TestClient]:
    """The app on a fresh SQLite copy with one account per role; server errors answered."""
    shutil.copy(sqlite_template, tmp_path / "fuzz.db")
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    settings = Settings(database_url=url, tick_seconds=0, nightly_time_limit_s=5)
    engine = make_engine(url)
    seed_fuzz_world(session_factory(engine), settings, local_today(settings) + dt.timedelta(days=1))
    engine.dispose()
    app = create_app(settings, ticker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_schemathesis_finds_nothing_for_any_role(fuzz_client: TestClient) -> None:
    """Generated requests (valid and invalid) from every role get no server error and pass all
    of schemathesis' checks: statuses, bodies and headers as the OpenAPI document declares."""
    headers = role_headers(fuzz_client)
    report = fuzz(fuzz_client, headers, examples=2, negative_examples=1)
    assert report.requests > 500
    assert set(report.statuses) >= {200, 201, 401, 403, 404, 422}  # every kind of answer seen
    assert (report.server_errors, report.check_failures) == (0, 0), "\n\n".join(
        f"{key}\n{example}" for key, example in sorted(report.findings.items())
    )


def _stamps(hint: Any, where: str, seen: set[type]) -> Iterator[tuple[str, bool]]:
    """Each datetime reachable from ``hint``: where it is and whether it is ``UtcDateTime``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        if args[0] is dt.datetime:
            yield where, any(getattr(meta, "func", None) is utc_text for meta in args[1:])
        else:
            yield from _stamps(args[0], where, seen)
    elif hint is dt.datetime:
        yield where, False
    elif origin is not None:
        for arg in args:
            yield from _stamps(arg, where, seen)
    elif isinstance(hint, type) and hint not in seen:
        seen.add(hint)
        if dataclasses.is_dataclass(hint):
            for name, inner in typing.get_type_hints(hint, include_extras=True).items():
                yield from _stamps(inner, f"{hint.__name__}.{name}", seen)
        elif issubclass(hint, BaseModel):
            for name, field in hint.model_fields.items():
                inner = (
                    typing.Annotated[field.annotation, *field.metadata]
                    if field.metadata
                    else field.annotation
                )
                yield from _stamps(inner, f"{hint.__name__}.{name}", seen)


def test_every_timestamp_in_an_answer_is_utc_with_z() -> None:
    """Every datetime any API route answers with (its response model, nested dataclasses and
    models included) is ``UtcDateTime``: rendered in UTC with ``Z``."""
    app = create_app(Settings(database_url="sqlite://", tick_seconds=0), ticker=False)
    seen: set[type] = set()
    stamps = [
        stamp
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute) and route.include_in_schema
        for stamp in _stamps(route.response_model, route.path, seen)
    ]
    assert len(stamps) >= 15  # the walk reaches the views (offers, orders, runs, ledger …)
    assert [where for where, utc in stamps if not utc] == []
    assert utc_text(dt.datetime(2026, 11, 23, 8, 30)) == "2026-11-23T08:30:00Z"
    aware = dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert utc_text(aware) == "2026-11-23T08:30:00Z"


def _bare_app() -> Any:
    return create_app(Settings(database_url="sqlite://", tick_seconds=0), ticker=False)


def test_openapi_declares_the_errors_each_route_answers() -> None:
    """The OpenAPI document gives every refusal the shared body: 401 wherever a login is needed,
    403 and 404 behind a role gate, 404 with a path id, 422 (with ``field``) wherever input is
    read, 429 on the login; FastAPI's own 422 body is gone."""
    spec = _bare_app().openapi()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"detail", "code", "field", "errors"} <= set(schemas["InvalidOut"]["properties"])
    assert set(schemas["ErrorOut"]["required"]) == {"detail", "code"}

    def answers(path: str, method: str) -> dict[str, Any]:
        return spec["paths"][path][method]["responses"]  # type: ignore[no-any-return]

    token = answers("/auth/token", "post")
    assert token["429"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert {"401", "422"} <= set(token)
    assert set(answers("/helpers/{helper_id}", "get")) >= {"401", "403", "404", "422"}
    assert set(answers("/me/claims", "post")) >= {"400", "401", "403", "404", "409", "422"}
    assert set(answers("/health", "get")) == {"200", "503"}  # 503: the database is down
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):
                assert "401" in operation["responses"], (method, path)
            invalid = operation["responses"].get("422", {})
            if invalid:
                assert "InvalidOut" in str(invalid["content"]), (method, path)


def test_a_query_parameter_given_twice_is_refused() -> None:
    """A query parameter declared with one value and sent twice gets 422 naming it (FastAPI
    alone would keep one of the two silently); list parameters stay repeatable."""
    client = TestClient(_bare_app())
    answer = client.get("/helpers?page=1&page=2")
    assert answer.status_code == 422
    assert answer.json()["field"] == "page" and answer.json()["code"] == "invalid"
    assert client.get("/helpers?page=1").status_code == 401  # once is fine (then: log in)
