"""issue 20 media plane (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 20aed1a00004
Revises: 18b0a5e00003
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

revision: str = "20aed1a00004"
down_revision: str | None = "18b0a5e00003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
