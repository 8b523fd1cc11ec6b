"""issue 19 console push and my day (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 19bb0c0e000e
Revises: 20bb0a1d000d
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

revision: str = "19bb0c0e000e"
down_revision: str | None = "20bb0a1d000d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
