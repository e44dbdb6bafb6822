"""Request dependencies: the database session, the logged-in user and role checks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from api.errors import Forbidden, NotFound
from api.services.auth import user_for_token
from api.settings import Settings
from api.store.db import session_scope

oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.sessions) as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Actor:
    """Who is calling: the user's id, role and scope (street, community, own helper/resident)."""

    user_id: int
    username: str
    role: str
    street_id: int | None
    community_id: int | None
    helper_id: int | None
    resident_id: int | None

    def may_see_community(self, street_id: int, community_id: int) -> bool:
        """Staff of a street see all its communities; community staff only their own."""
        if self.street_id != street_id:
            return False
        return self.community_id is None or self.community_id == community_id


def current_actor(session: SessionDep, token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    from api.errors import Unauthorized

    if not token:
        raise Unauthorized("请先登录 / please log in")
    user = user_for_token(session, token)
    session.commit()  # end the read transaction: the service may start a write one
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        street_id=user.street_id,
        community_id=user.community_id,
        helper_id=user.helper_id,
        resident_id=user.resident_id,
    )


def _role(*roles: str):  # type: ignore[no-untyped-def]
    def check(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if actor.role not in roles:
            # A helper probing staff routes learns nothing about what exists there.
            if actor.role in ("helper", "resident"):
                raise NotFound("未找到 / not found")
            raise Forbidden("无权访问 / your role may not do this")
        return actor

    return check


CurrentActor = Annotated[Actor, Depends(current_actor)]
StaffActor = Annotated[Actor, Depends(_role("staff"))]
StaffOrPlanner = Annotated[Actor, Depends(_role("staff", "planner"))]
HelperActor = Annotated[Actor, Depends(_role("helper"))]
StaffOrResident = Annotated[Actor, Depends(_role("staff", "resident"))]
