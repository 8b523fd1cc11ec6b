"""issue 26 pacing edges: a campaign may count its day's abandonment cap over the rolling 24 h

The day's ledger is recounted from the call history (no table of its own): over the calendar
day in the campaign's time zone, or, where Ofcom's rule is configured, the rolling 24 h.

Revision ID: 26a0ace00001
Revises: 17c5ec7e0003
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "26a0ace00001"
down_revision: str | None = "17c5ec7e0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column(
                "abandon_rolling_24h", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("abandon_rolling_24h")
