"""Ids, page numbers and other whole numbers beyond the columns' range, on every route of the app.

The walk reads the routes from ``app.routes``: a route added later is walked too. Each int
parameter (path, query, a query model's field, a JSON body field or a list of ints in one) gets
2**63, 3,000,000,000, -1 and 0 with a staff and a helper login (bearer header and page cookie).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.http.app import create_app
from api.http.pages.render import csrf_token
from api.http.params import ID_MAX, id_in_range, page_in_range
from api.settings import Settings
from tests.api.conftest import login

HUGE = (2**63, 3_000_000_000, -1)  # outside every int parameter's range
# What each database kind is walked with: both overflow 64 bits (2**63); only PostgreSQL's
# 32-bit columns overflow at 3e9 (SQLite's integers hold it), and -1 and 0 fit every column,
# so what they get back cannot depend on the database: one kind walks them.
VALUES = {"sqlite": (2**63, -1, 0), "postgresql": (2**63, 3_000_000_000)}
STR_PATH_VALUES = {"kind": "helpers", "code": "en"}


@dataclass(frozen=True)
class IntParam:
    """One int the route reads: where it comes from, its name and whether it is a list."""

    place: str  # "path", "query" or "body"
    name: str
    many: bool = False


def _int_kind(annotation: Any) -> str | None:
    """ "one" for an int (or int | None), "many" for a list of ints, else None."""
    if annotation is int:
        return "one"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _int_kind(args[0])
    if origin in (typing.Union, types.UnionType):
        kinds = {_int_kind(arg) for arg in args if arg is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin is list and args and _int_kind(args[0]) == "one":
        return "many"
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (model := _model_of(arg)) is not None:
            return model
    return None


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def int_params(route: APIRoute) -> list[IntParam]:
    """Every int the route takes, from its dependency tree."""
    found: list[IntParam] = []
    for dependant in _dependants(route.dependant):
        for place, fields in (
            ("path", dependant.path_params),
            ("query", dependant.query_params),
            ("body", dependant.body_params),
        ):
            for field in fields:
                annotation = field.field_info.annotation
                model = _model_of(annotation)
                if model is not None:
                    for name, inner in model.model_fields.items():
                        if kind := _int_kind(inner.annotation):
                            found.append(IntParam(place, inner.alias or name, kind == "many"))
                elif kind := _int_kind(annotation):
                    found.append(IntParam(place, field.alias, kind == "many"))
    return found


def _path_names(route: APIRoute) -> list[str]:
    return [field.name for d in _dependants(route.dependant) for field in d.path_params]


def _request(client: TestClient, route: APIRoute, param: IntParam, value: int, auth: str) -> Any:
    path_values: dict[str, Any] = {
        name: STR_PATH_VALUES.get(name, 1) for name in _path_names(route)
    }
    query: dict[str, Any] = {}
    body: dict[str, Any] | None = None
    sent: Any = [value] if param.many else value
    if param.place == "path":
        path_values[param.name] = value
    elif param.place == "query":
        query[param.name] = sent
    else:
        body = {param.name: sent}
    path = route.path_format.format(**path_values)
    method = sorted(route.methods or {"GET"})[0]
    headers = {"Authorization": f"Bearer {auth}", "X-CSRF-Token": csrf_token(auth)}
    client.cookies.set("qb_token", auth)
    return client.request(method, path, params=query, json=body, headers=headers)


def _routes(client: TestClient) -> list[APIRoute]:
    """The app's routes, pages included (FastAPI keeps included routers' routes behind them)."""
    found = (context.original_route for context in iter_route_contexts(client.app.routes))  # type: ignore[attr-defined]
    return [route for route in found if isinstance(route, APIRoute)]


def _named(response: Any, name: str) -> bool:
    body = response.json()
    fields = {body.get("field")} | {e.get("field") for e in body.get("errors", [])}
    return any(f == name or (f or "").startswith(f"{name}.") for f in fields)


@pytest.fixture
def app_client(client: TestClient) -> TestClient:
    """The app's client answering a server error with its 500 (not raising it into the test)."""
    return TestClient(client.app, raise_server_exceptions=False)


