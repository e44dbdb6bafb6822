"""Accounts, password hashing (argon2id) and expiring bearer tokens (only their hash is stored)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.errors import BadInput, Conflict, Unauthorized
from api.services.audit import audit
from api.store.tables import ROLES, TokenRow, UserRow, utcnow

HASHER = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = HASHER.hash("qunbang-dummy-password")


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
) -> UserRow:
    """Create an account; the caller commits."""
    if role not in ROLES:
        raise BadInput(
            f"未知角色 unknown role {role!r}; 可选 choose from {', '.join(ROLES)}", "role"
        )
    if len(password) < 8:
        raise BadInput("密码至少 8 位 / password needs at least 8 characters", "password")
    if role == "helper" and helper_id is None:
        raise BadInput("志愿者账号需要关联志愿者 / a helper account needs a helper", "helper")
    if role == "resident" and resident_id is None:
        raise BadInput("居民账号需要关联居民 / a resident account needs a resident", "resident")
    if role in ("staff", "planner") and street_id is None:
        raise BadInput("工作人员账号需要街道 / staff and planner accounts need a street", "street")
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise Conflict(f"用户名已存在 / username {username!r} is taken", "username")
    user = UserRow(
        username=username,
        password_hash=HASHER.hash(password),
        role=role,
        street_id=street_id,
        community_id=community_id,
        helper_id=helper_id,
        resident_id=resident_id,
        display_name=display_name or username,
    )
    session.add(user)
    session.flush()
    audit(session, None, "user.add", "user", user.id, {"username": username, "role": role})
    return user


def login(session: Session, username: str, password: str, ttl_minutes: int) -> IssuedToken:
    """Check the password and issue a token valid for ``ttl_minutes``."""
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    try:
        HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.active:
        raise Unauthorized("用户名或密码错误 / wrong username or password")
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + dt.timedelta(minutes=ttl_minutes)
    session.add(TokenRow(token_hash=hash_token(token), user_id=user.id, expires_at=expires_at))
    session.commit()
    return IssuedToken(token=token, expires_at=expires_at, user=user)


def user_for_token(session: Session, token: str) -> tuple[UserRow, dt.datetime]:
    """The active user a valid, unexpired token belongs to, and when the token expires."""
    row = session.scalar(select(TokenRow).where(TokenRow.token_hash == hash_token(token)))
    if row is None or row.revoked or row.expires_at <= utcnow() or not row.user.active:
        raise Unauthorized("登录已失效，请重新登录 / not logged in or the login has expired")
    return row.user, row.expires_at


def logout(session: Session, token: str) -> None:
    row = session.scalar(select(TokenRow).where(TokenRow.token_hash == hash_token(token)))
    if row is not None:
        row.revoked = True
        session.commit()


def check_database(session: Session) -> None:
    """Raise if the database does not answer (the health check)."""
    session.execute(text("SELECT 1"))
