"""issue 22 browser softphone (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 22b0f0e0000a
Revises: 24a5eed00009
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

revision: str = "22b0f0e0000a"
down_revision: str | None = "24a5eed00009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
