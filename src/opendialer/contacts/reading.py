"""Pages of contacts read as rows, not as ORM objects.

A list page renders up to 1,000 contacts of some 60 columns each, and nothing on it is changed:
building an ORM object per contact (identity map, instrumented attributes, the phones'
relationship) cost more than the rest of the request. Here the page is two statements of plain
columns, the contacts' and their phones', rendered straight into the response's schemas.
"""

from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Row, Select, inspect, select
from sqlalchemy.orm import Session

from opendialer.contacts.schemas import ContactRead, PhoneRead
from opendialer.models import Contact, ContactPhone
from opendialer.pagination import Page, PageQuery, fetch_row_page


@cache
def read_columns(entity: type[Any], schema: type[BaseModel]) -> tuple[ColumnElement[Any], ...]:
    """The columns of ``entity`` that ``schema`` renders, each labelled with its field's name
    (fields that are not columns, such as relationships, are left to the caller)."""
    columns = inspect(entity).column_attrs
    return tuple(
        columns[name].expression.label(name) for name in schema.model_fields if name in columns
    )


def contact_page(session: Session, stmt: Select[Any], page: PageQuery) -> Page[ContactRead]:
    """The page of ``stmt``'s contacts (a ``select(Contact)`` with its filters) after the
    cursor, with their numbers."""
    rows, cursor = fetch_row_page(
        session, stmt.with_only_columns(*read_columns(Contact, ContactRead)), Contact.id, page
    )
    return Page[ContactRead](items=_render(session, rows), next_cursor=cursor)


def _render(session: Session, rows: Sequence[Row[Any]]) -> list[ContactRead]:
    if not rows:
        return []
    phones = _phones_of(session, [row.id for row in rows])
    names = rows[0]._fields  # zip() pairs them in C, a mapping row would call per column
    return [
        ContactRead.model_validate(dict(zip(names, row, strict=True), phones=phones[row.id]))
        for row in rows
    ]


def _phones_of(session: Session, contact_ids: Sequence[int]) -> dict[int, list[PhoneRead]]:
    """The contacts' numbers in position order, by contact id."""
    phones: dict[int, list[PhoneRead]] = defaultdict(list)
    stmt = (
        select(ContactPhone.contact_id.label("contact_id"), *read_columns(ContactPhone, PhoneRead))
        .where(ContactPhone.contact_id.in_(contact_ids))
        .order_by(ContactPhone.contact_id, ContactPhone.position)
    )
    result = session.execute(stmt)
    names = tuple(result.keys())
    for phone in result:
        read = PhoneRead.model_validate(dict(zip(names, phone, strict=True)))
        phones[phone.contact_id].append(read)
    return phones
