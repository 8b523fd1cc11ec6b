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


def downgrade() -> None:
    with op.batch_alter_table("engine_leases") as batch:
        batch.drop_index(batch.f("ix_engine_leases_lease_until"))
    op.drop_table("engine_leases")
