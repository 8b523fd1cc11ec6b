"""engine leases: a live engine renews its lease; another takes over a dead one's calls (placeholder)

Revision ID: 17a1ea5e0001
Revises: 5b1e7c2d9a40
Create Date: 2026-12-06 09:15:00.000000
"""

from collections.abc import Sequence

revision: str = "17a1ea5e0001"
down_revision: str | None = "5b1e7c2d9a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
