"""Keyset (cursor) pagination shared by every list endpoint of the native API."""

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Row, Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from opendialer.inputs import MAX_DB_INT


class PageQuery(BaseModel):
    limit: int = 100
    cursor: int | None = None


async def page_query(
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page")] = 100,
    cursor: Annotated[
        int | None, Query(ge=0, le=MAX_DB_INT, description="`next_cursor` of the previous page")
    ] = None,
) -> PageQuery:
    return PageQuery(limit=limit, cursor=cursor)


PageParams = Annotated[PageQuery, Depends(page_query)]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: int | None = None


S = TypeVar("S", bound=BaseModel)


def fetch_page(
    session: Session,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[int],
    page: PageQuery,
    schema: type[S],
    render: Callable[[Any], S] | None = None,
) -> Page[S]:
    """Rows after the cursor in id order, rendered with ``render`` (default:
    ``schema.model_validate``); next_cursor None at the end."""
    if page.cursor is not None:
        stmt = stmt.where(id_column > page.cursor)
    rows = session.scalars(stmt.order_by(id_column).limit(page.limit + 1)).all()
    cursor = int(rows[page.limit - 1].id) if len(rows) > page.limit else None
    items = [(render or schema.model_validate)(row) for row in rows[: page.limit]]
    return Page[schema](items=items, next_cursor=cursor)  # type: ignore[valid-type]


def fetch_row_page(
    session: Session, stmt: Select[Any], id_column: InstrumentedAttribute[int], page: PageQuery
) -> tuple[list[Row[Any]], int | None]:
    """As :func:`fetch_page`, for a statement of columns: the rows after the cursor in id order
    (their ``id_column`` labelled with its key) and the next cursor, None at the end."""
    if page.cursor is not None:
        stmt = stmt.where(id_column > page.cursor)
    rows = session.execute(stmt.order_by(id_column).limit(page.limit + 1)).all()
    cursor = int(getattr(rows[page.limit - 1], id_column.key)) if len(rows) > page.limit else None
    return list(rows[: page.limit]), cursor
