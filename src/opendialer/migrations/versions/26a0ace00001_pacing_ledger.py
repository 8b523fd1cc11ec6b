"""issue 26 pacing edges (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 26a0ace00001
Revises: 17c5ec7e0003
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

revision: str = "26a0ace00001"
down_revision: str | None = "17c5ec7e0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
