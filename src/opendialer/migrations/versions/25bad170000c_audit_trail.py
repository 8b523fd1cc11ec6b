"""issue 25 audit trail (one row per change to a tenant's configuration); the check of a
contact's own caller ID

Revision ID: 25bad170000c
Revises: 21bb0110000b
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from opendialer.models.base import BigId, UTCDateTime

revision: str = "25bad170000c"
down_revision: str | None = "21bb0110000b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OWN_CALLER_ID_CHECK = sa.Enum(
    "off", "valid", "pool", native_enum=False, length=32, name="owncalleridcheck"
)


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column(
                "own_caller_id_check", OWN_CALLER_ID_CHECK, nullable=False, server_default="off"
            )
        )
    op.create_table(
        "audit_entries",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("face", sa.String(20), nullable=False),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("api_key_id", BigId, nullable=True),
        sa.Column("credential", sa.String(100), nullable=True),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_audit_entries_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_tenant_at", "audit_entries", ["tenant_id", "at"])
    op.create_index(
        "ix_audit_entries_tenant_entity", "audit_entries", ["tenant_id", "entity", "entity_id"]
    )


def downgrade() -> None:
    op.drop_table("audit_entries")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("own_caller_id_check")
