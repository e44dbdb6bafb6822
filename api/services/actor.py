"""Who is calling a service: a user's id, role and scope, as the HTTP edge (a token or the
login cookie) or the command line establishes it. Services decide what that actor may do."""

from __future__ import annotations

from dataclasses import dataclass

from api.i18n import gettext as _
from api.services.errors import NotFound
from api.store.tables import UserRow


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
    language: str | None = None  # the user's own language (None: no choice made)

    def own_helper_id(self) -> int:
        """The helper row of a helper account (``NotFound`` for an account tied to none)."""
        if self.helper_id is None:
            raise NotFound(_("no helper is tied to this account"))
        return self.helper_id

    def may_see_community(self, street_id: int, community_id: int) -> bool:
        """Staff of a street see all its communities; community staff only their own."""
        if self.street_id != street_id:
            return False
        return self.community_id is None or self.community_id == community_id


def actor_of(user: UserRow) -> Actor:
    """The actor of an account."""
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        street_id=user.street_id,
        community_id=user.community_id,
        helper_id=user.helper_id,
        resident_id=user.resident_id,
        language=user.language,
    )
