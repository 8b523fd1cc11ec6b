"""``UTCDateTime``: aware datetimes in, aware UTC out; on SQLite one conversion each way that
gives exactly what the decorator's step composed with SQLite's DATETIME conversion gives."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any, NamedTuple, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, select, text
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.types import TypeDecorator

from opendialer.db import SessionMaker, unit_of_work
from opendialer.models.base import UTCDateTime

Process = Callable[[Any], Any]


class Processors(NamedTuple):
    bind: Process | None
    result: Process | None
    composed_bind: Process | None
    composed_result: Process | None


@cache
def sqlite() -> Processors:
    """Ours, as SQLAlchemy adapts the type to SQLite, and the decorator's composed pair."""
    dialect = SQLiteDialect_pysqlite()
    decorated = cast(TypeDecorator[datetime], UTCDateTime().dialect_impl(dialect))
    return Processors(
        decorated.bind_processor(dialect),
        decorated.result_processor(dialect, None),
        TypeDecorator.bind_processor(decorated, dialect),
        TypeDecorator.result_processor(decorated, dialect, None),
    )


zones = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware = st.datetimes(timezones=st.just(UTC) | zones)


def _outcome(process: Callable[[Any], Any] | None, value: object) -> object:
    """What ``process`` gives, or the type of what it raises."""
    assert process is not None
    try:
        return process(value)
    except Exception as error:
        return type(error)


def test_sqlite_gets_one_function_each_way() -> None:
    bind, result = sqlite().bind, sqlite().result
    assert bind is not None and result is not None
    assert bind.__module__ == result.__module__ == "opendialer.models.base"


@given(aware)
def test_the_text_bound_is_the_composed_conversions(value: datetime) -> None:
    assert _outcome(sqlite().bind, value) == _outcome(sqlite().composed_bind, value)


@given(st.datetimes())
def test_a_naive_datetime_is_refused_as_before(value: datetime) -> None:
    assert _outcome(sqlite().bind, value) is ValueError is _outcome(sqlite().composed_bind, value)


def test_none_stays_none() -> None:
    assert _outcome(sqlite().bind, None) is None is _outcome(sqlite().composed_bind, None)
    assert _outcome(sqlite().result, None) is None is _outcome(sqlite().composed_result, None)


@given(aware)
def test_the_value_read_back_is_the_composed_conversions(value: datetime) -> None:
    stored = _outcome(sqlite().composed_bind, value)
    if isinstance(stored, str):
        assert (
            _outcome(sqlite().result, stored) == _outcome(sqlite().composed_result, stored) == value
        )
        for other in (stored[:19], stored.replace(" ", "T"), f"{stored}+02:00", stored[:10]):
            assert _outcome(sqlite().result, other) == _outcome(sqlite().composed_result, other)


@given(st.text(max_size=40))
def test_any_text_reads_as_the_composed_conversions_read_it(stored: str) -> None:
    assert _outcome(sqlite().result, stored) == _outcome(sqlite().composed_result, stored)


STAMPS = Table(
    "stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime())
)


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 12, 7, 18, 30, 1, 250, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 7, 16, 30, tzinfo=UTC),
        datetime(999, 1, 1, 12, tzinfo=UTC),
    ],
)
def test_a_stored_time_reads_back_in_utc_and_is_stored_as_utc(
    sessions: SessionMaker, at: datetime
) -> None:
    with unit_of_work(sessions) as session:
        connection = session.connection()
        STAMPS.create(connection)
        try:
            connection.execute(STAMPS.insert(), {"id": 1, "at": at})
            read = connection.execute(select(STAMPS.c.at)).scalar_one()
            raw = connection.execute(text("SELECT at FROM stamps")).scalar_one()
        finally:
            STAMPS.drop(connection)
    assert read == at and read.tzinfo is UTC
    utc = at.astimezone(UTC).replace(tzinfo=None)
    if connection.dialect.name == "sqlite":  # the text SQLite's DATETIME has always written
        assert raw == f"{utc.year:04d}-{utc:%m-%d %H:%M:%S.%f}"
    else:  # the driver's naive datetime, in UTC
        assert raw == utc
