"""issue 21 report rollups and wallboard (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 21bb0110000b
Revises: 22b0f0e0000a
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

revision: str = "21bb0110000b"
down_revision: str | None = "22b0f0e0000a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
