"""credentials at rest: hashed codes and tokens, failed-login audit (placeholder)

Revision ID: 17c5ec7e0003
Revises: 17b0d0b1e002
Create Date: 2026-12-06 09:15:00.000000
"""

from collections.abc import Sequence

revision: str = "17c5ec7e0003"
down_revision: str | None = "17b0d0b1e002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
