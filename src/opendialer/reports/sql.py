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
_UNIX_EPOCH_JULIAN_DAY = 2440587.5
_SQLITE_STORED = "%Y-%m-%d %H:%M:%S.000000"  # as SQLAlchemy stores a DateTime in SQLite


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def epoch(session: Session, column: Any) -> ColumnElement[float]:
    if _postgres(session):
        return cast(func.extract("epoch", column), Float)
    return (func.julianday(column) - _UNIX_EPOCH_JULIAN_DAY) * 86400.0


def bucket(session: Session, column: Any, seconds: int) -> ColumnElement[int]:
    """The number of the ``seconds``-long UTC period the time falls in (times after 1970)."""
    value = epoch(session, column) / seconds
    if _postgres(session):
        return cast(func.floor(value), Integer)
    return cast(value, Integer)  # SQLite truncates, which is floor for positive values


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