def test_the_walk_finds_the_id_and_page_parameters() -> None:
    """The walk sees path ids, query filters, page numbers and body id lists (else it tests
    nothing)."""
    app = create_app(Settings(database_url="sqlite://", tick_seconds=0), ticker=False)
    routes = _routes(TestClient(app))
    seen = {(route.path, p.place, p.name) for route in routes for p in int_params(route)}
    for expected in [
        ("/orders/{order_id}", "path", "order_id"),
        ("/notifications", "query", "helper_id"),
        ("/orders", "query", "resident_id"),
        ("/helpers", "query", "page"),
        ("/orders/{order_id}/reassign", "body", "helper_ids"),
        ("/me/claims/bundle", "body", "order_ids"),
        ("/points/bonus", "body", "amount"),
    ]:
        assert expected in seen


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_out_of_range_ints_never_give_a_server_error(app_client: TestClient, db_url: str) -> None:
    """Every int parameter of every route answers 2**63, 3e9, -1 and 0 without a 5xx (each value
    on the database kinds it could trouble: ``VALUES``); API routes refuse the values outside
    the range with 422 naming the parameter."""
    client = app_client
    values = VALUES["sqlite" if db_url.startswith("sqlite") else "postgresql"]
    tokens = [login(client, "staff"), login(client, "helper1")]
    tokens_raw = [headers["Authorization"].removeprefix("Bearer ") for headers in tokens]
    failures = []
    for route in _routes(client):
        for param in int_params(route):
            for value in values:
                answers = [_request(client, route, param, value, token) for token in tokens_raw]
                label = f"{route.path} {param.place}:{param.name}={value}"
                if any(answer.status_code >= 500 for answer in answers):
                    failures.append(f"{label}: {[a.status_code for a in answers]}")
                    continue
                if not route.include_in_schema or value not in HUGE:
                    continue
                if not any(a.status_code == 422 and _named(a, param.name) for a in answers):
                    failures.append(f"{label}: {[(a.status_code, a.text[:80]) for a in answers]}")
    assert failures == []


def test_page_helpers_keep_values_in_range() -> None:
    """The page helpers bound a typed page number and recognise ids the columns can hold."""
    assert page_in_range(-5) == 1 and page_in_range(10**30) == ID_MAX
    assert id_in_range(ID_MAX) and not id_in_range(ID_MAX + 1) and not id_in_range(0)


PAGE_QUERIES = [
    ("staff", "/s/helpers?page=99999999999999999999&community_id=99999999999999999999"),
    ("staff", "/s/residents?page=99999999999999999999&community_id=3000000000"),
    ("staff", "/s/?page=99999999999999999999"),
    ("helper1", "/v/?page=99999999999999999999"),
    ("helper1", "/v/points?page=9223372036854775808"),
    ("helper1", "/v/claim?page=3000000000"),
]
PAGE_FORMS = [
    ("/s/orders/1/assign", {"helper_ids": "3000000000"}),
    ("/s/orders/new", {"resident_id": "9223372036854775808", "item": "x", "date": "2026-11-24"}),
]


def test_pages_given_huge_numbers_answer(app_client: TestClient) -> None:
    """Pages given numbers past the columns' range in the query show a page, and staff forms
    given such ids redirect or show the form with an error: never a 500."""
    tokens = {
        user: login(app_client, user)["Authorization"].removeprefix("Bearer ")
        for user in ("staff", "helper1")
    }
    answers = {}
    for user, path in PAGE_QUERIES:
        app_client.cookies.set("qb_token", tokens[user])
        answers[path] = app_client.get(path, follow_redirects=False).status_code
    app_client.cookies.set("qb_token", tokens["staff"])
    as_the_forms_do = {"X-CSRF-Token": csrf_token(tokens["staff"])}
    for path, form in PAGE_FORMS:
        answer = app_client.post(path, data=form, headers=as_the_forms_do, follow_redirects=False)
        answers[path] = answer.status_code
    assert {path: status for path, status in answers.items() if status >= 500} == {}
    assert answers["/s/orders/new"] == 422 and answers["/s/orders/1/assign"] == 303
