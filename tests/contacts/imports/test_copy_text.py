"""COPY's text format as the import writes it (``writer.copy_fields``, ``phone_lines``): one
escaping function for the reading process and the writer, checked with hostile values."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from opendialer.contacts.imports.writer import copy_fields, phone_lines


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("", ""),
        (None, "\\N"),
        ("\\N", "\\\\N"),
        ("a\tb", "a\\tb"),
        ("a\nb\rc", "a\\nb\\rc"),
        ("back\\slash", "back\\\\slash"),
        ('{"k": "v\\\\t"}', '{"k": "v\\\\\\\\t"}'),
        (True, "t"),
        (False, "f"),
        (7, "7"),
        (Decimal("12.50"), "12.50"),
        (datetime(2026, 12, 7, 12, 30, tzinfo=timezone(timedelta(hours=1))), "2026-12-07 11:30:00"),
        (datetime(2026, 12, 7, 12, 30, 1, 5, tzinfo=UTC), "2026-12-07 12:30:01.000005"),
        ("ü € \u2028", "ü € \u2028"),
    ],
)
def test_one_value(value: object, text: str) -> None:
    assert copy_fields((value,)) == text
    # Among others, with and without something to escape elsewhere in the row.
    assert copy_fields((None, value, "x")) == f"\\N\t{text}\tx"
    assert copy_fields(("\t", value, None)) == f"\\t\t{text}\t\\N"


def test_numbers_keep_their_position_and_mark_the_invalid_ones() -> None:
    phones = {1: ("030 1234567", "+49301234567"), 3: ("a\tb\\N", None)}
    assert phone_lines(phones) == "1\t030 1234567\t+49301234567\tf\n3\ta\\tb\\\\N\t\\N\tt"
    assert phone_lines({2: ("line\nbreak", None)}) == "2\tline\\nbreak\t\\N\tt"
