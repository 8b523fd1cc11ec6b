"""Schema migrations with Alembic, run from the package (no alembic.ini needed)."""

from collections.abc import Sequence
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, make_url

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


class SchemaNotCurrent(RuntimeError):
    pass


@cache
def head_revision() -> str | None:
    """The newest revision this version of opendialer knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def revision_of(conn: Connection) -> str | None:
    """The revision the database behind ``conn`` is at (None: never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def current_revision(database_url: str) -> str | None:
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as conn:
            return revision_of(conn)
    finally:
        engine.dispose()


def history() -> list[tuple[str, str | None, str]]:
    """Every revision, newest first: (revision, the one before it, its message)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [
        (rev.revision, _single(rev.down_revision), rev.doc or "") for rev in script.walk_revisions()
    ]


def _single(down: str | Sequence[str] | None) -> str | None:
    return down if down is None or isinstance(down, str) else ", ".join(down)


def check_current(database_url: str) -> None:
    """Raise SchemaNotCurrent (with the command that fixes it) unless the schema is at head."""
    if current_revision(database_url) != head_revision():
        raise SchemaNotCurrent(
            f"The database at {make_url(database_url).render_as_string()} is not initialised or "
            "not up to date; run `opendialer db upgrade` first."
        )
