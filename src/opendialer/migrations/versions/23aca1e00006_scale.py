"""campaign leases: exactly one engine paces a campaign, another takes it over when it dies

Revision ID: 23aca1e00006
Revises: 25c0a11e0005
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import opendialer.models.base

revision: str = "23aca1e00006"
down_revision: str | None = "25c0a11e0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_leases",
        sa.Column("campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("engine_id", sa.String(length=64), nullable=False),
        sa.Column("acquired_at", opendialer.models.base.UTCDateTime(), nullable=False),
        sa.Column("lease_until", opendialer.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_leases_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_leases")),
    )
    with op.batch_alter_table("campaign_leases") as batch:
        batch.create_index(batch.f("ix_campaign_leases_engine_id"), ["engine_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("campaign_leases") as batch:
        batch.drop_index(batch.f("ix_campaign_leases_engine_id"))
    op.drop_table("campaign_leases")
