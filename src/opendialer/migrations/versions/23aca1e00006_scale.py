"""issue 23 campaign ownership leases (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 23aca1e00006
Revises: 25c0a11e0005
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

revision: str = "23aca1e00006"
down_revision: str | None = "25c0a11e0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
