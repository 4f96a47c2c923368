"""Phone search by the end of a number: members' phone keys re-made with shared.phones
(E.164 digits, in the country of the member's home store where it is set) and stored
reversed in ``phone_rkey``, so "4567" is an index range on a prefix. And member_words'
member index gains the word: a name search checks "has this member a word starting so?"
with one probe of (member_id, word).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.phones import phone_key, reversed_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Byte order on PostgreSQL, as members.name_key: a prefix is then an index range.
PhoneRKey = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("phone_rkey", PhoneRKey, nullable=True))
    _rekey_phones()
    op.create_index("ix_members_phone_rkey_member_id", "members", ["phone_rkey", "member_id"])
    op.create_index("ix_member_words_member_id_word", "member_words", ["member_id", "word"])
    op.drop_index("ix_member_words_member_id", "member_words")


def _rekey_phones() -> None:
    """Every stored phone number's key, in batches. The server's default country is a
    setting, not known here: a number without + from a store with no country keeps its
    digits as the key (a search by the end of the number still finds it)."""
    conn = op.get_bind()
    members = sa.table(
        "members",
        sa.column("member_id"),
        sa.column("phone"),
        sa.column("origin_terminal"),
        sa.column("phone_key"),
        sa.column("phone_rkey"),
    )
    terminals = sa.table("terminals", sa.column("terminal_id"), sa.column("store_id"))
    stores = sa.table("stores", sa.column("store_id"), sa.column("country"))
    countries = {
        row.terminal_id: row.country
        for row in conn.execute(
            sa.select(terminals.c.terminal_id, stores.c.country).join(
                stores, stores.c.store_id == terminals.c.store_id
            )
        )
    }
    after = ""
    while True:
        rows = conn.execute(
            sa.select(members.c.member_id, members.c.phone, members.c.origin_terminal)
            .where(members.c.member_id > after, members.c.phone.is_not(None))
            .order_by(members.c.member_id)
            .limit(5000)
        ).all()
        if not rows:
            return
        keys = {r.member_id: phone_key(r.phone, countries.get(r.origin_terminal)) for r in rows}
        conn.execute(
            members.update()
            .where(members.c.member_id == sa.bindparam("m_id"))
            .values(phone_key=sa.bindparam("m_key"), phone_rkey=sa.bindparam("m_rkey")),
            [
                {"m_id": member_id, "m_key": key, "m_rkey": reversed_key(key)}
                for member_id, key in keys.items()
            ],
        )
        after = rows[-1].member_id


def downgrade() -> None:
    op.create_index("ix_member_words_member_id", "member_words", ["member_id"])
    op.drop_index("ix_member_words_member_id_word", "member_words")
    op.drop_index("ix_members_phone_rkey_member_id", "members")
    with op.batch_alter_table("members") as table:
        table.drop_column("phone_rkey")
