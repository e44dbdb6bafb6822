"""Accounts, password hashing (argon2id), expiring bearer tokens (only their hash is stored)
and login throttling (failed attempts counted in the database, so every worker sees them)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.actor import Actor, actor_of
from api.services.errors import BadInput, Conflict, TooManyAttempts, Unauthorized
from api.settings import Settings
from api.store.tables import ROLES, LoginFailure, TokenRow, UserRow, utcnow

HASHER = PasswordHasher()


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """What an unknown username's password is verified against, so that it is as slow as a
    wrong password: made by ``hasher`` at its first use (not at import: every process would
    pay a hash to start)."""
    return hasher.hash("qunbang-dummy-password")


# Failed logins older than this are deleted (they no longer count towards any limit).
FAILURES_KEPT = dt.timedelta(days=1)


@dataclass(frozen=True)
class LoginLimits:
    """At most ``per_account`` failed logins for one username and ``per_client`` from one
    client address within ``window``; past either, logins are refused (even with the right
    password) until enough failures leave the window."""

    per_account: int = 5
    per_client: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)


def login_limits(settings: Settings) -> LoginLimits:
    """The login limits the settings ask for."""
    return LoginLimits(
        per_account=settings.login_failures_per_account,
        per_client=settings.login_failures_per_client,
        window=dt.timedelta(minutes=settings.login_window_minutes),
    )


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: dt.datetime
    user: UserRow


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    street_id: int | None = None,
    community_id: int | None = None,
    helper_id: int | None = None,
    resident_id: int | None = None,
    display_name: str = "",
    grid_id: int | None = None,
) -> UserRow:
    """Create an account; the caller commits."""
    if role not in ROLES:
        raise BadInput(
            _(
                "unknown role %(role)s; choose from %(roles)s",
                role=repr(role),
                roles=_(", ").join(ROLES),
            ),
            "role",
        )
    if len(password) < 8:
        raise BadInput(_("password needs at least 8 characters"), "password")
    if role == "helper" and helper_id is None:
        raise BadInput(_("a helper account needs a helper"), "helper")
    if role == "resident" and resident_id is None:
        raise BadInput(_("a resident account needs a resident"), "resident")
    if role in ("staff", "planner", "family") and street_id is None:
        raise BadInput(_("staff and planner accounts need a street"), "street")
    if role == "grid_worker" and (grid_id is None or community_id is None or street_id is None):
        raise BadInput(_("a grid worker account needs a street, a community and a grid"), "grid")
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise Conflict(_("username %(username)s is taken", username=repr(username)), "username")
    user = UserRow(
        username=username,
        password_hash=HASHER.hash(password),
        role=role,
        street_id=street_id,
        community_id=community_id,
        helper_id=helper_id,
        resident_id=resident_id,
        grid_id=grid_id,
        display_name=display_name or username,
    )
    session.add(user)
    session.flush()
    audit(session, None, "user.add", "user", user.id, {"username": username, "role": role})
    return user


def login(
    session: Session,
    username: str,
    password: str,
    ttl_minutes: int,
    *,
    client: str = "",
    limits: LoginLimits | None = None,
    now: dt.datetime | None = None,
) -> IssuedToken:
    """Check the password and issue a token valid for ``ttl_minutes``.

    ``TooManyAttempts`` when the username or the client address had too many failures lately
    (the password is then not even checked); ``Unauthorized`` for a wrong password or an unknown
    or inactive account. The attempt is counted as a failure before the (slow) password check,
    so that parallel guesses see each other; a success clears the account's failures."""
    limits = limits or LoginLimits()
    now = now or utcnow()
    username, client = username[:64], client[:64]
    _refuse_if_throttled(session, username, client, limits, now)
    session.add(LoginFailure(username=username, client=client, at=now))
    session.commit()
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    # End the read before the slow hash check: each write below starts its own transaction
    # (on SQLite a read transaction that later writes can fail if another writer went first).
    session.commit()
    try:
        HASHER.verify(user.password_hash if user else _dummy_hash(HASHER), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.active:
        _forget_old_failures(session, username, client, now)
        session.commit()
        raise Unauthorized(_("wrong username or password"))
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    token = secrets.token_urlsafe(32)
    expires_at = now + dt.timedelta(minutes=ttl_minutes)
    session.add(TokenRow(token_hash=hash_token(token), user_id=user.id, expires_at=expires_at))
    session.commit()
    return IssuedToken(token=token, expires_at=expires_at, user=user)


def _refuse_if_throttled(
    session: Session, username: str, client: str, limits: LoginLimits, now: dt.datetime
) -> None:
    """``TooManyAttempts`` with the seconds until the oldest counted failure leaves the window,
    if the account or the client address reached its limit."""
    since = now - limits.window
    for column, value, limit, field in (
        (LoginFailure.username, username, limits.per_account, "username"),
        (LoginFailure.client, client, limits.per_client, None),
    ):
        recent = (
            select(LoginFailure.at)
            .where(column == value, LoginFailure.at > since)
            .order_by(LoginFailure.at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        oldest_counted = session.scalar(recent)
        if oldest_counted is not None:
            session.rollback()
            wait = max(1, math.ceil((oldest_counted + limits.window - now).total_seconds()))
            minutes = math.ceil(wait / 60)
            raise TooManyAttempts(
                _("too many failed logins: try again in %(minutes)s min", minutes=minutes),
                field,
                retry_after=wait,
            )
    session.rollback()  # end the read: the write that follows starts a fresh transaction


def _forget_old_failures(session: Session, username: str, client: str, now: dt.datetime) -> None:
    """Delete this account's and this client's failures older than ``FAILURES_KEPT`` (both
    indexed: a wrong password never scans the whole table)."""
    session.execute(
        delete(LoginFailure).where(
            or_(LoginFailure.username == username, LoginFailure.client == client),
            LoginFailure.at < now - FAILURES_KEPT,
        )
    )


def actor_of_token(session: Session, token: str, now: dt.datetime | None = None) -> Actor:
    """The actor whose valid, unexpired, unrevoked token this is (an active account): one
    indexed read, made on every request, so that a logout or a deactivation in any worker takes
    effect at once."""
    user = session.scalar(
        select(UserRow)
        .join(TokenRow, TokenRow.user_id == UserRow.id)
        .where(
            TokenRow.token_hash == hash_token(token),
            TokenRow.revoked.is_(False),
            TokenRow.expires_at > (now or utcnow()),
            UserRow.active.is_(True),
        )
    )
    if user is None:
        raise Unauthorized(_("not logged in or the login has expired"))
    return actor_of(user)


def logout(session: Session, token: str) -> None:
    session.execute(
        update(TokenRow).where(TokenRow.token_hash == hash_token(token)).values(revoked=True)
    )
    session.commit()


def revoke_tokens(
    session: Session,
    *,
    user_id: int | None = None,
    helper_id: int | None = None,
    resident_id: int | None = None,
) -> int:
    """Revoke every live token of an account, or of the accounts tied to a helper or a
    resident (part of the caller's transaction); returns how many were revoked."""
    owners = [
        column == value
        for column, value in (
            (UserRow.id, user_id),
            (UserRow.helper_id, helper_id),
            (UserRow.resident_id, resident_id),
        )
        if value is not None
    ]
    if not owners:
        return 0
    users = select(UserRow.id).where(or_(*owners))
    result = session.execute(
        update(TokenRow)
        .where(TokenRow.user_id.in_(users), TokenRow.revoked.is_(False))
        .values(revoked=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def deactivate_user(session: Session, actor_user_id: int | None, username: str) -> UserRow:
    """Deactivate an account (kept, never deleted) and revoke its tokens; commits."""
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None:
        raise BadInput(_("no account %(username)s", username=repr(username)), "username")
    user.active = False
    revoked = revoke_tokens(session, user_id=user.id)
    audit(session, actor_user_id, "user.deactivate", "user", user.id, {"revoked": revoked})
    session.commit()
    return user
