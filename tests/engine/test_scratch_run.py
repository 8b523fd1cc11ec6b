from pathlib import Path

from sqlalchemy import text

from opendialer.db import create_db_engine
from opendialer.engine.scratch_run import _throw_away


def test_a_throw_away_database_commits_without_waiting_for_the_disk(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    _throw_away(engine)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 0  # OFF
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # the rest kept
    finally:
        engine.dispose()
