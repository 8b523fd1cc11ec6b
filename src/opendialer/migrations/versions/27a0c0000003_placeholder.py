"""sim24 placeholder (the simulator speed line): empty until the line needs a schema change

Revision ID: 27a0c0000003
Revises: 27a0c0000002
Create Date: 2026-12-07 02:30:00.000000
"""

from collections.abc import Sequence

revision: str = "27a0c0000003"
down_revision: str | None = "27a0c0000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
