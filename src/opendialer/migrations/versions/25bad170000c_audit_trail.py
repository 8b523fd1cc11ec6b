"""issue 25 audit trail and DNC lists (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 25bad170000c
Revises: 21bb0110000b
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

revision: str = "25bad170000c"
down_revision: str | None = "21bb0110000b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
