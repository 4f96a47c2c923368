"""HQ: staff sessions, sign-in rate limiting, the audit log, program drafts, member search
keys and activity, exception resolutions, till tips.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NameKey = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("hq_users") as table:
        table.add_column(_when("disabled_at", nullable=True))
        table.add_column(_when("last_sign_in_at", nullable=True))
    with op.batch_alter_table("terminals") as table:
        table.add_column(sa.Column("tip_seq", sa.BigInteger, nullable=True))
        table.add_column(_when("last_pull_at", nullable=True))
        table.add_column(sa.Column("revoked_by", sa.String(100), nullable=True))
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("name_key", NameKey, nullable=True))
        table.add_column(sa.Column("last_active_at", sa.String(32), nullable=True))
        table.add_column(sa.Column("phone_key", sa.String(64), nullable=True))
    # Existing members get their search key; activity starts from their latest posting.
    op.execute(
        "UPDATE members SET name_key = lower(trim(name)), last_active_at = "
        "(SELECT max(p.occurred_at) FROM postings p WHERE p.member_id = members.member_id)"
    )
    _fill_phone_keys()
    op.drop_index("ix_members_phone", "members")
    op.create_index("ix_members_phone_key", "members", ["phone_key"])
    op.create_index("ix_members_name_key_member_id", "members", ["name_key", "member_id"])
    op.create_index("ix_members_last_active_at", "members", ["last_active_at"])
    op.drop_index("ix_postings_member_id", "postings")
    op.create_index("ix_postings_member_id_id", "postings", ["member_id", "id"])
    op.create_index("ix_postings_occurred_at", "postings", ["occurred_at"])
    with op.batch_alter_table("exceptions") as table:
        table.add_column(sa.Column("resolution_kind", sa.String(16), nullable=True))
        table.add_column(sa.Column("resolution_event_id", sa.BigInteger, nullable=True))
    op.create_index("ix_exceptions_status_created_at", "exceptions", ["status", "created_at"])
    with op.batch_alter_table("rules_versions") as table:
        table.add_column(sa.Column("published_by", sa.String(100), nullable=True))
        table.add_column(sa.Column("note", sa.Text, nullable=True))

    op.create_table(
        "rules_drafts",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("base_version", sa.Integer, nullable=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_rules_drafts"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        _when("last_seen_at"),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("session_hash", name="pk_staff_sessions"),
        sa.ForeignKeyConstraint(
            ["username"], ["hq_users.username"], name="fk_staff_sessions_username_hq_users"
        ),
    )
    op.create_index("ix_staff_sessions_username", "staff_sessions", ["username"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        _when("at"),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_attempts"),
    )
    op.create_index("ix_sign_in_attempts_username_at", "sign_in_attempts", ["username", "at"])
    op.create_index("ix_sign_in_attempts_ip_at", "sign_in_attempts", ["ip", "at"])
    op.create_table(
        "audit_log",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        _when("at"),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_kind", sa.String(32), nullable=True),
        sa.Column("target_id", sa.String(120), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor", "id"])
    op.create_index(
        "ix_audit_log_target_kind_target_id_id", "audit_log", ["target_kind", "target_id", "id"]
    )


def _fill_phone_keys() -> None:
    """Digits of every stored phone number (SQL has no portable "keep digits"), in batches."""
    conn = op.get_bind()
    members = sa.table(
        "members", sa.column("member_id"), sa.column("phone"), sa.column("phone_key")
    )
    after = ""
    while True:
        rows = conn.execute(
            sa.select(members.c.member_id, members.c.phone)
            .where(members.c.member_id > after, members.c.phone.is_not(None))
            .order_by(members.c.member_id)
            .limit(5000)
        ).all()
        if not rows:
            return
        conn.execute(
            members.update()
            .where(members.c.member_id == sa.bindparam("m_id"))
            .values(phone_key=sa.bindparam("m_key")),
            [
                {"m_id": r.member_id, "m_key": "".join(c for c in r.phone if c.isdigit())}
                for r in rows
            ],
        )
        after = rows[-1].member_id


def downgrade() -> None:
    for name in ("audit_log", "sign_in_attempts", "staff_sessions", "rules_drafts"):
        op.drop_table(name)
    with op.batch_alter_table("rules_versions") as table:
        table.drop_column("note")
        table.drop_column("published_by")
    op.drop_index("ix_exceptions_status_created_at", "exceptions")
    with op.batch_alter_table("exceptions") as table:
        table.drop_column("resolution_event_id")
        table.drop_column("resolution_kind")
    op.drop_index("ix_postings_occurred_at", "postings")
    op.drop_index("ix_postings_member_id_id", "postings")
    op.create_index("ix_postings_member_id", "postings", ["member_id"])
    op.drop_index("ix_members_last_active_at", "members")
    op.drop_index("ix_members_name_key_member_id", "members")
    op.drop_index("ix_members_phone_key", "members")
    op.create_index("ix_members_phone", "members", ["phone"])
    with op.batch_alter_table("members") as table:
        table.drop_column("phone_key")
        table.drop_column("last_active_at")
        table.drop_column("name_key")
    with op.batch_alter_table("terminals") as table:
        table.drop_column("revoked_by")
        table.drop_column("last_pull_at")
        table.drop_column("tip_seq")
    with op.batch_alter_table("hq_users") as table:
        table.drop_column("last_sign_in_at")
        table.drop_column("disabled_at")
