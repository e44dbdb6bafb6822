"""Schemathesis against the app for every role, all checks, a few examples per operation.

Bounded: derandomized cases, no shrinking, two valid-data and one invalid-data case per
operation and role; ``POST /runs`` (seconds-long solves) and ``POST /auth/logout`` are left out
(see ``fuzz_support``). SQLite only: the run costs about 1,000 requests, and PostgreSQL adds as
much again; ``bench/api_fuzz_bench.py --database-url …`` runs it on PostgreSQL with thousands.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.store.db import make_engine, session_factory
from tests.api.conftest import DATE
from tests.api.fuzz_support import fuzz, role_headers, seed_fuzz_world


@pytest.fixture
def fuzz_client(sqlite_template: Path, tmp_path: Path) -> Iterator[TestClient]:
    """The app on a fresh SQLite copy with one account per role; server errors answered."""
    shutil.copy(sqlite_template, tmp_path / "fuzz.db")
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    engine = make_engine(url)
    seed_fuzz_world(session_factory(engine), DATE)
    engine.dispose()
    app = create_app(Settings(database_url=url, tick_seconds=0), ticker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


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
