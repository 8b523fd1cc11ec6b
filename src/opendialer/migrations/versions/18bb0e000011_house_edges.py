"""issue 18 house (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 18bb0e000011
Revises: 26bb51a00010
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

revision: str = "18bb0e000011"
down_revision: str | None = "26bb51a00010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
