"""Vouchers and stored value (gift cards, credit slips, members' store credit): the state of
each single-use voucher and each money account. The money itself moves in ``postings`` with
the program's currency as the unit, so ``ledger rebuild --check`` replays and compares both.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vouchers",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("percent_bp", sa.Integer(), nullable=True),
        sa.Column("min_spend_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("expires_on", sa.String(10), nullable=True),
        sa.Column("member_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("issued_at", sa.String(32), nullable=False),
        sa.Column("issued_terminal", sa.String(16), nullable=True),
        sa.Column("issued_seq", sa.BigInteger(), nullable=True),
        sa.Column("hq_event_id", sa.BigInteger(), nullable=True),
        sa.Column("redeemed_terminal", sa.String(16), nullable=True),
        sa.Column("redeemed_seq", sa.BigInteger(), nullable=True),
        sa.Column("redeemed_at", sa.String(32), nullable=True),
        sa.Column("discount_minor", sa.BigInteger(), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_vouchers"),
    )
    op.create_index("ix_vouchers_change_seq", "vouchers", ["change_seq"])
    op.create_index("ix_vouchers_member_id", "vouchers", ["member_id"])
    op.create_index("ix_vouchers_status_expires_on", "vouchers", ["status", "expires_on"])
    op.create_table(
        "stored_values",
        sa.Column("account", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("card_number", sa.String(40), nullable=True),
        sa.Column("member_id", sa.String(40), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("blocked_reason", sa.String(200), nullable=True),
        sa.Column("moved_to", sa.String(120), nullable=True),
        sa.Column("activated_at", sa.String(32), nullable=True),
        sa.Column("last_used_at", sa.String(32), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", name="pk_stored_values"),
    )
    op.create_index("ix_stored_values_change_seq", "stored_values", ["change_seq"])
    op.create_index("ix_stored_values_card_number", "stored_values", ["card_number"])
    op.create_index("ix_stored_values_member_id", "stored_values", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_stored_values_member_id", "stored_values")
    op.drop_index("ix_stored_values_card_number", "stored_values")
    op.drop_index("ix_stored_values_change_seq", "stored_values")
    op.drop_table("stored_values")
    op.drop_index("ix_vouchers_status_expires_on", "vouchers")
    op.drop_index("ix_vouchers_member_id", "vouchers")
    op.drop_index("ix_vouchers_change_seq", "vouchers")
    op.drop_table("vouchers")
