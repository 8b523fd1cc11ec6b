"""issue 21 wallboard and reports (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 21aa11b00007
Revises: 23aca1e00006
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

revision: str = "21aa11b00007"
down_revision: str | None = "23aca1e00006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
