"""Statuses are types: every status and kind column is checked by the database against its enum
in ``api.store.statuses`` (named once), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import CheckConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.services.matching.nightly import run_nightly
from api.settings import Settings
from api.store import statuses
from api.store.tables import (
    AssignmentRow,
    Base,
    OfferRow,
    OrderRow,
    RunRow,
)
from tests.api.conftest import World
from tests.api.loop_support import move_orders, tomorrow

CHECKED = {
    ("orders", "status"): statuses.OrderStatus,
    ("assignments", "status"): statuses.AssignmentStatus,
    ("assignments", "source"): statuses.AssignmentSource,
    ("offers", "status"): statuses.OfferStatus,
    ("runs", "status"): statuses.RunStatus,
    ("runs", "kind"): statuses.RunKind,
    ("claims", "form"): statuses.ClaimForm,
    ("follow_ups", "status"): statuses.FollowUpStatus,
    ("notifications", "status"): statuses.NotificationStatus,
    ("notifications", "kind"): statuses.NotificationKind,
    ("users", "role"): statuses.Role,
}


def test_every_status_column_has_a_check_built_from_its_enum() -> None:
    """Each status/kind column of the tables carries a CHECK whose text lists exactly the
    members of its enum."""
    for (table, column), enum in CHECKED.items():
        checks = [
            str(c.sqltext)
            for c in Base.metadata.tables[table].constraints
            if isinstance(c, CheckConstraint)
        ]
        assert statuses.sql_in(column, enum) in checks, (table, column, checks)


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (OrderRow, "status"),
        (AssignmentRow, "status"),
        (AssignmentRow, "source"),
        (OfferRow, "status"),
        (RunRow, "status"),
        (RunRow, "kind"),
    ],
)
def test_the_database_refuses_a_status_outside_its_enum(
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    row: type[Base],
    column: str,
) -> None:
    """Writing a status that is not a member of its enum fails in the database itself (the
    migration's CHECK constraint), whatever the code above it does."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        first = session.scalars(select(row.id).order_by(row.id)).first()  # type: ignore[attr-defined]
        assert first is not None
        with pytest.raises(IntegrityError):
            session.execute(
                update(row).where(row.id == first).values({column: "bogus"})  # type: ignore[attr-defined]
            )
            session.flush()
        session.rollback()
