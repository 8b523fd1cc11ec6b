"""issue 18 scope and api key roles (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 18b0a5e00003
Revises: 19c0501e0002
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

revision: str = "18b0a5e00003"
down_revision: str | None = "19c0501e0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
