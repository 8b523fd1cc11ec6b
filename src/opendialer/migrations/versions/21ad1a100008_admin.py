"""issue 21 admin pages (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 21ad1a100008
Revises: 21aa11b00007
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

revision: str = "21ad1a100008"
down_revision: str | None = "21aa11b00007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
