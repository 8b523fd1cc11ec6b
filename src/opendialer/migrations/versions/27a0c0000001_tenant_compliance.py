"""issue 25: the tenant's own holiday calendars, closed dates and frequency caps, and its
scheduled DNC import (a file read by housekeeping every so often, replacing the tenant-wide list)

Revision ID: 27a0c0000001
Revises: 26bb51a00010
Create Date: 2026-12-06 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from opendialer.models.base import UTCDateTime

revision: str = "27a0c0000001"
down_revision: str | None = "26bb51a00010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("holiday_calendars", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column("closed_dates", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column("max_attempts_per_number", sa.Integer(), nullable=True),
        sa.Column("max_attempts_per_contact", sa.Integer(), nullable=True),
        sa.Column("max_conversations", sa.Integer(), nullable=True),
        sa.Column("cap_window_hours", sa.Integer(), nullable=False, server_default="168"),
        sa.Column("dnc_import_path", sa.String(1000), nullable=True),
        sa.Column("dnc_import_every_minutes", sa.Integer(), nullable=True),
        sa.Column("dnc_import_last_at", UTCDateTime(), nullable=True),
        sa.Column("dnc_import_last_result", sa.JSON(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        for column in _columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
