"""Time arithmetic the reports push into SQL, written once for SQLite and PostgreSQL: seconds
since the epoch of a stored (naive UTC) time, and the bucket a time falls in."""

from typing import Any

from sqlalchemy import Float, Integer, cast, func
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

QUARTER = 900  # every UTC offset in use is a whole number of quarter hours
MINUTE = 60
_UNIX_EPOCH_JULIAN_DAY = 2440587.5


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
