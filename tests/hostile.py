"""Hypothesis strategies for the hostile-input classes of issue 17, shared by every face's test.

Each face's ``test_hostile.py`` feeds these to its own parameters and checks the same three
things: never a 5xx, the error in the face's own shape, and nothing written when refused.
"""

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.models import Base, Contact

# Not an import-time build of anything the app uses: a profile for the tests below.
HOSTILE = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY_PIECES = (
    "\x00",
    "\ud800",
    "\udfff",
    "\ud83d",  # the first half of an emoji, alone
    "²",
    "٣",
    "\uff19",  # fullwidth 9
    "\U0001d7d7",  # mathematical bold 9
    "\ufeff",
    "\u202e",
    "ü",
    "€",
    "%00",
    "%FC",
    "'",
    '"',
    "\\",
    "[",
    "{",
)
EDGE_DATES = (
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "0001-01-01",
    "9999-12-31",
    "00010101000000",
    "99991231235959",
    "01.01.0001",
    "31.12.9999",
)
HUGE = (2**63, -(2**63) - 1, 2**64, 10**33, 10**300)


def hostile_text(max_pieces: int = 4) -> st.SearchStrategy[str]:
    """Text holding at least one nasty piece, among other pieces and plain text."""
    pieces = st.sampled_from(NASTY_PIECES) | st.text(max_size=4)
    nasty = st.sampled_from(NASTY_PIECES)
    return st.tuples(st.lists(pieces, max_size=max_pieces), nasty, st.text(max_size=4)).map(
        lambda parts: "".join(parts[0]) + parts[1] + parts[2]
    )


def hostile_digits() -> st.SearchStrategy[str]:
    """Text that ``str.isdigit()`` or ``\\d`` would take for a number, and numbers too large."""
    return st.one_of(
        st.text(alphabet="0123456789²٣\uff19\U0001d7d7", min_size=1, max_size=22),
        st.sampled_from([str(n) for n in HUGE] + ["9" * 4000, "-1", "+1", " 1 ", "1e3"]),
    )


def hostile_scalar() -> st.SearchStrategy[Any]:
    return st.one_of(
        hostile_text(),
        hostile_digits(),
        st.sampled_from(EDGE_DATES),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from(HUGE),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
    )


def deep_json(depth: int) -> bytes:
    return b'{"a":' + b"[" * depth + b"]" * depth + b"}"


def count(session: Session, model: type[Base] = Contact) -> int:
    session.rollback()  # end any read transaction: see what the requests committed since
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def storable(value: object) -> bool:
    """What any accepted text must be once stored."""
    text = str(value)
    return (
        "\x00" not in text
        and "\ufffd" not in text
        and not any("\ud800" <= c <= "\udfff" for c in text)
    )


def assert_rows_storable(session: Session, model: type[Base] = Contact) -> None:
    """Every text (and JSON text) of every row is free of NUL, surrogates and U+FFFD."""
    session.rollback()
    for row in session.scalars(select(model)):
        for column in model.__table__.columns:
            value = getattr(row, column.key, None)
            if isinstance(value, str | dict | list):
                assert storable(value), (column.key, value)
