"""What the migration tests share: a database of their own, empty, to migrate step by step."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import empty_database


@pytest.fixture
def empty_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A new empty database of the same kind as the test run's."""
    with empty_database(database_url.split(":", 1)[0].split("+", 1)[0], tmp_path) as url:
        yield url
