"""The sync server's first schema: terminals, journal, members and cards, the points ledger,
exceptions, HQ events, rules, catalog, offers, HQ users and the change counter.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    counter = op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_change_counter"),
    )
    op.bulk_insert(counter, [{"id": 1, "value": 0}])

    op.create_table(
        "terminals",
        sa.Column("terminal_id", sa.String(16), nullable=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _when("created_at"),
        _when("revoked_at", nullable=True),
        sa.Column("acked_seq", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        _when("last_push_at", nullable=True),
        sa.PrimaryKeyConstraint("terminal_id", name="pk_terminals"),
        sa.UniqueConstraint("token_hash", name="uq_terminals_token_hash"),
    )

    op.create_table(
        "journal_entries",
        sa.Column("terminal_id", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=True),
        _when("received_at"),
        sa.Column("original_terminal", sa.String(16), nullable=True),
        sa.Column("original_seq", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("terminal_id", "seq", name="pk_journal_entries"),
        sa.ForeignKeyConstraint(
            ["terminal_id"],
            ["terminals.terminal_id"],
            name="fk_journal_entries_terminal_id_terminals",
        ),
    )
    op.create_index("ix_journal_entries_position", "journal_entries", ["position"])
    op.create_index("ix_journal_entries_entry_id", "journal_entries", ["entry_id"])
    op.create_index(
        "ix_journal_entries_original_terminal_original_seq",
        "journal_entries",
        ["original_terminal", "original_seq"],
    )

    op.create_table(
        "members",
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("local_member_id", sa.String(36), nullable=True),
        sa.Column("origin_terminal", sa.String(16), nullable=True),
        sa.Column("origin_seq", sa.BigInteger, nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("tier", sa.String(64), nullable=True),
        sa.Column("marketing_consent", sa.Boolean, nullable=False),
        sa.Column("consent_text_version", sa.String(64), nullable=True),
        _when("created_at"),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_members"),
        sa.UniqueConstraint("local_member_id", name="uq_members_local_member_id"),
    )
    op.create_index("ix_members_phone", "members", ["phone"])
    op.create_index("ix_members_email", "members", ["email"])
    op.create_index("ix_members_change_seq", "members", ["change_seq"])
    op.create_index(
        "ix_members_origin_terminal_origin_seq",
        "members",
        ["origin_terminal", "origin_seq"],
        unique=True,
    )

    op.create_table(
        "cards",
        sa.Column("card_number", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("blocked_reason", sa.String(200), nullable=True),
        _when("created_at"),
        sa.PrimaryKeyConstraint("card_number", name="pk_cards"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.member_id"], name="fk_cards_member_id_members"
        ),
    )
    op.create_index("ix_cards_member_id", "cards", ["member_id"])

    op.create_table(
        "member_balances",
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_member_balances"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.member_id"], name="fk_member_balances_member_id_members"
        ),
    )

    op.create_table(
        "postings",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("terminal_id", sa.String(16), nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("hq_event_id", sa.BigInteger, nullable=True),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("account", sa.String(120), nullable=False),
        sa.Column("member_id", sa.String(40), nullable=True),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_postings"),
    )
    op.create_index("ix_postings_terminal_id_seq", "postings", ["terminal_id", "seq"])
    op.create_index("ix_postings_member_id", "postings", ["member_id"])
    op.create_index("ix_postings_hq_event_id", "postings", ["hq_event_id"])

    op.create_table(
        "exceptions",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("terminal_id", sa.String(16), nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=True),
        sa.Column("member_id", sa.String(40), nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _when("created_at"),
        _when("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exceptions"),
    )
    op.create_index("ix_exceptions_status_kind", "exceptions", ["status", "kind"])
    op.create_index("ix_exceptions_terminal_id_seq", "exceptions", ["terminal_id", "seq"])
    op.create_index("ix_exceptions_member_id", "exceptions", ["member_id"])

    op.create_table(
        "hq_events",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_hq_events"),
    )
    op.create_index("ix_hq_events_position", "hq_events", ["position"])

    op.create_table(
        "rules_versions",
        sa.Column("version", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        _when("published_at"),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_rules_versions"),
    )
    op.create_index("ix_rules_versions_change_seq", "rules_versions", ["change_seq"])

    op.create_table(
        "products",
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("price_minor", sa.BigInteger, nullable=False),
        sa.Column("tax_rate_bp", sa.Integer, nullable=False),
        sa.Column("open_price", sa.Boolean, nullable=False),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_products"),
    )
    op.create_index("ix_products_change_seq", "products", ["change_seq"])

    op.create_table(
        "offers",
        sa.Column("offer_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tier", sa.String(64), nullable=True),
        sa.Column("valid_until", sa.String(32), nullable=True),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("offer_id", name="pk_offers"),
    )
    op.create_index("ix_offers_change_seq", "offers", ["change_seq"])

    op.create_table(
        "hq_users",
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("username", name="pk_hq_users"),
    )

    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        _when("created_at"),
        _when("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_api_tokens"),
        sa.ForeignKeyConstraint(
            ["username"], ["hq_users.username"], name="fk_api_tokens_username_hq_users"
        ),
    )


def downgrade() -> None:
    for table in (
        "api_tokens",
        "hq_users",
        "offers",
        "products",
        "rules_versions",
        "hq_events",
        "exceptions",
        "postings",
        "member_balances",
        "cards",
        "members",
        "journal_entries",
        "terminals",
        "change_counter",
    ):
        op.drop_table(table)
