"""The database's change token: it moves with every commit of a write, on SQLite and
PostgreSQL; on SQLite (a database of its own) it stays put when nothing was written."""

from collections.abc import Hashable, Iterator

import pytest
from sqlalchemy import Connection, select

from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.change_token import change_token
from opendialer.models import Campaign
from tests.conftest import make_tenant, on_sqlite
from tests.engine.helpers import make_campaign, make_contact


@pytest.fixture
def kept(sessions: SessionMaker) -> Iterator[Connection]:
    """One connection the tokens are taken on, as the engine's kept connection is."""
    with sessions.kw["bind"].connect() as connection:
        yield connection


def _token(sessions: SessionMaker, connection: Connection) -> Hashable:
    with sessions(bind=connection) as session, session.begin():
        return change_token(session)


def test_a_commit_by_another_connection_moves_the_token(
    sessions: SessionMaker, kept: Connection
) -> None:
    tenant = make_tenant(sessions, "t")
    with unit_of_work(sessions) as session:
        campaign_id = make_campaign(session, tenant).id
    before = _token(sessions, kept)
    with unit_of_work(sessions) as session:
        make_contact(session, session.get_one(Campaign, campaign_id), "+4930555000")
    assert _token(sessions, kept) != before


def test_a_write_on_the_same_connection_moves_it_too(
    sessions: SessionMaker, kept: Connection
) -> None:
    tenant = make_tenant(sessions, "t")
    before = _token(sessions, kept)
    with sessions(bind=kept) as session, session.begin():
        make_campaign(session, tenant)
    assert _token(sessions, kept) != before


def test_reading_leaves_it_where_it_was(sessions: SessionMaker, kept: Connection) -> None:
    if not on_sqlite(sessions):
        pytest.skip("PostgreSQL's snapshot is the cluster's: other tests' databases move it")
    make_tenant(sessions, "t")
    before = _token(sessions, kept)
    with unit_of_work(sessions, writes=False) as session:
        session.scalars(select(Campaign)).all()
    with sessions(bind=kept) as session, session.begin():
        session.scalars(select(Campaign)).all()
    assert _token(sessions, kept) == before


def test_another_connection_never_gives_the_same_token(
    sessions: SessionMaker, kept: Connection
) -> None:
    if not on_sqlite(sessions):
        pytest.skip("SQLite's versions count per connection; PostgreSQL's snapshot does not")
    with sessions.kw["bind"].connect() as other:
        assert _token(sessions, other) != _token(sessions, kept)
