"""issue 20 media plane: a campaign's message for answering machines (played after the beep),
and an attempt's ending in the backend's words (why a recording failed, say)

Revision ID: 20aed1a00004
Revises: 18b0a5e00003
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20aed1a00004"
down_revision: str | None = "18b0a5e00003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("machine_message_uri", sa.String(length=255), nullable=True))
    with op.batch_alter_table("call_attempts") as batch:
        batch.add_column(sa.Column("end_detail", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_column("end_detail")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("machine_message_uri")
