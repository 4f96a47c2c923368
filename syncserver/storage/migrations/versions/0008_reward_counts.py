"""Reward purchases: how many of each catalog reward tills have sold, for its stock limit
(``reward_counts``, one row per reward; docs/ledger.md, "Reward purchases").

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reward_counts",
        sa.Column("reward_id", sa.String(80), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("reward_id", name="pk_reward_counts"),
    )
    op.create_index("ix_reward_counts_change_seq", "reward_counts", ["change_seq"])


def downgrade() -> None:
    op.drop_index("ix_reward_counts_change_seq", "reward_counts")
    op.drop_table("reward_counts")
