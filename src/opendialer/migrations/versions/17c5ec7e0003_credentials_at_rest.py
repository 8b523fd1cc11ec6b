"""credentials at rest: account codes, recording tokens and campaign codes hashed in place,
failed-login audit rows, per-tenant link key generation

Campaign codes become derived (campaigns/codes.py: a salt per row, nothing secret stored); the
existing ones are kept as their SHA-256 so they keep working, and campaign events waiting in the
outbox lose the ``code`` their payload carried.

The clear account codes, recording tokens and campaign codes cannot come back: a downgrade
leaves their hashes (a derived code: its salt) in the old columns (new codes are made with
``POST /api/v1/tenant:new-account-code`` and ``POST /api/v1/campaigns/{id}:new-code``).

Revision ID: 17c5ec7e0003
Revises: 17b0d0b1e002
Create Date: 2026-12-06 09:15:00.000000
"""

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

import opendialer.models.base

revision: str = "17c5ec7e0003"
down_revision: str | None = "17b0d0b1e002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _hash_in_place(conn: Connection, table: str, source: str, target: str) -> None:
    rows = conn.execute(sa.text(f"SELECT id, {source} FROM {table}")).all()
    update = sa.text(f"UPDATE {table} SET {target} = :value WHERE id = :id")
    for row_id, clear in rows:
        conn.execute(update, {"value": _sha256(clear) if clear else None, "id": row_id})


def _replace_column(table: str, old: str, new: str, *, nullable: bool) -> None:
    """Add ``new``, fill it with the SHA-256 of ``old``, drop ``old`` and its unique key."""
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column(new, sa.String(length=64), nullable=True))
    _hash_in_place(op.get_bind(), table, old, new)
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(f"uq_{table}_{old}", type_="unique")
        batch.drop_column(old)
        batch.alter_column(new, existing_type=sa.String(length=64), nullable=nullable)
        batch.create_unique_constraint(f"uq_{table}_{new}", [new])


def upgrade() -> None:
    _replace_column("tenants", "account_code", "account_code_hash", nullable=False)
    _replace_column(
        "crm_endpoints", "recording_token", "legacy_recording_token_hash", nullable=True
    )
    op.create_table(
        "auth_failures",
        sa.Column("occurred_at", opendialer.models.base.UTCDateTime(), nullable=False),
        sa.Column("face", sa.String(length=20), nullable=False),
        sa.Column("credential", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failures")),
    )
    with op.batch_alter_table("auth_failures") as batch:
        batch.create_index(batch.f("ix_auth_failures_occurred_at"), ["occurred_at"], unique=False)
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("link_key_generation", sa.Integer(), nullable=False, server_default="0")
        )
    _replace_column("campaigns", "code", "legacy_code_hash", nullable=True)
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("code_salt", sa.String(length=32), nullable=True))
    _drop_code_from_campaign_events(op.get_bind())


def _drop_code_from_campaign_events(conn: Connection) -> None:
    rows = conn.execute(
        sa.text(
            "SELECT id, payload FROM outbox_messages"
            " WHERE event_type IN ('campaign.started', 'campaign.stopped')"
        )
    ).all()
    update = sa.text("UPDATE outbox_messages SET payload = :payload WHERE id = :id").bindparams(
        sa.bindparam("payload", type_=sa.JSON)
    )
    for row_id, stored in rows:
        payload = json.loads(stored) if isinstance(stored, str) else stored
        if isinstance(payload, dict) and "code" in payload:
            del payload["code"]
            conn.execute(update, {"payload": payload, "id": row_id})


def _restore_column(table: str, hashed: str, old: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column(old, sa.String(length=64), nullable=True))
    op.execute(f"UPDATE {table} SET {old} = {hashed}")
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(f"uq_{table}_{hashed}", type_="unique")
        batch.drop_column(hashed)
        batch.create_unique_constraint(f"uq_{table}_{old}", [old])


def downgrade() -> None:
    _restore_column("tenants", "account_code_hash", "account_code")
    _restore_column("crm_endpoints", "legacy_recording_token_hash", "recording_token")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("link_key_generation")
    with op.batch_alter_table("auth_failures") as batch:
        batch.drop_index(batch.f("ix_auth_failures_occurred_at"))
    op.drop_table("auth_failures")
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("code", sa.String(length=64), nullable=True))
    op.execute("UPDATE campaigns SET code = COALESCE(legacy_code_hash, code_salt)")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("uq_campaigns_legacy_code_hash", type_="unique")
        batch.drop_column("legacy_code_hash")
        batch.drop_column("code_salt")
        batch.alter_column("code", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_campaigns_code", ["code"])
