"""issue 20 early media and AMD figures (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 20bb0a1d000d
Revises: 25bad170000c
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

revision: str = "20bb0a1d000d"
down_revision: str | None = "25bad170000c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
