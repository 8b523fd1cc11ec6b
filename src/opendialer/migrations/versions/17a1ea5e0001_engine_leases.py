"""engine leases: a live engine renews its lease; another takes over a dead one's calls

Revision ID: 17a1ea5e0001
Revises: 5b1e7c2d9a40
Create Date: 2026-12-06 09:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import opendialer.models.base

revision: str = "17a1ea5e0001"
down_revision: str | None = "5b1e7c2d9a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engine_leases",
        sa.Column("engine_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", opendialer.models.base.UTCDateTime(), nullable=False),
        sa.Column("renewed_at", opendialer.models.base.UTCDateTime(), nullable=False),
        sa.Column("lease_until", opendialer.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("engine_id", name=op.f("pk_engine_leases")),
    )
    with op.batch_alter_table("engine_leases") as batch:
        batch.create_index(batch.f("ix_engine_leases_lease_until"), ["lease_until"], unique=False)
    # Partial indexes: recovery finds a dead engine's open attempts and contacts in call at once.
    open_attempt = sa.text("outcome IS NULL")
    op.create_index(
        "ix_call_attempts_open",
        "call_attempts",
        ["engine_id"],
        sqlite_where=open_attempt,
        postgresql_where=open_attempt,
    )
    in_call = sa.text("status = 'in_call'")
    op.create_index(
        "ix_contacts_in_call",
        "contacts",
        ["claimed_by"],
        sqlite_where=in_call,
        postgresql_where=in_call,
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_in_call", table_name="contacts")
    op.drop_index("ix_call_attempts_open", table_name="call_attempts")
    with op.batch_alter_table("engine_leases") as batch:
        batch.drop_index(batch.f("ix_engine_leases_lease_until"))
    op.drop_table("engine_leases")
