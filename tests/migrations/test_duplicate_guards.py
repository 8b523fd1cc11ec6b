"""Migration 17b0d0b1e002 on a database that already holds duplicate member codes."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from opendialer import migrate
from opendialer.db import create_db_engine

BEFORE = "17a1ea5e0001"
NOW = "CURRENT_TIMESTAMP"


def _user(user_id: int, tenant_id: int, code: str | None) -> str:
    value = "NULL" if code is None else f"'{code}'"
    return (
        "INSERT INTO users (id, tenant_id, username, role, member_code, active, created_at,"
        f" updated_at) VALUES ({user_id}, {tenant_id}, 'u{user_id}', 'agent', {value}, TRUE,"
        f" {NOW}, {NOW})"
    )


def _tenant(tenant_id: int) -> str:
    return (
        "INSERT INTO tenants (id, name, account_code, default_region, timezone, calllog_key_hash,"
        f" calllog_allowed_ips, created_at, updated_at) VALUES ({tenant_id}, 't{tenant_id}',"
        f" 'a{tenant_id}', 'DE', 'Europe/Berlin', 'h{tenant_id}', '[]', {NOW}, {NOW})"
    )


def test_the_oldest_user_keeps_a_shared_member_code(empty_url: str) -> None:
    migrate.upgrade(empty_url, BEFORE)
    engine = create_db_engine(empty_url)
    try:
        with engine.begin() as conn:
            for statement in (
                _tenant(1),
                _tenant(2),
                _user(3, 1, "SIP1"),
                _user(1, 1, "SIP1"),  # the oldest of tenant 1's SIP1 users
                _user(2, 1, "SIP1"),
                _user(4, 2, "SIP1"),  # another tenant's: kept
                _user(5, 1, None),
                _user(6, 1, None),
            ):
                conn.execute(text(statement))
        migrate.upgrade(empty_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, member_code FROM users ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [
            (1, "SIP1"),
            (2, None),
            (3, None),
            (4, "SIP1"),
            (5, None),
            (6, None),
        ]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE users SET member_code = 'SIP1' WHERE id = 2"))
    finally:
        engine.dispose()
