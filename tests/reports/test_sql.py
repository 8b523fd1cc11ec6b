"""The time arithmetic the reports push into SQL is exact on both databases: a time on a
quarter's first microsecond is in that quarter, one a microsecond before is not, and a bucket
turns back into the stored time it stands for."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import literal, select

from opendialer.db import SessionMaker, unit_of_work
from opendialer.models.base import UTCDateTime
from opendialer.reports.history import from_bucket
from opendialer.reports.sql import MINUTE, QUARTER, bucket, epoch, stored_time, whole

EDGE = datetime(2026, 11, 24, 16, 45, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("at", "quarter"),
    [
        (EDGE, EDGE),
        (EDGE - MICROSECOND, EDGE - timedelta(minutes=15)),
        (EDGE + MICROSECOND, EDGE),
        (EDGE - timedelta(milliseconds=0.4), EDGE - timedelta(minutes=15)),
    ],
)
def test_a_time_falls_in_its_own_quarter_to_the_microsecond(
    sessions: SessionMaker, at: datetime, quarter: datetime
) -> None:
    stored = literal(at, UTCDateTime())
    with unit_of_work(sessions) as session:
        number, minute, seconds = session.execute(
            select(
                bucket(session, stored, QUARTER),
                bucket(session, stored, MINUTE),
                epoch(session, stored),
            )
        ).one()
    assert from_bucket(number, QUARTER) == quarter
    assert from_bucket(minute, MINUTE) == at.replace(second=0, microsecond=0)
    assert seconds == pytest.approx(at.timestamp(), abs=1e-6)


def test_a_bucket_turns_back_into_its_stored_time(sessions: SessionMaker) -> None:
    """Stored as the ORM stores it (on SQLite the same text: times compare as text there)."""
    number = int(EDGE.timestamp()) // QUARTER
    with unit_of_work(sessions) as session:
        back = stored_time(session, whole(number) * whole(QUARTER))
        same = literal(EDGE, UTCDateTime())
        assert session.execute(select(back == same)).scalar_one()
        assert not session.execute(
            select(back == literal(EDGE + MICROSECOND, UTCDateTime()))
        ).scalar_one()
