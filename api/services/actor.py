"""Who is calling a service: a user's id, role and scope, as the HTTP edge (a token or the
login cookie) or the command line establishes it. Services decide what that actor may do."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, false

from api.i18n import gettext as _
from api.services.errors import NotFound
from api.store.statuses import Role
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
    grid_id: int | None = None  # a grid worker's grid (网格员)

    @property
    def speaks_for_resident(self) -> bool:
        """A resident account, or a family account acting for a resident it is linked to
        (``resident_id`` set only once the link is checked: ``intake.family.acting_for``)."""
        return self.role in (Role.RESIDENT, Role.FAMILY) and self.resident_id is not None

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

    def may_see_person(self, street_id: int, community_id: int, grid_id: int | None) -> bool:
        """Whether staff or a grid worker may see a person of the ledger: staff by their street
        or community; a grid worker only the people of their own grid."""
        if self.role == Role.STAFF:
            return self.may_see_community(street_id, community_id)
        if self.role == Role.GRID_WORKER:
            return (
                self.grid_id is not None
                and grid_id == self.grid_id
                and self.may_see_community(street_id, community_id)
            )
        return False

    def person_scope(
        self,
        street_id: SQLColumnExpression[int],
        community_id: SQLColumnExpression[int],
        grid_id: SQLColumnExpression[int | None],
    ) -> ColumnElement[bool]:
        """``may_see_person`` as a condition on a query's columns of a person (a resident, a
        management-type person; an order's street may stand for its resident's): the same rule,
        written beside it so that the two cannot drift (tests/api/test_actor.py compares them)."""
        if self.role not in (Role.STAFF, Role.GRID_WORKER) or self.street_id is None:
            return false()
        where = street_id == self.street_id
        if self.community_id is not None:
            where = and_(where, community_id == self.community_id)
        if self.role == Role.GRID_WORKER:
            return and_(where, grid_id == self.grid_id) if self.grid_id is not None else false()
        return where


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
        grid_id=user.grid_id,
    )
