"""issue 24/26 simulation (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 26bb51a00010
Revises: 24bb5eed000f
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

revision: str = "26bb51a00010"
down_revision: str | None = "24bb5eed000f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
