"""Schemathesis against the app in-process, once per role: shared by the test suite (a few
examples per operation) and ``bench/api_fuzz_bench.py`` (thousands of requests).

Each operation of the OpenAPI document gets positive and negative cases from schemathesis'
Hypothesis strategies, derandomized (the same cases every run) and never shrunk; every response
goes through all of schemathesis' checks (server errors, status codes and bodies as declared,
content types, headers, auth ignored, negative data accepted …). Failures are collected, not
raised, so one run reports every finding.

Left out: ``POST /runs`` (a nightly solve takes seconds; ``test_nightly`` covers it) and
``POST /auth/logout`` (it would revoke the very token the role fuzzes with).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.ledger.seed import seed_street
from api.services.matching.nightly import run_nightly
from api.settings import Settings
from api.store.tables import Community, HelperRow, OfferRow, OrderRow
from matcher.generator import preset

PASSWORD = "correct-horse-9"
# Who fuzzes: None = no login at all.
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "staff": "fz_staff",
    "community staff": "fz_staff_c1",
    "planner": "fz_planner",
    "helper": "fz_helper",
    "resident": "fz_resident",
}
SKIPPED = {("POST", "/runs"), ("POST", "/auth/logout")}
# A well-formed request may still break a service rule that JSON Schema cannot state (the item is
# in the catalogue, the date ahead, the helper has the skill, a window ends after it starts):
# the API refuses it with 422 and a code. So 422 counts as an expected answer to valid data, and
# ``_refused_by_validation`` fails what the schema could have said (a type, a bound, a field).
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
            }
        }
    }
)


def seed_fuzz_world(sessions: sessionmaker[Session], settings: Settings, day: dt.date) -> None:
    """A tiny street with orders on ``day``, matched by one nightly run (so offers, a run and
    timestamps exist to be read), and one account per role (usernames in ``ROLES``): the helper
    account is a helper with an offer, the resident account a resident with an order."""
    with sessions() as session:
        street_id = seed_street(session, preset("tiny", seed=1), order_date=day).street.id
        session.commit()
    run_nightly(sessions, settings, street_id, day, trigger="fuzz")
    with sessions() as session:

        def first(column: Any, *where: Any) -> Any:
            return session.scalars(select(column).where(*where).order_by(column)).first()

        community = first(Community.id, Community.street_id == street_id)
        helper = first(OfferRow.helper_id) or first(HelperRow.id, HelperRow.street_id == street_id)
        resident = first(OrderRow.resident_id)
        add_user(session, "fz_staff", PASSWORD, "staff", street_id=street_id)
        add_user(
            session, "fz_staff_c1", PASSWORD, "staff", street_id=street_id, community_id=community
        )
        add_user(session, "fz_planner", PASSWORD, "planner", street_id=street_id)
        add_user(session, "fz_helper", PASSWORD, "helper", helper_id=helper)
        add_user(session, "fz_resident", PASSWORD, "resident", resident_id=resident)
        session.commit()


@dataclass
class FuzzReport:
    """What a fuzz run sent and found."""

    requests: int = 0
    server_errors: int = 0
    check_failures: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: dict[str, str] = field(default_factory=dict)  # one example per distinct finding

    def add(self, other: FuzzReport) -> None:
        self.requests += other.requests
        self.server_errors += other.server_errors
        self.check_failures += other.check_failures
        self.statuses.update(other.statuses)
        for key, example in other.findings.items():
            self.findings.setdefault(key, example)


def role_headers(client: TestClient) -> dict[str, dict[str, str]]:
    """Request headers per role: a bearer token from logging in, none for anonymous."""
    headers: dict[str, dict[str, str]] = {}
    for role, username in ROLES.items():
        if username is None:
            headers[role] = {}
            continue
        answer = client.post("/auth/token", data={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        headers[role] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    return headers


def fuzz(
    client: TestClient,
    headers_by_role: dict[str, dict[str, str]],
    *,
    examples: int,
    negative_examples: int | None = None,
) -> FuzzReport:
    """Every operation for every role: ``examples`` valid-data cases and ``negative_examples``
    (default: as many) invalid-data cases each (fewer where the schema allows fewer), all
    checks on every response."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, config=CONFIG)
    counts = {
        GenerationMode.POSITIVE: examples,
        GenerationMode.NEGATIVE: examples if negative_examples is None else negative_examples,
    }
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises: the schema is ours
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        for role, headers in headers_by_role.items():
            for mode, count in counts.items():
                if count > 0:
                    report.add(_fuzz_operation(operation, role, headers, mode, count))
    return report


def _fuzz_operation(
    operation: Any,
    role: str,
    headers: dict[str, str],
    mode: GenerationMode,
    examples: int,
) -> FuzzReport:
    report = FuzzReport()

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report, do not minimise
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        report.requests += 1
        report.statuses[response.status_code] += 1
        if response.status_code >= 500:
            report.server_errors += 1
        if mode is GenerationMode.POSITIVE and (problem := _refused_by_validation(response)):
            report.check_failures += 1
            key = f"{operation.method.upper()} {operation.path} [positive] validation differs"
            report.findings.setdefault(
                key, f"{role}: {case.as_curl_command(headers=headers)}\n{problem}"
            )
        try:
            case.validate_response(response, headers=headers)
        except FailureGroup as group:
            report.check_failures += 1
            for failure in group.exceptions:
                key = f"{operation.method.upper()} {operation.path} [{mode.value}] {failure.title}"
                report.findings.setdefault(
                    key,
                    f"{role}: {case.as_curl_command(headers=headers)}\n{failure.message}"[:1500],
                )

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid: nothing to send
        run()
    return report


def _refused_by_validation(response: Any) -> str | None:
    """For a schema-valid request: the API's request validation refusing it for a reason the
    schema states (a type, a bound, a required field); a cross-field rule ("Value error, …")
    is a rule the schema cannot state."""
    if response.status_code != 422:
        return None
    body = response.json()
    if body.get("code") != "invalid":
        return None
    schema_kinds = [e for e in body.get("errors", []) if not e["message"].startswith("Value error")]
    return f"422 {schema_kinds}" if schema_kinds else None
