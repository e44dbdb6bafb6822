"""Logins, tokens and the routes open without one."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.store.tables import TokenRow
from tests.api.conftest import login


def test_health_is_open(client: TestClient) -> None:
    """The health check answers without a token."""
    assert client.get("/health").json() == {"status": "ok"}


def test_login_issues_a_token_for_the_right_password(client: TestClient) -> None:
    """A correct password gives a bearer token that /auth/me accepts."""
    me = client.get("/auth/me", headers=login(client, "staff"))
    assert me.status_code == 200
    assert me.json()["role"] == "staff"


def test_wrong_password_and_unknown_user_are_refused_alike(client: TestClient) -> None:
    """A wrong password and an unknown user both get 401 with the same message."""
    wrong = client.post("/auth/token", data={"username": "staff", "password": "nope-nope-1"})
    unknown = client.post("/auth/token", data={"username": "ghost", "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_nothing_else_is_reachable_anonymously(client: TestClient) -> None:
    """Every route except login, health and the docs answers 401 without a token."""
    open_paths = {
        "/health",
        "/auth/token",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
    }
    for route in client.app.routes:  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        if path in open_paths or not hasattr(route, "methods"):
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            concrete = path.replace("{", "").replace("}", "")
            concrete = "/".join(
                "1" if part.endswith("_id") else part for part in concrete.split("/")
            )
            response = client.request(method, concrete, follow_redirects=False)
            if getattr(route, "include_in_schema", True):
                assert response.status_code == 401, (method, path, response.status_code)
            else:
                assert response.status_code == 303, (method, path, response.status_code)
                assert response.headers["location"].startswith("/login"), path


def test_expired_and_revoked_tokens_are_refused(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    """A token past its expiry, or logged out, no longer works."""
    headers = login(client, "staff")
    with sessions() as session:
        for row in session.scalars(select(TokenRow)):
            row.expires_at = dt.datetime(2000, 1, 1)
        session.commit()
    assert client.get("/auth/me", headers=headers).status_code == 401
    headers = login(client, "staff")
    assert client.post("/auth/logout", headers=headers).status_code == 204
    assert client.get("/auth/me", headers=headers).status_code == 401


def test_cached_tokens_still_end_at_logout(settings, world) -> None:  # type: ignore[no-untyped-def]
    """With the token cache on, a logout ends the token at once and a known token is served
    from the cache (no database read) until the cache time passes."""
    from api.app import create_app

    cached = settings.model_copy(update={"token_cache_seconds": 60})
    with TestClient(create_app(cached, ticker=False)) as client:
        headers = login(client, "staff")
        assert client.get("/auth/me", headers=headers).status_code == 200
        with client.app.state.sessions() as session:  # type: ignore[attr-defined]
            for row in session.scalars(select(TokenRow)):
                row.expires_at = dt.datetime(2000, 1, 1)
            session.commit()
        assert client.get("/auth/me", headers=headers).status_code == 200  # served from cache
        assert client.post("/auth/logout", headers=headers).status_code == 204
        assert client.get("/auth/me", headers=headers).status_code == 401
