"""What ``/health`` checks: the database answers, and its schema is the one this code expects
(the Alembic head). One query when all is well."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.store.db import alembic_config

log = logging.getLogger("qunbang.health")


@dataclass(frozen=True)
class Unhealthy:
    """Why the service cannot serve: ``code`` for programs, ``message`` for people."""

    code: str
    message: str


@cache
def schema_heads() -> frozenset[str]:
    """The schema revisions this code expects (read once from the migration scripts)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def database_health(session: Session) -> Unhealthy | None:
    """None when the database answers and is at the schema's head, else why not."""
    try:
        found = frozenset(session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError as error:
        session.rollback()
        if not _answers(session):
            log.warning("health: the database does not answer: %s", _first_line(error))
            return Unhealthy(
                "database_unreachable", "数据库无法连接 / the database does not answer"
            )
        found = frozenset()
    expected = schema_heads()
    if found != expected:
        log.warning("health: schema at %s, this code expects %s", sorted(found), sorted(expected))
        return Unhealthy(
            "schema_mismatch",
            f"数据库结构版本不符 / the database schema is at {', '.join(sorted(found)) or 'none'}, "
            f"this version needs {', '.join(sorted(expected))} (qunbang db upgrade)",
        )
    return None


def _answers(session: Session) -> bool:
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        session.rollback()
        return False
    return True


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
