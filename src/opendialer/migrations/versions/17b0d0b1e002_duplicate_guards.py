"""duplicate guards: unique keys so simultaneous creates cannot store one thing twice (placeholder)

Revision ID: 17b0d0b1e002
Revises: 17a1ea5e0001
Create Date: 2026-12-06 09:15:00.000000
"""

from collections.abc import Sequence

revision: str = "17b0d0b1e002"
down_revision: str | None = "17a1ea5e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
