"""issue 22 softphone edges (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 22bb0f0e0012
Revises: 18bb0e000011
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

revision: str = "22bb0f0e0012"
down_revision: str | None = "18bb0e000011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
