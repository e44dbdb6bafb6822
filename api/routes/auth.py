"""Login, logout, who am I, and the health check (the only routes open without a token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import CurrentActor, SessionDep, SettingsDep, oauth2
from api.services import auth

router = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: str
    role: str


class MeOut(BaseModel):
    username: str
    role: str
    street_id: int | None
    community_id: int | None
    helper_id: int | None
    resident_id: int | None


@router.get("/health")
def health(session: SessionDep) -> dict[str, str]:
    """Liveness and database reachability."""
    auth.check_database(session)
    return {"status": "ok"}


@router.post("/auth/token")
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    """Log in with username and password; returns a bearer token that expires. After too many
    failed logins for the account or from the client address, 429 with ``Retry-After``."""
    issued = auth.login(
        session,
        form.username,
        form.password,
        settings.token_ttl_minutes,
        client=request.client.host if request.client else "",
        limits=auth.login_limits(settings),
    )
    return TokenOut(
        access_token=issued.token,
        expires_at=issued.expires_at.isoformat() + "Z",
        role=issued.user.role,
    )


@router.post("/auth/logout", status_code=204)
def logout(
    session: SessionDep,
    _actor: CurrentActor,
    token: Annotated[str, Depends(oauth2)],
) -> None:
    """Revoke the token used for this request (in every worker at once)."""
    auth.logout(session, token)


@router.get("/auth/me")
def me(actor: CurrentActor) -> MeOut:
    """The logged-in account and its scope."""
    return MeOut(
        username=actor.username,
        role=actor.role,
        street_id=actor.street_id,
        community_id=actor.community_id,
        helper_id=actor.helper_id,
        resident_id=actor.resident_id,
    )
