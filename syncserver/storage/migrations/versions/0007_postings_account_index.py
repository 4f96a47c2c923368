"""An index on ``postings (account, id)``: a gift card's or a voucher's history (HQ's card and
voucher pages, ``GET /api/v1/giftcards/{number}/history``) is one range of it instead of a
scan of every posting.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_postings_account_id", "postings", ["account", "id"])


def downgrade() -> None:
    op.drop_index("ix_postings_account_id", "postings")
