"""issue 21: report speed (placeholder: reports21 fills it)

Revision ID: 27b0c0000002
Revises: 27a0c0000001
Create Date: 2026-12-06 22:00:00.000000
"""

from collections.abc import Sequence

revision: str = "27b0c0000002"
down_revision: str | None = "27a0c0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
