"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, Connection, Engine, Index, MetaData, Table, inspect, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from opendialer import migrate
from opendialer.accounts.service import authenticate_api_key, tenant_by_account_code
from opendialer.campaigns.codes import CodeKey, campaign_by_code
from opendialer.config import Settings
from opendialer.crm.links import endpoint_by_recording_token, recording_token
from opendialer.db import create_db_engine
from opendialer.models import Base, OutboxMessage, UserRole
from opendialer.security import hash_token
from tests.conftest import empty_database


def test_migrated_schema_matches_models(database_url: str, db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_dial_queue_index_is_partial(database_url: str, db_engine: Engine) -> None:
    indexes = {i["name"]: i for i in inspect(db_engine).get_indexes("contacts")}
    assert "ix_contacts_dial_queue" in indexes


def _model_index_columns(index: Index) -> list[tuple[str, bool]]:
    """(column, descending) of a model's index, in order."""
    out: list[tuple[str, bool]] = []
    for expression in index.expressions:
        if isinstance(expression, UnaryExpression):
            column = expression.element
            out.append(
                (str(getattr(column, "name", column)), expression.modifier is operators.desc_op)
            )
        else:
            out.append((str(getattr(expression, "name", expression)), False))
    return out


def _database_index_columns(conn: Connection, table: str, name: str) -> list[tuple[str, bool]]:
    """(column, descending) of an index as the database built it (SQLAlchemy's reflection does
    not report a sort order on SQLite, so neither does Alembic's comparison)."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"PRAGMA index_xinfo('{name}')").all()
        return [(row[2], bool(row[3])) for row in rows if row[5]]  # key columns only
    index = next(i for i in inspect(conn).get_indexes(table) if i["name"] == name)
    sorting = index.get("column_sorting", {})
    return [(str(c), "desc" in sorting.get(str(c), ())) for c in index["column_names"]]


def test_migrated_indexes_keep_their_columns_order_and_direction(
    database_url: str, db_engine: Engine
) -> None:
    """A batch migration on SQLite rebuilds a table's indexes from reflection, which drops a
    DESC: the dial queue index lost it once and every claim sorted the whole queue."""
    with db_engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                assert index.name is not None
                built = _database_index_columns(conn, table.name, index.name)
                assert built == _model_index_columns(index), index.name


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database(request.param, tmp_path) as url:
        yield url


def test_credentials_are_hashed_in_place_and_still_work(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "17b0d0b1e002")
    engine = create_db_engine(fresh_url)
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tenants (id, name, account_code, default_region, timezone,"
                    " calllog_key_hash, calllog_allowed_ips, created_at, updated_at) VALUES"
                    " (1, 'T', 'acct-clear', 'DE', 'Europe/Berlin', 'h', '[]', :now, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO crm_endpoints (id, tenant_id, name, kind, url,"
                    " user_extension_policy, batch_interval_seconds, recording_token, secret,"
                    " events, active, created_at,"
                    " updated_at) VALUES (1, 1, 'm', 'webhook', 'https://x', 'agent', 0,"
                    " 'tok-clear', 's', '[]', :true, :now, :now)"
                ),
                {"now": now, "true": True},
            )
        migrate.upgrade(fresh_url)
        with engine.connect() as conn:
            dump = str(conn.execute(text("SELECT * FROM tenants")).all())
            dump += str(conn.execute(text("SELECT * FROM crm_endpoints")).all())
        assert "acct-clear" not in dump and "tok-clear" not in dump
        settings = Settings(database_url=fresh_url)
        with Session(engine) as session:
            tenant = tenant_by_account_code(session, "acct-clear")
            assert tenant is not None and tenant.id == 1
            assert tenant_by_account_code(session, hash_token("acct-clear")) is None
            endpoint = endpoint_by_recording_token(session, settings, "tok-clear")
            assert endpoint is not None and endpoint.id == 1
            derived = recording_token(session, settings, endpoint)
            assert endpoint_by_recording_token(session, settings, derived) is endpoint
            forged = derived.split(".")[0] + "." + "0" * 32
            assert endpoint_by_recording_token(session, settings, forged) is None
        migrate.downgrade(fresh_url, "17b0d0b1e002")
        migrate.upgrade(fresh_url)
    finally:
        engine.dispose()


_PLACEHOLDERS: dict[type, object] = {str: "x", int: 0, float: 0.0, bool: False}


def _insert_row(conn: Connection, table: str, **values: object) -> None:
    """A row with ``values`` and a placeholder in every other required column, whatever the
    schema at this revision has."""
    reflected = Table(table, MetaData(), autoload_with=conn)
    row = dict(values)
    now = datetime.now(UTC).replace(tzinfo=None)
    for column in reflected.columns:
        if column.name in row or column.nullable or column.server_default is not None:
            continue
        if isinstance(column.type, JSON):
            row[column.name] = {}
        elif column.type.python_type is datetime:
            row[column.name] = now
        elif column.type.python_type is time:
            row[column.name] = time(9)
        else:
            row[column.name] = _PLACEHOLDERS[column.type.python_type]
    conn.execute(reflected.insert().values(row))


def test_campaign_codes_are_hashed_in_place_and_still_work(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "17b0d0b1e002")
    engine = create_db_engine(fresh_url)
    event = {"campaign_id": 1, "code": "camp-clear", "name": "C", "status": "enabled"}
    try:
        with engine.begin() as conn:
            _insert_row(conn, "tenants", id=1, account_code="a", calllog_allowed_ips=[])
            _insert_row(
                conn, "campaigns", id=1, tenant_id=1, code="camp-clear", dial_mode="predictive",
                status="enabled", calling_days=[1, 2, 3],
            )  # fmt: skip
            _insert_row(conn, "contacts", id=1, tenant_id=1, campaign_id=1, status="waiting")
            _insert_row(
                conn, "crm_endpoints", id=1, tenant_id=1, kind="webhook", recording_token="t",
                user_extension_policy="agent", events=[],
            )  # fmt: skip
            _insert_row(
                conn, "outbox_messages", id=1, tenant_id=1, endpoint_id=1, payload=event,
                event_type="campaign.started", status="pending",
            )  # fmt: skip
        migrate.upgrade(fresh_url)
        with engine.connect() as conn:
            dump = str(conn.execute(text("SELECT * FROM campaigns")).all())
            dump += str(conn.execute(text("SELECT * FROM outbox_messages")).all())
            contacts = conn.execute(text("SELECT count(*) FROM contacts")).scalar()
        assert "camp-clear" not in dump
        assert contacts == 1  # rebuilding the campaigns table deleted none of its children
        key = CodeKey(Settings().secret_key.get_secret_value())
        with Session(engine) as session:
            campaign = campaign_by_code(session, key, "camp-clear")
            assert campaign is not None and campaign.id == 1
            assert key.of(campaign) is None  # an old code works but cannot be shown
            assert campaign_by_code(session, key, hash_token("camp-clear")) is None
            outbox = session.get_one(OutboxMessage, 1)
            assert outbox.payload == {k: v for k, v in event.items() if k != "code"}
        migrate.downgrade(fresh_url, "17b0d0b1e002")
        migrate.upgrade(fresh_url)
    finally:
        engine.dispose()


def test_existing_api_keys_become_admins_and_keep_working(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "19c0501e0002")
    engine = create_db_engine(fresh_url)
    try:
        with engine.begin() as conn:
            _insert_row(conn, "tenants", id=1, name="T")
            _insert_row(conn, "api_keys", id=1, tenant_id=1, key_hash=hash_token("od_old"))
        migrate.upgrade(fresh_url)
        with Session(engine) as session:
            scope = authenticate_api_key(session, "od_old")
        assert (scope.tenant_id, scope.role, scope.api_key_id) == (1, UserRole.ADMIN, 1)
        migrate.downgrade(fresh_url, "19c0501e0002")
        migrate.upgrade(fresh_url)
    finally:
        engine.dispose()
