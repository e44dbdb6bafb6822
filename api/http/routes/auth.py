"""Login, logout, who am I, and the health check (the only routes open without a token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.http.deps import CurrentActor, SessionDep, SettingsDep, oauth2
from api.http.errors import ErrorOut
from api.http.openapi import declared_router, error_responses
from api.services.accounts import auth, users
from api.services.actor import actor_of
from api.services.operations import database_health
from api.services.types import UtcDateTime

router = declared_router(tags=["auth"])
SECRET = {"format": "password"}


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: UtcDateTime
    role: str


class MeOut(BaseModel):
    username: str
    role: str
    street_id: int | None
    community_id: int | None
    helper_id: int | None
    resident_id: int | None
    language: str | None = Field(
        None, description="the account's own language (a locale: zh_CN, en); null: none chosen"
    )


class LanguageIn(BaseModel):
    language: str | None = Field(
        max_length=16,
        description="a shipped locale (zh_CN, en) or its language (zh); null forgets the "
        "choice (then the language cookie and Accept-Language decide)",
    )


class LoginForm(OAuth2PasswordRequestForm):
    """The OAuth2 password form, saying what the app does: an empty username or password is
    missing (forms read "" as absent), so both need at least one character."""

    def __init__(
        self,
        username: Annotated[str, Form(min_length=1, max_length=150)],
        password: Annotated[str, Form(min_length=1, max_length=1000, json_schema_extra=SECRET)],
    ) -> None:
        super().__init__(username=username, password=password)


UNAVAILABLE = {
    "model": ErrorOut,
    "description": "数据库无法连接或版本不符 / the database does not answer, or its schema is "
    "not this version's",
}


@router.get("/health", responses={503: UNAVAILABLE})
def health(session: SessionDep, response: Response) -> dict[str, str | None]:
    """``{"status": "ok"}`` when the database answers and its schema is this version's; else
    503 saying which (``database_unreachable``, ``schema_mismatch``)."""
    problem = database_health(session)
    if problem is None:
        return {"status": "ok"}
    response.status_code = 503
    return {"status": "unavailable", "detail": problem.message, "code": problem.code, "field": None}


# 401: wrong username or password; 429: too many attempts (login throttling).
@router.post("/auth/token", responses=error_responses(401, 429))
def token(
    request: Request,
    form: Annotated[LoginForm, Depends()],
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
        expires_at=issued.expires_at,
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
    return MeOut.model_validate(actor, from_attributes=True)


@router.put("/auth/me/language")
def set_my_language(body: LanguageIn, actor: CurrentActor, session: SessionDep) -> MeOut:
    """Choose the account's own language for its pages and the API's messages: it wins over
    the language cookie and ``Accept-Language``, on every device (null: no choice). Any
    signed-in role; 422 for a language without a catalog."""
    user = users.set_language(session, actor, body.language)
    return MeOut.model_validate(actor_of(user), from_attributes=True)
