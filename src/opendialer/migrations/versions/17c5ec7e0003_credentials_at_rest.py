"""credentials: failed-login audit rows, per-tenant link key generation

Revision ID: 17c5ec7e0003
Revises: 17b0d0b1e002
Create Date: 2026-12-06 09:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import opendialer.models.base

revision: str = "17c5ec7e0003"
down_revision: str | None = "17b0d0b1e002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("link_key_generation")
    with op.batch_alter_table("auth_failures") as batch:
        batch.drop_index(batch.f("ix_auth_failures_occurred_at"))
    op.drop_table("auth_failures")
