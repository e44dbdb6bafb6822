"""The test databases themselves: a PostgreSQL database refilled for the next test (``_Refill``)
holds exactly its template's rows and sequences, whatever the test before did to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from api.store.tables import Street
from tests.api.conftest import PG_URL, StateCache


def _contents(url: str) -> dict[str, Any]:
    """Every street's row, and where the streets' id sequence stands."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            streets = [tuple(row) for row in conn.execute(select(Street).order_by(Street.id))]
            position = conn.execute(text("SELECT last_value, is_called FROM streets_id_seq")).one()
            return {"streets": streets, "sequence": tuple(position)}
    finally:
        engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: set QUNBANG_TEST_PG_URL")
def test_a_refilled_database_holds_its_templates_rows_whatever_came_before(
    pg_states: StateCache, tmp_path: Path
) -> None:
    """A test's database given back (``done``) and handed to the next test holds exactly the
    template's rows and sequence positions again: rows the earlier test added are gone, rows it
    deleted are back, ids continue from where the template left them. A database whose schema
    the earlier test changed is not refilled but replaced."""
    states = StateCache("postgresql", pg_states.base, Path("."))  # its own spare databases
    url, name = states.new(states.base, tmp_path)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO streets (code, name) VALUES ('s1', 'one'), ('s2', 'two')"))
    engine.dispose()
    template_rows = _contents(url)  # a template holding two streets, made from this one
    assert len(template_rows["streets"]) == 2
    filled = states._copy(name)[1]
    try:
        states.done(name)
        url, again = states.new(filled, tmp_path)
        assert again == name  # the same database, refilled
        assert _contents(url) == template_rows
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM streets WHERE code = 's1'"))
            conn.execute(text("INSERT INTO streets (code, name) VALUES ('s3', 'three')"))
        engine.dispose()
        states.done(name)
        url, again = states.new(filled, tmp_path)
        assert again == name
        assert _contents(url) == template_rows
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE streets ADD COLUMN extra integer"))
        engine.dispose()
        states.done(name)
        url, replaced = states.new(filled, tmp_path)
        assert replaced != name  # its schema changed: dropped, a fresh copy instead
        assert _contents(url) == template_rows
        states.done(replaced)
        url, third = states.new(filled, tmp_path)
        assert _contents(url) == template_rows
        states.done(third)
    finally:
        states.drop(filled)
        states.close()
