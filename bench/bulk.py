"""Bulk writes for the benchmarks that build years of history without the services: PostgreSQL's
COPY (psycopg's ``cursor.copy``), else chunked multi-row inserts (SQLite).

Rows are dicts of column values, as ``insert(table)`` takes them; a column a row leaves out gets
the table's Python-side default (what the ORM would write), else NULL. Ids given in the rows are
kept; ``reset_ids`` then moves each table's id sequence past them, so that the services' own
inserts afterwards (a nightly run, an accept) do not collide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import JSON, insert, text
from sqlalchemy.orm import Session

CHUNK = 20_000


def copy_rows(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` into ``table`` (an ORM class) in the session's transaction."""
    if not rows:
        return
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(table), rows[start : start + CHUNK])
        return
    columns = _columns(table, rows)
    names = ", ".join(f'"{c.name}"' for c, _, _ in columns)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    statement = f'COPY "{table.__tablename__}" ({names}) FROM STDIN'
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = []
            for column, default, is_json in columns:
                value = row.get(column.key, default)
                if callable(value) and column.key not in row:
                    value = value()
                values.append(Json(value) if is_json and value is not None else value)
            copy.write_row(values)


def _columns(table: Any, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, Any, bool]]:
    """(column, its default for rows that leave it out, whether it is JSON) of every column
    the rows name or the ORM would fill."""
    named: set[str] = set()
    for row in rows[:1000]:
        named.update(row)
    found = []
    for column in table.__table__.columns:
        default = column.default
        if column.key not in named and default is None:
            continue  # the database's own default, or NULL
        value: Any = None
        if default is not None and default.is_scalar:
            value = default.arg
        elif default is not None and default.is_callable:
            function = default.arg
            value = lambda f=function: f(None)  # noqa: E731 (SQLAlchemy wraps it to take a context)
        found.append((column, value, isinstance(column.type, JSON)))
    return found


def reset_ids(session: Session, tables: Iterable[Any]) -> None:
    """Move each table's id sequence past its largest id (PostgreSQL; SQLite needs nothing)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        name = table.__tablename__
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f'COALESCE((SELECT max(id) FROM "{name}"), 0) + 1, false)'
            )
        )
