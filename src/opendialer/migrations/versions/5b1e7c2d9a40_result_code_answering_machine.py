"""result codes say when the agent reached an answering machine

Without AMD every answering machine reaches an agent and counts as a live answer until the agent
says otherwise; the law counts only people, so pacing learns from these codes what share of its
live answers were people.

Revision ID: 5b1e7c2d9a40
Revises: 890cf945e288
Create Date: 2026-12-05 23:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1e7c2d9a40"
down_revision: str | None = "890cf945e288"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("result_codes") as batch:
        batch.add_column(
            sa.Column("answering_machine", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("result_codes") as batch:
        batch.drop_column("answering_machine")
