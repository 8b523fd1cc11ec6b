"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from opendialer.models import Base


def test_migrated_schema_matches_models(database_url: str, db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_dial_queue_index_is_partial(database_url: str, db_engine: Engine) -> None:
    indexes = {i["name"]: i for i in inspect(db_engine).get_indexes("contacts")}
    assert "ix_contacts_dial_queue" in indexes
