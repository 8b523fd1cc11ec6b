"""Time arithmetic the reports push into SQL, written once for SQLite and PostgreSQL: seconds
since the epoch of a stored (naive UTC) time, the bucket a time falls in, and back from seconds
to a stored time."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, cast, func, literal
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

QUARTER = 900  # every UTC offset in use is a whole number of quarter hours
MINUTE = 60
_SQLITE_STORED = "%Y-%m-%d %H:%M:%S.000000"  # as SQLAlchemy stores a DateTime in SQLite
_SQLITE_FRACTION_AT = 20  # where ".ffffff" begins in that text


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def epoch(session: Session, column: Any) -> ColumnElement[float]:
    """Seconds since the epoch, exact to the microsecond. (SQLite's ``julianday`` is not: a
    time on a quarter's first microsecond could read as the quarter before.)"""
    if _postgres(session):
        return cast(func.extract("epoch", column), Float)
    fraction = cast(func.substr(column, _SQLITE_FRACTION_AT), Float)  # "" (none) reads as 0
    return fraction + _whole_seconds(column)


def _whole_seconds(column: Any) -> ColumnElement[int]:
    """Read from the text without its fraction: SQLite's own time arithmetic rounds to the
    millisecond, so 59.9995 s would read as the next minute."""
    return cast(func.strftime("%s", func.substr(column, 1, _SQLITE_FRACTION_AT - 1)), Integer)


def bucket(session: Session, column: Any, seconds: int, offset: int = 0) -> ColumnElement[int]:
    """The number of the ``seconds``-long period the time falls in (times after 1970), in UTC
    or, with ``offset``, in a zone that many seconds ahead of UTC."""
    if _postgres(session):
        return cast(func.floor((epoch(session, column) + offset) / seconds), Integer)
    return cast((_whole_seconds(column) + offset) / seconds, Integer)  # integers: to the floor


def stored_time(session: Session, seconds: Any) -> ColumnElement[datetime]:
    """The stored (naive UTC) time ``seconds`` (whole seconds since the epoch) stand for, for
    an ``INSERT ... SELECT`` into a time column."""
    if _postgres(session):
        return func.timezone("UTC", func.to_timestamp(seconds))
    return func.strftime(_SQLITE_STORED, seconds, "unixepoch")


def whole(number: int) -> ColumnElement[int]:
    """An integer constant that stays a 64-bit integer in SQL arithmetic."""
    return literal(number, BigInteger)


def least(session: Session, *values: Any) -> ColumnElement[float]:
    return func.least(*values) if _postgres(session) else func.min(*values)


def greatest(session: Session, *values: Any) -> ColumnElement[float]:
    return func.greatest(*values) if _postgres(session) else func.max(*values)
