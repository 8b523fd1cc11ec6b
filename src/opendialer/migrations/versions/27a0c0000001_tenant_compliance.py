"""issue 25: tenant-level compliance (placeholder: comp25 fills it)

Revision ID: 27a0c0000001
Revises: 26bb51a00010
Create Date: 2026-12-06 22:00:00.000000
"""

from collections.abc import Sequence

revision: str = "27a0c0000001"
down_revision: str | None = "26bb51a00010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
