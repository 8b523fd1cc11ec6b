"""Schema migrations with Alembic, run from the package (no alembic.ini needed)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from opendialer.db import create_db_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def make_revision(database_url: str, message: str) -> None:
    command.revision(alembic_config(database_url), message=message, autogenerate=True)


class SchemaNotCurrent(RuntimeError):
    pass


def check_current(database_url: str) -> None:
    """Raise SchemaNotCurrent (with the command that fixes it) unless the schema is at head."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    if current != script.get_current_head():
        raise SchemaNotCurrent(
            f"The database at {make_url(database_url).render_as_string()} is not initialised or "
            "not up to date; run `opendialer db upgrade` first."
        )
