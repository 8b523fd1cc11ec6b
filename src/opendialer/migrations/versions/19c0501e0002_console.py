"""issue 19 logins and console: login sessions, pause reasons per tenant, the campaign's
script, modules and wrap-up time

Revision ID: 19c0501e0002
Revises: 26a0ace00001
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import opendialer.models.base

revision: str = "19c0501e0002"
down_revision: str | None = "26a0ace00001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", opendialer.models.base.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", opendialer.models.base.UTCDateTime(), nullable=False),
        sa.Column("id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_login_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_sessions_token_hash")),
    )
    with op.batch_alter_table("login_sessions") as batch:
        batch.create_index(batch.f("ix_login_sessions_tenant_id"), ["tenant_id"], unique=False)
        batch.create_index(batch.f("ix_login_sessions_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("pause_reasons", sa.JSON(), nullable=True))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("script", sa.Text(), nullable=True))
        batch.add_column(sa.Column("modules", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("wrap_up_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("wrap_up_seconds")
        batch.drop_column("modules")
        batch.drop_column("script")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("pause_reasons")
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_index(batch.f("ix_login_sessions_user_id"))
        batch.drop_index(batch.f("ix_login_sessions_tenant_id"))
    op.drop_table("login_sessions")
