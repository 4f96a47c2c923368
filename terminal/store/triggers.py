"""The journal's guards inside SQLite, ensured every time the till opens its database.

Migration 001 created the append-only triggers once; a database whose triggers were dropped
(by hand, a repair tool, a restore through another schema) stayed unprotected for good, and
nothing refused an INSERT that broke the chain (issue 10, section 3). So every open compares
the triggers on ``journal`` with the ones below and puts back whatever is missing, changed or
foreign — in the same write transaction as the migrations, before anything else writes:

* no UPDATE and no DELETE, ever (docs/design.md, invariant 2);
* an INSERT only of the next entry: ``seq`` is max(seq) + 1 (1 in an empty journal), the
  record's ``prev_hash`` is the previous row's ``hash`` (64 zeros for seq 1), and the row's
  ``seq``, ``hash`` and ``entry_id`` columns say what the record says.

A trigger is no defence against someone who can edit the file (they can drop it again); it
makes the till's own code, and every tool that opens the database through the till, unable
to break the chain, and it makes a tampered database whole again on the next start. The
hash chain and HQ's acknowledged hashes (invariant 10) catch the rest.
"""

from __future__ import annotations

import sqlite_utils

__all__ = ["JOURNAL_TRIGGERS", "ensure_journal_triggers"]

JOURNAL_TRIGGERS: dict[str, str] = {
    "journal_no_update": (
        "CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal\n"
        "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: entries cannot be changed'); END"
    ),
    "journal_no_delete": (
        "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal\n"
        "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: entries cannot be deleted'); END"
    ),
    "journal_append_next": (
        "CREATE TRIGGER journal_append_next BEFORE INSERT ON journal\n"
        "BEGIN\n"
        "  SELECT RAISE(ABORT, 'the journal is append-only: an entry must be the next seq')\n"
        "  WHERE NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM journal);\n"
        "  SELECT RAISE(ABORT, 'the journal refuses a record that is not a JSON object')\n"
        "  WHERE NOT json_valid(NEW.record) OR json_type(NEW.record) IS NOT 'object';\n"
        "  SELECT RAISE(ABORT, 'the journal is hash-chained: prev_hash must be the hash of "
        "the previous entry')\n"
        "  WHERE json_extract(NEW.record, '$.prev_hash') IS NOT COALESCE(\n"
        "    (SELECT hash FROM journal WHERE seq = NEW.seq - 1),\n"
        "    '0000000000000000000000000000000000000000000000000000000000000000');\n"
        "  SELECT RAISE(ABORT, 'the journal refuses a row whose seq, hash or entry_id "
        "differ from its record')\n"
        "  WHERE json_extract(NEW.record, '$.seq') IS NOT NEW.seq\n"
        "     OR json_extract(NEW.record, '$.hash') IS NOT NEW.hash\n"
        "     OR json_extract(NEW.record, '$.entry_id') IS NOT NEW.entry_id;\n"
        "END"
    ),
}
"""Name -> the exact SQL SQLite keeps in ``sqlite_master`` for it. (The 64 zeros are
``shared.journal.GENESIS_HASH``, spelled out: a literal, so the SQL is a constant; a test
holds them equal.)"""


def ensure_journal_triggers(db: sqlite_utils.Database) -> list[str]:
    """Make the triggers on ``journal`` exactly :data:`JOURNAL_TRIGGERS`; return the names
    (re)created or dropped. Call inside the open's write transaction.

    A trigger that is merely present is not enough: one with the right name and a weakened
    body, or an extra ``BEFORE INSERT … RAISE(IGNORE)`` that silently swallows entries, would
    defeat the guard; so anything that differs from the text above is replaced or dropped.
    Comparing first means a healthy database is not written to (no schema change that would
    make every other connection re-prepare its statements).
    """
    present = {
        str(name): str(sql)
        for name, sql in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'journal'"
        ).fetchall()
    }
    changed: list[str] = []
    for name in sorted(set(present) - set(JOURNAL_TRIGGERS)):
        db.execute(f"DROP TRIGGER {_quoted(name)}")
        changed.append(name)
    for name, sql in JOURNAL_TRIGGERS.items():
        if present.get(name) == sql:
            continue
        if name in present:
            db.execute(f"DROP TRIGGER {_quoted(name)}")
        db.execute(sql)
        changed.append(name)
    return changed


def _quoted(name: str) -> str:
    """An identifier as SQL text (a foreign trigger's name may hold any character)."""
    return '"' + name.replace('"', '""') + '"'
