"""Database engine, sessions and the request-scoped unit of work."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SessionMaker = sessionmaker[Session]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


def create_sessionmaker(engine: Engine) -> SessionMaker:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(sessions: SessionMaker) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises."""
    with sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def get_session(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.sessions) as session:
        yield session


# "function" scope: the commit happens before the response is sent, so a failed commit
# becomes an error response instead of a silently lost write.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
