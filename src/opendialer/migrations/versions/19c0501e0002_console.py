"""issue 19 logins and console (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 19c0501e0002
Revises: 26a0ace00001
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

revision: str = "19c0501e0002"
down_revision: str | None = "26a0ace00001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
