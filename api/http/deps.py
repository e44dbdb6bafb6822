"""Request dependencies: the database session, the logged-in user and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.http.locale import use_user_language
from api.i18n import gettext as _
from api.services.accounts.auth import actor_of_token
from api.services.actor import Actor
from api.services.errors import Forbidden, NotFound, Unauthorized
from api.settings import Settings
from api.store.db import session_scope

T = TypeVar("T")
oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.sessions) as session:
        yield session


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]


async def in_session(request: Request, service: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``service(session, *args, **kwargs)`` in one worker-thread hop with its own session.

    For the hottest read routes: a ``SessionDep`` route costs three thread hops per request
    (open the session, the route, close it); this costs one."""

    def call() -> T:
        with session_scope(request.app.state.sessions) as session:
            return service(session, *args, **kwargs)

    return await run_in_threadpool(call)


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def current_actor(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    """The caller of an API route (bearer token only: the API never reads the login cookie, so
    a page's cookie cannot be used to call it from another site)."""
    if not token:
        raise Unauthorized(_("please log in"))
    return await actor_for_token(request, token)


async def actor_for_token(request: Request, token: str) -> Actor:
    """The actor a token belongs to; ``Unauthorized`` if the token is unknown, expired or
    revoked or its account inactive. Asked of the database on every request (one indexed read
    in a worker thread): no cache, so a logout or a deactivation made by any worker process
    takes effect at once everywhere. Shared by API routes and pages (login cookie).

    The same read brings the user's own language: from here on the request speaks it (set in
    the request's context, before the route and its worker thread run)."""
    actor = await run_in_threadpool(_actor_from_db, request.app.state.sessions, token)
    use_user_language(request, actor.language)
    return actor


def _actor_from_db(sessions: sessionmaker[Session], token: str) -> Actor:
    with session_scope(sessions) as session:
        return actor_of_token(session, token)


def _role(*roles: str):  # type: ignore[no-untyped-def]
    async def check(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if actor.role not in roles:
            # A helper probing staff routes learns nothing about what exists there.
            if actor.role in ("helper", "resident"):
                raise NotFound(_("not found"))
            raise Forbidden(_("your role may not do this"))
        return actor

    return check


CurrentActor = Annotated[Actor, Depends(current_actor)]
StaffActor = Annotated[Actor, Depends(_role("staff"))]
StaffOrPlanner = Annotated[Actor, Depends(_role("staff", "planner"))]
HelperActor = Annotated[Actor, Depends(_role("helper"))]
StaffOrResident = Annotated[Actor, Depends(_role("staff", "resident"))]
