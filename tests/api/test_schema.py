"""The migrations and the models describe one schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from api.store.tables import Base


def test_the_migrated_schema_is_the_models_schema(db_url: str) -> None:
    """A database migrated to the head has exactly the tables, columns, indexes and foreign keys
    the models declare (Alembic's comparison finds nothing to add, drop or alter), so a model
    change without its migration, or a migration the models do not follow, fails here."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
