"""Indexes on the till entry that issued a voucher and the one that redeemed it: a void finds
the vouchers its sale redeemed (to give them back) and the reward vouchers it issued (to void
them) as one index range, not a scan of every voucher — at a million vouchers a scan made each
void cost about half a second of the push holding its locks.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_vouchers_redeemed_terminal_redeemed_seq",
        "vouchers",
        ["redeemed_terminal", "redeemed_seq"],
    )
    op.create_index(
        "ix_vouchers_issued_terminal_issued_seq", "vouchers", ["issued_terminal", "issued_seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_vouchers_issued_terminal_issued_seq", "vouchers")
    op.drop_index("ix_vouchers_redeemed_terminal_redeemed_seq", "vouchers")
