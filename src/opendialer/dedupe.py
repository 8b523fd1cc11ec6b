"""Creates that must not store one thing twice, even when identical requests arrive together.

Two mechanisms, one per kind of rule, both guaranteed by the database on SQLite and PostgreSQL:

- When a unique key states the rule (a campaign's member, a number on a do-not-call list),
  :func:`insert_new` (and :func:`insert_new_keys` for many rows) lets the database decide with
  ``INSERT ... ON CONFLICT DO NOTHING``: the loser of a race waits for the winner's commit, then
  learns "already there" instead of raising an ``IntegrityError``.
- When no key can (a contact is a duplicate only under the caller's options: jtel's
  ``overwriteDuplicates``, Voicenter's "while queued", mmDial's doublet checks, an ACD group's
  no-duplicates flag), :func:`exclusive` makes the transactions that look up and then insert
  under one key run one after the other, each until it commits or rolls back.
"""

import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import String, Table, bindparam, func, select, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from opendialer.models import Base

T = TypeVar("T")

# A write that changes nothing: SQLite gives a transaction its one write lock at the first
# write statement, and keeps it until the end of the transaction.
_TAKE_SQLITE_WRITE_LOCK = text("UPDATE tenants SET id = id WHERE 0")
_PG_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def lock_key(parts: Sequence[str | int]) -> int:
    """A stable signed 64-bit number for ``parts`` (PostgreSQL's advisory lock space)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def exclusive(session: Session, *parts: str | int) -> None:
    """Until this transaction ends, no other transaction passes ``exclusive`` with the same
    parts; call it before the look-up that decides whether to insert.

    PostgreSQL: a transaction-scoped advisory lock on the parts (released at commit or
    rollback; read committed, so the look-up after it sees what the previous holder wrote).
    SQLite: the database's single write lock, taken before the look-up, so the look-up sees
    every committed write and no other writer starts until this one ends (a coarser lock
    than the parts; SQLite has no finer one). A transaction that already wrote holds it.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_XACT_LOCK, {"key": lock_key(parts)})
    else:
        connection.execute(_TAKE_SQLITE_WRITE_LOCK)


def insert_new(
    session: Session,
    model: type[Base],
    rows: list[dict[str, Any]],
    returning: InstrumentedAttribute[T],
) -> set[T]:
    """Insert the rows that break none of ``table``'s unique keys; the ``returning`` values
    of those inserted. Rows already stored, by an earlier request or one running right now,
    are left out without an error; the caller reads them if it needs them.
    """
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(model).on_conflict_do_nothing().returning(returning)
    # Many rows go as batched multi-row INSERTs (SQLAlchemy's "insertmanyvalues").
    return set(session.connection().execute(stmt, rows).scalars())


def insert_new_keys(
    session: Session,
    model: type[Base],
    shared: dict[str, Any],
    column: InstrumentedAttribute[str],
    keys: list[str],
) -> set[str]:
    """:func:`insert_new` for rows that differ only in the text ``column``: one statement
    whatever the number of ``keys`` (an array parameter on PostgreSQL, a JSON one on SQLite),
    where one row per key costs PostgreSQL's client a parse of every batch."""
    if not keys:
        return set()
    table: Table = model.__table__  # type: ignore[assignment]
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        array = bindparam("keys", keys, type_=ARRAY(String))
        source = func.unnest(array).table_valued("value").render_derived()
    else:
        source = func.json_each(bindparam("keys", json.dumps(keys))).table_valued("value")
    values = [bindparam(name, value, type_=table.c[name].type) for name, value in shared.items()]
    # The WHERE keeps SQLite from reading ON CONFLICT as a join's ON.
    rows = select(*values, source.c.value).select_from(source).where(true())
    module: Any = postgresql if postgres else sqlite
    stmt = module.insert(table).from_select([*shared, column.key], rows)
    stmt = stmt.on_conflict_do_nothing().returning(table.c[column.key])
    return set(session.connection().execute(stmt).scalars())
