"""Audit rows written by the session itself, so no service can forget one.

Installed on every session maker and its engine (``db.create_sessionmaker``). Inside an audit
context (``audit.context``: a request through one of the faces), each flush writes one row per
created, changed or deleted object of an audited table (``after_flush``: ids are known,
attribute history is not reset yet), and every other INSERT, UPDATE or DELETE on an audited
table (Core or ORM, through the session or its connection) writes one row with its row count
and (up to ``BULK_SAMPLE`` rows) the rows it wrote or the rows as they were (the engine's
``before_execute`` and ``after_execute``), except the Core inserts of :func:`insert_named`,
which write one ``create`` row per inserted row, as a flush does. The rows of a transaction
wait on its connection and go in one INSERT (one statement, executed for every row) as it
commits (the engine's ``commit`` event, before the database's COMMIT): a rollback, or a
rolled-back savepoint, drops the rows written in it, as the database drops the changes they
describe. Inside a bulk run (an import) those only count their rows: the run writes one row
with its counts. Outside any context nothing is recorded, and the hooks cost a
context-variable read per statement.

The trail cannot be changed: the mapper refuses an UPDATE or DELETE of an ``AuditEntry`` and the
engine hook refuses any other, except the retention purge (``PURGE_OPTION``).
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import (
    Connection,
    Delete,
    Engine,
    Insert,
    Table,
    Update,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapper, Session, sessionmaker

from opendialer.audit.context import AuditContext, current
from opendialer.errors import Conflict
from opendialer.models import AuditEntry
from opendialer.models.base import utcnow

log = logging.getLogger(__name__)

AUDIT_TABLE: Table = AuditEntry.__table__  # type: ignore[assignment]
PURGE_OPTION = "opendialer_audit_purge"
NAMED_OPTION = "opendialer_audit_named"  # the statement's caller records its rows (insert_named)
BULK_SAMPLE = 100
SECRET = "[secret]"

# The tenant's configuration and data people change: table -> columns not audited (the
# dialling's own bookkeeping, which the engine and the call outcomes change on every call).
AUDITED: dict[str, frozenset[str]] = {
    "tenants": frozenset({"updated_at", "link_key_generation"}),
    "api_keys": frozenset(),
    "users": frozenset({"updated_at"}),
    "agent_groups": frozenset({"updated_at"}),
    "agent_group_members": frozenset(),
    "campaigns": frozenset({"updated_at"}),
    "campaign_members": frozenset(),
    "contact_lists": frozenset({"updated_at"}),
    "result_codes": frozenset({"updated_at"}),
    "retry_rules": frozenset(),
    "form_fields": frozenset(),
    "contacts": frozenset(
        {
            "updated_at",
            "tries",
            "next_phone_position",
            "last_call_at",
            "claimed_at",
            "claimed_by",
            "last_result_mailbox",
        }
    ),
    "contact_phones": frozenset(
        {"tries", "last_cause", "last_end_reason_id", "last_attempt_at", "abandoned_at"}
    ),
    "consents": frozenset(),
    "caller_id_numbers": frozenset({"last_used_at"}),
    "dnc_entries": frozenset(),
    "crm_endpoints": frozenset(),
}

# Every other table, and why it is not configuration (tests/audit: each table is in one).
NOT_AUDITED: dict[str, str] = {
    "audit_entries": "the trail itself",
    "call_attempts": "calls: the call history is their record",
    "recordings": "calls' media, kept by the recording retention",
    "crm_call_logs": "MiniCRM's call log, a record of calls",
    "contact_holds": "the engine's reasons for parking a contact",
    "agent_state_changes": "agent states: the state history is their record",
    "dnc_refusals": "the compliance report's count of refused numbers",
    "agent_sessions": "agents' live state",
    "engine_leases": "engine coordination",
    "campaign_leases": "engine coordination",
    "pacing_decisions": "the pacing log",
    "auth_failures": "the failed-credentials log",
    "login_sessions": "sign-ins (their own table is their record)",
    "outbox_messages": "the CRM outbox queue",
    "acd_events": "ACD events: calls routed, not configuration",
    "attempt_quarters": "report rollups, derived from the call history",
    "agent_state_quarters": "report rollups, derived from the agent state history",
    "agent_state_marks": "report rollups: each agent's state at the watermark",
    "report_watermarks": "report rollups: how far the history is rolled up",
}

# Columns whose value is never copied into the trail (only that it changed).
SECRETS = frozenset(
    {
        "password_hash",
        "key_hash",
        "account_code_hash",
        "calllog_key_hash",
        "code_salt",
        "legacy_code_hash",
        "legacy_recording_token_hash",
        "api_key",
        "secret",
    }
)

# Tables without a tenant column: the parent that names the tenant.
_PARENTS = {
    "agent_group_members": ("agent_groups", "group_id"),
    "campaign_members": ("campaigns", "campaign_id"),
    "retry_rules": ("campaigns", "campaign_id"),
    "form_fields": ("campaigns", "campaign_id"),
}


@cache
def _insert_rows() -> Insert:
    """Built once: every audited transaction writes its rows with it, on the hot path."""
    return insert(AUDIT_TABLE)


class TrailIsReadOnly(Conflict):
    def __init__(self) -> None:
        super().__init__("The audit trail cannot be changed", code="audit_read_only")


def install(sessions: "sessionmaker[Session]") -> None:
    event.listen(sessions, "after_flush", _record_flush)
    engine: Engine = sessions.kw["bind"]
    if not event.contains(engine, "before_execute", _before_execute):
        event.listen(engine, "before_execute", _before_execute)
        event.listen(engine, "after_execute", _after_execute)
        event.listen(engine, "begin", _drop_pending)  # rows of an end no event saw: not ours
        event.listen(engine, "commit", _write_pending)
        event.listen(engine, "rollback", _drop_pending)
        # A savepoint's rows are written at its start, release or rollback (dropped): only the
        # rows written since the last of those wait, whatever the nesting.
        event.listen(engine, "savepoint", _write_pending)
        event.listen(engine, "release_savepoint", _write_pending)
        event.listen(engine, "rollback_savepoint", _drop_pending)


# Rows waiting for their transaction's commit, on the connection's ``info`` (its DBAPI
# connection's, kept across check-outs: so every start and end of a transaction empties it).
_PENDING = "opendialer_audit_pending"


def _add_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    conn.info.setdefault(_PENDING, []).extend(rows)


def _write_pending(conn: Connection, *_savepoint: object) -> None:
    if conn.invalidated:  # lost: the commit fails anyway, and the next begin drops the rows
        return
    rows = conn.info.pop(_PENDING, None)
    if rows:
        conn.execute(_insert_rows(), rows)


def _drop_pending(conn: Connection, *_savepoint: object) -> None:
    # A lost connection's ``info`` cannot be reached before the rollback ends (SQLAlchemy
    # raises PendingRollbackError, turning a retryable disconnect into a 500); its rows go
    # at the next begin.
    if not conn.invalidated:
        conn.info.pop(_PENDING, None)


def refuse_changes() -> None:
    """Once per process: the mapper refuses to update or delete an audit row."""
    if not event.contains(AuditEntry, "before_update", _refuse):
        event.listen(AuditEntry, "before_update", _refuse)
        event.listen(AuditEntry, "before_delete", _refuse)


def _refuse(_mapper: Mapper[Any], _connection: object, _target: object) -> None:
    raise TrailIsReadOnly()


def _value(column: str, value: object) -> object:
    if column in SECRETS and value is not None:
        return SECRET
    return to_jsonable_python(value, fallback=str)


def _entry(
    context: AuditContext, owner: int, entity: tuple[str, str], action: str, changes: object
) -> dict[str, Any]:
    """An audit row of the tenant ``owner`` (the changed row's tenant)."""
    table, entity_id = entity
    return {
        "tenant_id": owner,
        "at": utcnow(),
        "face": context.face,
        "user_id": context.user_id,
        "api_key_id": context.api_key_id,
        "credential": context.credential,
        "entity": table,
        "entity_id": entity_id[:64],
        "action": action,
        "changes": changes,
    }


# Objects flushed through the unit of work ------------------------------------------------


def _record_flush(session: Session, _flush_context: object) -> None:
    context = current()
    if context is None:
        return
    rows: list[dict[str, Any]] = []
    for objects, action in ((session.new, "create"), (session.dirty, "update")):
        rows.extend(_object_rows(session, context, objects, action))
    rows.extend(_object_rows(session, context, session.deleted, "delete"))
    if rows:
        _add_rows(session.connection(), rows)


def _object_rows(
    session: Session, context: AuditContext, objects: Iterable[object], action: str
) -> Iterable[dict[str, Any]]:
    for obj in objects:
        state = inspect(obj)
        table = state.mapper.local_table.name
        ignored = AUDITED.get(table)
        if ignored is None:
            continue
        changes = _changes(state, ignored, action)
        if not changes:
            continue
        tenant_id = _tenant_of(session.connection(), context, table, state.dict)
        if tenant_id is None:
            log.warning("audit: no tenant for a change to %s", table)
            continue
        key = state.mapper.primary_key_from_instance(obj)  # new objects: no identity yet
        entity_id = ":".join(str(part) for part in key)
        yield _entry(context, tenant_id, (table, entity_id), action, changes)


def _changes(state: Any, ignored: frozenset[str], action: str) -> dict[str, list[object]]:
    """``{column: [before, after]}``: every set column of a new or deleted object, the changed
    ones of a changed object."""
    changes: dict[str, list[object]] = {}
    changed = state.committed_state  # an unchanged attribute has no history: skip it unasked
    for name in _column_keys(state.mapper):
        if name in ignored or name not in (changed if action == "update" else state.dict):
            continue
        if action == "create":
            if state.dict[name] is not None:
                changes[name] = [None, _value(name, state.dict[name])]
        elif action == "delete":
            changes[name] = [_value(name, state.dict[name]), None]
        else:
            history = state.attrs[name].history
            if history.added or history.deleted:
                before = history.deleted[0] if history.deleted else None
                after = history.added[0] if history.added else None
                if before != after:
                    changes[name] = [_value(name, before), _value(name, after)]
    return changes


@cache
def _column_keys(mapper: Mapper[Any]) -> tuple[str, ...]:
    return tuple(attr.key for attr in mapper.column_attrs)


def _tenant_of(
    conn: Connection, context: AuditContext, table: str, values: Mapping[str, Any]
) -> int | None:
    if table == "tenants":
        return int(values["id"]) if "id" in values else context.tenant_id
    if values.get("tenant_id") is not None:
        return int(values["tenant_id"])
    parent = _PARENTS.get(table)
    if parent is not None and values.get(parent[1]) is not None:
        parent_table = AuditEntry.metadata.tables[parent[0]]
        stmt = select(parent_table.c.tenant_id).where(parent_table.c.id == values[parent[1]])
        found = conn.scalar(stmt)
        if found is not None:
            return int(found)
    return context.tenant_id


# Bulk statements ---------------------------------------------------------------------------
# On the engine, not the session: the hot paths write with Core on ``session.connection()``,
# which no session event sees. The ORM's own flush statements carry ``compiled_cache`` in
# their options; ``after_flush`` has recorded those, with each object's history.


def _target(statement: object) -> Table | None:
    if isinstance(statement, Insert | Update | Delete):
        table = statement.table
        return table if isinstance(table, Table) else None
    return None


def _audited_table(statement: object, options: Mapping[str, Any]) -> Table | None:
    """The audited table a bulk statement writes, when it is to be recorded now."""
    table = _target(statement)
    if table is None:
        return None
    if table.name == AUDIT_TABLE.name:  # an ORM statement's table is an annotated copy
        if not isinstance(statement, Insert) and not options.get(PURGE_OPTION):
            raise TrailIsReadOnly()
        return None
    if "compiled_cache" in options or NAMED_OPTION in options or table.name not in AUDITED:
        return None
    return table


def _before_execute(
    conn: Connection,
    statement: object,
    multiparams: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    options: Mapping[str, Any],
) -> None:
    table = _audited_table(statement, options)
    context = current()
    if table is None or context is None or context.bulk is not None:
        return
    if isinstance(statement, Update | Delete):
        bound = multiparams[0] if multiparams else params
        conn.info.setdefault(_BEFORE, {})[id(statement)] = _rows_before(
            conn, table, statement, bound
        )


def _after_execute(
    conn: Connection,
    statement: object,
    multiparams: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    options: Mapping[str, Any],
    result: CursorResult[Any],
) -> None:
    table = _audited_table(statement, options)
    context = current()
    if table is None or context is None:
        return
    verb = "create" if isinstance(statement, Insert) else "update"
    verb = "delete" if isinstance(statement, Delete) else verb
    if context.bulk is not None:
        context.bulk.count(f"{table.name}.{verb}", max(0, _rowcount(result)))
        return
    before: list[dict[str, Any]] = conn.info.get(_BEFORE, {}).pop(id(statement), [])
    written = list(multiparams) if multiparams else [params] if params else []
    changes = _bulk_changes(statement, table, (before, written), result)
    tenant_id = _bulk_tenant(context, before, written, result)
    if tenant_id is None:
        log.warning("audit: no tenant for a bulk change to %s", table.name)
        return
    entity_id = str(before[0].get("id", "*")) if len(before) == 1 else "*"
    row = _entry(context, tenant_id, (table.name, entity_id), f"bulk_{verb}", changes)
    _add_rows(conn, [row])


_BEFORE = "opendialer_audit_before"


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", -1))


def _rows_before(
    conn: Connection, table: Table, statement: Update | Delete, bound: Mapping[str, Any]
) -> list[dict[str, Any]]:
    stmt = select(table)
    if statement.whereclause is not None:
        stmt = stmt.where(statement.whereclause)
    found = conn.execute(stmt.limit(BULK_SAMPLE + 1), dict(bound))
    return [dict(row._mapping) for row in found]


def _redacted(row: Mapping[str, Any], ignored: frozenset[str]) -> dict[str, object]:
    return {k: _value(k, v) for k, v in row.items() if k not in ignored}


def _bulk_changes(
    statement: object,
    table: Table,
    rows: tuple[list[dict[str, Any]], list[Mapping[str, Any]]],
    result: CursorResult[Any],
) -> dict[str, object]:
    """The row count, and up to ``BULK_SAMPLE`` rows: those written (an INSERT) or those as
    they were (an UPDATE, with the values it set, or a DELETE)."""
    before, written = rows
    ignored = AUDITED[table.name]
    # A statement with RETURNING counts its rows only as they are read (by its caller).
    changes: dict[str, object] = {"rows": None if result.returns_rows else _rowcount(result)}
    if isinstance(statement, Insert):
        # INSERT ... SELECT: the values it was given
        given = written or result.context.compiled_parameters[:1]
        changes["written"] = [_redacted(p, ignored) for p in given[:BULK_SAMPLE]]
        return changes
    if isinstance(statement, Update):
        values = result.context.compiled_parameters[0]
        changes["set"] = {name: _value(name, values.get(name)) for name in _set_columns(statement)}
    changes["before"] = [_redacted(row, ignored) for row in before[:BULK_SAMPLE]]
    return changes


def _set_columns(statement: Update) -> list[str]:
    return [getattr(key, "key", str(key)) for key in (statement._values or {})]


def _bulk_tenant(
    context: AuditContext,
    before: list[dict[str, Any]],
    written: list[Mapping[str, Any]],
    result: CursorResult[Any],
) -> int | None:
    for row in (*before[:1], *written[:1]):
        if row.get("tenant_id") is not None:
            return int(row["tenant_id"])
    compiled = getattr(result.context, "compiled_parameters", None) or [{}]
    if compiled[0].get("tenant_id") is not None:
        return int(compiled[0]["tenant_id"])
    return context.tenant_id


# Core inserts that name their rows ---------------------------------------------------------


@cache
def _insert_named(table: Table) -> Insert:
    """Built once per table: the hot path's create inserts with it."""
    stmt = insert(table).returning(*table.c, sort_by_parameter_order=True)
    return stmt.execution_options(**{NAMED_OPTION: True})


@cache
def _table_columns(table: Table) -> frozenset[str]:
    """The table's column keys: a set lookup, where ``key in table.c`` is a Python call."""
    return frozenset(table.c.keys())


def insert_named(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Insert ``rows`` into ``table`` with Core, and audit them as the unit of work audits new
    objects: one ``create`` row each, naming the id the INSERT returned, with every column it
    set (defaults included). The rows as stored (every column), in order: a Core insert costs
    a fraction of the ORM's flush on a hot path."""
    if not rows:
        return []
    result = conn.execute(_insert_named(table), list(rows))
    stored = [dict(row) for row in result.mappings()]
    columns = _table_columns(table)
    inserted = [
        {**{key: value for key, value in params.items() if key in columns}, "id": row["id"]}
        for params, row in zip(result.context.compiled_parameters, stored, strict=True)
    ]
    _record_inserted(conn, table, inserted)
    return stored


def _record_inserted(conn: Connection, table: Table, inserted: list[dict[str, Any]]) -> None:
    context = current()
    if context is None:
        return
    if context.bulk is not None:
        context.bulk.count(f"{table.name}.create", len(inserted))
        return
    ignored = AUDITED[table.name]
    rows: list[dict[str, Any]] = []
    for values in inserted:
        changes = {
            name: [None, _value(name, value)]
            for name, value in values.items()
            if name not in ignored and value is not None
        }
        tenant_id = _tenant_of(conn, context, table.name, values)
        if tenant_id is None:
            log.warning("audit: no tenant for a change to %s", table.name)
            continue
        rows.append(_entry(context, tenant_id, (table.name, str(values["id"])), "create", changes))
    _add_rows(conn, rows)


def record_run(
    session: Session, entity: tuple[str, str], action: str, summary: dict[str, object]
) -> None:
    """One row for a bulk run (an import): its entity, action and counts."""
    context = current()
    if context is None or context.tenant_id is None:
        return
    row = _entry(context, context.tenant_id, entity, action, to_jsonable_python(summary))
    _add_rows(session.connection(), [row])


def purge_before(session: Session, cutoff: datetime) -> int:
    """Delete rows older than ``cutoff`` (the retention's purge: the one delete allowed)."""
    stmt = AUDIT_TABLE.delete().where(AUDIT_TABLE.c.at < cutoff)
    result = session.execute(stmt, execution_options={PURGE_OPTION: True})
    return _rowcount(result)
