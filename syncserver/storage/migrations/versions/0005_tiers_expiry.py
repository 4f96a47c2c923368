"""Tiers that move and points that expire: the member's tier status (since, next review,
grace), points lots (one book per member), daily qualifying figures, and the tier history.
All derived from the ledger, so ``ledger rebuild --check`` replays and compares them.
Members that exist get empty books (their balances become one opening lot, dated today, on
the first posting after the upgrade — see syncserver.ledger.points).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("tier_since", sa.String(10), nullable=True))
        table.add_column(sa.Column("tier_review_on", sa.String(10), nullable=True))
        table.add_column(
            sa.Column("tier_grace", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_members_tier_review_on", "members", ["tier_review_on"])
    op.create_table(
        "member_lots",
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("book", sa.Text(), nullable=False),
        sa.Column("next_expiry", sa.String(10), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.member_id"], name="fk_member_lots_member_id_members"
        ),
        sa.PrimaryKeyConstraint("member_id", name="pk_member_lots"),
    )
    op.create_index("ix_member_lots_next_expiry", "member_lots", ["next_expiry"])
    op.create_table(
        "member_activity",
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("spend_minor", sa.BigInteger(), nullable=False),
        sa.Column("visits", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.member_id"], name="fk_member_activity_member_id_members"
        ),
        sa.PrimaryKeyConstraint("member_id", "day", name="pk_member_activity"),
    )
    op.create_table(
        "tier_changes",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_tier", sa.String(64), nullable=True),
        sa.Column("to_tier", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("effective_on", sa.String(10), nullable=False),
        sa.Column("terminal_id", sa.String(16), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("hq_event_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tier_changes"),
    )
    op.create_index("ix_tier_changes_member_id_id", "tier_changes", ["member_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_tier_changes_member_id_id", "tier_changes")
    op.drop_table("tier_changes")
    op.drop_table("member_activity")
    op.drop_index("ix_member_lots_next_expiry", "member_lots")
    op.drop_table("member_lots")
    op.drop_index("ix_members_tier_review_on", "members")
    with op.batch_alter_table("members") as table:
        table.drop_column("tier_grace")
        table.drop_column("tier_review_on")
        table.drop_column("tier_since")
