"""Logins, login limits, tokens (revoked in every worker at once) and the routes open
without one."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.http.app import create_app
from api.services.accounts import auth
from api.settings import Settings
from api.store.tables import LoginFailure, TokenRow
from tests.api.conftest import PASSWORD, World, login


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


def test_logout_and_deactivation_end_tokens_in_every_worker_at_once(
    settings: Settings, world: World, sessions: sessionmaker[Session]
) -> None:
    """Two app instances on one database stand for two worker processes: a logout through one,
    an account deactivated, or a helper deactivated by staff through the other, is refused by
    both on the very next request."""
    with (
        TestClient(create_app(settings, ticker=False)) as first,
        TestClient(create_app(settings, ticker=False)) as second,
    ):
        headers = login(first, "staff")
        assert second.get("/auth/me", headers=headers).status_code == 200
        assert first.post("/auth/logout", headers=headers).status_code == 204
        assert second.get("/auth/me", headers=headers).status_code == 401

        headers = login(first, "planner")
        assert second.get("/auth/me", headers=headers).status_code == 200
        with sessions() as session:
            auth.deactivate_user(session, None, "planner")
        assert first.get("/auth/me", headers=headers).status_code == 401
        assert second.get("/auth/me", headers=headers).status_code == 401

        helper = login(first, "helper1")
        assert second.get("/me/offers", headers=helper).status_code == 200
        staff = login(second, "staff")
        helper_id = world.helper_ids[0]
        assert second.post(f"/helpers/{helper_id}/deactivate", headers=staff).status_code == 200
        assert first.get("/me/offers", headers=helper).status_code == 401
        with sessions() as session:
            live = session.scalars(select(TokenRow).where(TokenRow.revoked.is_(False))).all()
            assert {row.user.username for row in live} == {"staff"}


# ----------------------------------------------------------------------------- login limits


def wrong(client: TestClient, username: str = "staff") -> Response:
    return client.post("/auth/token", data={"username": username, "password": "wrong-pass-1"})


def right(client: TestClient, username: str = "staff") -> Response:
    return client.post("/auth/token", data={"username": username, "password": PASSWORD})


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """After 5 wrong passwords for one account, every login to it (the right password too)
    answers 429 with Retry-After and code too_many_attempts, until the window passes; other
    accounts are not affected."""
    assert [wrong(client).status_code for _ in range(5)] == [401] * 5
    locked = right(client)
    assert locked.status_code == 429
    body = locked.json()
    assert body["code"] == "too_many_attempts" and body["field"] == "username"
    assert "15 分钟" in body["detail"] and 800 < int(locked.headers["retry-after"]) <= 900
    assert wrong(client).status_code == 429  # refused without counting: the lock does not grow
    assert right(client, "planner").status_code == 200
    with sessions() as session:  # the window passes
        for row in session.scalars(select(LoginFailure)):
            row.at -= dt.timedelta(minutes=15)
        session.commit()
    assert right(client).status_code == 200


def test_a_right_password_clears_the_account_failures(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """Four failures and then the right password leave no failure counted for the account."""
    for _ in range(4):
        wrong(client)
    assert right(client).status_code == 200
    with sessions() as session:
        assert session.scalars(select(LoginFailure.username)).all() == []
    assert [wrong(client).status_code for _ in range(4)] == [401] * 4
    assert right(client).status_code == 200


def test_one_client_address_is_limited_across_accounts(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """Twenty failures from one address, spread over many (unknown) usernames, lock that
    address out of every account; the message names no account."""
    for n in range(20):
        assert wrong(client, f"ghost{n}").status_code == 401
    locked = right(client, "planner")
    assert locked.status_code == 429 and locked.json()["field"] is None
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 20


def test_limits_hold_across_worker_processes(settings: Settings, world: World) -> None:
    """Failures counted by one app instance (worker) lock the account in another: the count
    lives in the database."""
    with (
        TestClient(create_app(settings, ticker=False)) as first,
        TestClient(create_app(settings, ticker=False)) as second,
    ):
        for n in range(5):
            wrong(first if n % 2 else second)
        assert right(first).status_code == right(second).status_code == 429


def test_login_limits_follow_the_settings(settings: Settings, world: World) -> None:
    """QUNBANG_LOGIN_FAILURES_PER_ACCOUNT sets how many failures lock an account."""
    strict = settings.model_copy(update={"login_failures_per_account": 2})
    with TestClient(create_app(strict, ticker=False)) as client:
        assert [wrong(client).status_code for _ in range(3)] == [401, 401, 429]
