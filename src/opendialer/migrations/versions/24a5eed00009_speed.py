"""issue 24 API and import at speed (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 24a5eed00009
Revises: 21ad1a100008
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

revision: str = "24a5eed00009"
down_revision: str | None = "21ad1a100008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
