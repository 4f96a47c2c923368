"""Real stores: stores (name, address, time zone, country), their cashiers (PIN hashes the
tills pull), one-time till set-up codes, and a word index for member search.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.text import search_words

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Byte order on PostgreSQL, as members.name_key: a prefix is then an index range.
WordKey = sa.String(100).with_variant(sa.String(100, collation="C"), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "stores",
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("tax_id", sa.String(64), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("store_id", name="pk_stores"),
    )
    op.create_index("ix_stores_change_seq", "stores", ["change_seq"])
    op.create_table(
        "cashiers",
        sa.Column("cashier_id", sa.String(16), nullable=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("pin_scheme", sa.String(32), nullable=False),
        sa.Column("pin_salt", sa.String(64), nullable=False),
        sa.Column("pin_hash", sa.String(128), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _when("disabled_at", nullable=True),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("cashier_id", name="pk_cashiers"),
    )
    op.create_index("ix_cashiers_store_id_change_seq", "cashiers", ["store_id", "change_seq"])
    op.create_index("ix_cashiers_change_seq", "cashiers", ["change_seq"])
    op.create_table(
        "terminal_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("terminal_id", sa.String(16), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_terminal_codes"),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.terminal_id"],
            name="fk_terminal_codes_terminal_id_terminals",
        ),
    )
    op.create_index("ix_terminal_codes_terminal_id", "terminal_codes", ["terminal_id"])
    op.create_table(
        "member_words",
        sa.Column("word", WordKey, nullable=False),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("word", "member_id", name="pk_member_words"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.member_id"], name="fk_member_words_member_id_members"
        ),
    )
    op.create_index("ix_member_words_member_id", "member_words", ["member_id"])
    _fill_member_words()


def _fill_member_words() -> None:
    """Every existing member's name words (shared.text.search_words), in batches."""
    conn = op.get_bind()
    members = sa.table("members", sa.column("member_id"), sa.column("name"))
    words = sa.table("member_words", sa.column("word"), sa.column("member_id"))
    after = ""
    while True:
        rows = conn.execute(
            sa.select(members.c.member_id, members.c.name)
            .where(members.c.member_id > after)
            .order_by(members.c.member_id)
            .limit(5000)
        ).all()
        if not rows:
            return
        batch = [
            {"word": word[:100], "member_id": row.member_id}
            for row in rows
            for word in search_words(row.name)
        ]
        if batch:
            conn.execute(words.insert(), batch)
        after = rows[-1].member_id


def downgrade() -> None:
    for name in ("member_words", "terminal_codes", "cashiers", "stores"):
        op.drop_table(name)
