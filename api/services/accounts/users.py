"""Accounts by ledger codes, as the command line names them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import i18n
from api.i18n import N_
from api.i18n import gettext as _
from api.services.accounts.auth import add_user
from api.services.actor import Actor
from api.services.errors import BadInput
from api.store.db import begin_write
from api.store.tables import Community, Grid, HelperRow, ResidentRow, Street, UserRow


def add_account(
    session: Session,
    username: str,
    password: str,
    role: str,
    street: str | None = None,
    community: str | None = None,
    helper: str | None = None,
    resident: str | None = None,
    grid: str | None = None,
) -> UserRow:
    """Create an account from street, community, helper, resident and grid codes (a grid
    worker: the grid's code in the community); commits."""
    begin_write(session)
    street_id = community_id = helper_id = resident_id = grid_id = None
    if street is not None:
        street_id = _id(session, select(Street.id).where(Street.code == street), "street", street)
    if community is not None:
        if street_id is None:
            raise BadInput(_("--community needs --street"), "community")
        community_id = _id(
            session,
            select(Community.id).where(
                Community.street_id == street_id, Community.code == community
            ),
            "community",
            community,
        )
    if grid is not None:
        if community_id is None:
            raise BadInput(_("--grid needs --community"), "grid")
        grid_id = _id(
            session,
            select(Grid.id).where(Grid.community_id == community_id, Grid.code == grid),
            "grid",
            grid,
        )
    if helper is not None:
        row = session.scalar(select(HelperRow).where(HelperRow.code == helper))
        if row is None:
            raise BadInput(_("no helper with code %(helper)s", helper=repr(helper)), "helper")
        helper_id, street_id = row.id, street_id or row.street_id
    if resident is not None:
        found = session.scalar(select(ResidentRow).where(ResidentRow.code == resident))
        if found is None:
            raise BadInput(
                _("no resident with code %(resident)s", resident=repr(resident)), "resident"
            )
        resident_id, street_id = found.id, street_id or found.street_id
    user = add_user(
        session,
        username,
        password,
        role,
        street_id=street_id,
        community_id=community_id,
        helper_id=helper_id,
        resident_id=resident_id,
        grid_id=grid_id,
    )
    session.commit()
    return user


def _id(session: Session, query, what: str, code: str) -> int:  # type: ignore[no-untyped-def]
    found = session.scalar(query)
    if found is None:
        raise BadInput(_(_MISSING[what], code=repr(code)), what)
    return int(found)


_MISSING = {
    "street": N_("unknown street code %(code)s"),
    "community": N_("unknown community code %(code)s"),
    "grid": N_("unknown grid code %(code)s in this community"),
}


def set_language(session: Session, actor: Actor, language: str | None) -> UserRow:
    """Store the acting user's own language (a shipped locale, e.g. ``zh_CN`` or ``en``, or a
    language part such as ``zh``; ``None`` forgets the choice: the cookie and the browser decide
    again); commits. ``BadInput`` for a language without a catalog."""
    chosen = None
    if language is not None:
        chosen = next(
            (
                locale
                for locale in i18n.shipped()
                if language.replace("-", "_").lower() in (locale.lower(), i18n.short(locale))
            ),
            None,
        )
        if chosen is None:
            raise BadInput(
                _(
                    "no language %(language)s: choose from %(choices)s",
                    language=repr(language),
                    choices=", ".join(i18n.shipped()),
                ),
                "language",
            )
    begin_write(session)
    user = session.get_one(UserRow, actor.user_id)
    user.language = chosen
    session.commit()
    return user
