"""Schema migrations for the till database, recorded in the ``migrations`` table.

Migrations are append-only: never edit one that has shipped; add the next. Each runs in the
caller's transaction, so a till upgraded mid-crash is either migrated or not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from shared.phones import phone_key, reversed_key
from shared.text import search_words

__all__ = [
    "DEFERRABLE_INDEXES",
    "MIGRATIONS",
    "apply_migrations",
    "drop_deferrable_indexes",
    "ensure_indexes",
]


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run ``script`` statement by statement inside the caller's transaction.

    ``sqlite3.executescript`` would COMMIT first, making a migration non-atomic.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement.strip()[:60]}")


def _m001_initial(db: sqlite_utils.Database) -> None:
    _run_script(
        db,
        """
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        -- The append-only, hash-chained journal (docs/design.md, invariant 2).
        CREATE TABLE journal (
            seq INTEGER PRIMARY KEY,
            entry_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            occurred_at TEXT NOT NULL,
            hash TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only: entries cannot be changed'); END;
        CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only: entries cannot be deleted'); END;

        -- Member cache: the server's view plus members enrolled here.
        CREATE TABLE members (
            member_key TEXT PRIMARY KEY,     -- server id, or 'L:<local uuid>' until synced
            member_id TEXT,
            local_member_id TEXT,
            name TEXT NOT NULL,
            name_fold TEXT NOT NULL,         -- lower-cased for search
            phone TEXT,
            phone_digits TEXT,
            email TEXT,
            tier TEXT,
            server_balance INTEGER NOT NULL DEFAULT 0,
            marketing_consent INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX members_phone ON members(phone_digits);
        CREATE INDEX members_email ON members(email);
        CREATE INDEX members_name ON members(name_fold);
        CREATE TABLE cards (
            card_number TEXT PRIMARY KEY,
            member_key TEXT NOT NULL REFERENCES members(member_key),
            status TEXT NOT NULL DEFAULT 'active',   -- active | blocked
            blocked_reason TEXT
        );
        CREATE INDEX cards_member ON cards(member_key);

        -- Points effects of this till's own entries, for balance = server + unsent effects.
        CREATE TABLE points_effects (
            seq INTEGER NOT NULL REFERENCES journal(seq),
            member_key TEXT NOT NULL,
            delta INTEGER NOT NULL,
            redeemed INTEGER NOT NULL DEFAULT 0,
            local_date TEXT NOT NULL
        );
        CREATE INDEX points_effects_member ON points_effects(member_key, seq);

        CREATE TABLE products (
            sku TEXT PRIMARY KEY,
            description TEXT NOT NULL,
            category TEXT NOT NULL,
            price_minor INTEGER NOT NULL,
            tax_rate_bp INTEGER NOT NULL DEFAULT 0,
            open_price INTEGER NOT NULL DEFAULT 0   -- departments: the cashier keys the price
        );
        CREATE TABLE rules (version INTEGER PRIMARY KEY, program_id TEXT NOT NULL,
                            document TEXT NOT NULL);
        CREATE TABLE offers (
            offer_id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            tier TEXT,                -- NULL: every member
            valid_until TEXT
        );
        CREATE TABLE cashiers (
            cashier_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            pin_salt TEXT NOT NULL,
            pin_hash TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT 'cashier'
        );

        -- Receipts waiting for (or failed at) the printer. The sale is already journaled.
        CREATE TABLE print_jobs (
            id INTEGER PRIMARY KEY,
            seq INTEGER NOT NULL REFERENCES journal(seq),
            reprint INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'queued',  -- queued | printed | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            balance_after INTEGER,
            tier_after TEXT,
            created_at TEXT NOT NULL,
            printed_at TEXT
        );
        CREATE INDEX print_jobs_status ON print_jobs(status);

        -- What has been refunded of each sold line, so a return can never exceed the sale.
        CREATE TABLE returned_lines (
            orig_terminal TEXT NOT NULL,
            orig_seq INTEGER NOT NULL,
            line_no INTEGER NOT NULL,
            quantity INTEGER NOT NULL,
            refund_minor INTEGER NOT NULL,
            return_seq INTEGER NOT NULL REFERENCES journal(seq)
        );
        CREATE INDEX returned_lines_orig ON returned_lines(orig_terminal, orig_seq);
        CREATE TABLE voided_sales (
            orig_seq INTEGER PRIMARY KEY,
            void_seq INTEGER NOT NULL REFERENCES journal(seq)
        );

        CREATE TABLE shifts (
            shift_id TEXT PRIMARY KEY,
            cashier_id TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            first_seq INTEGER NOT NULL,
            close_seq INTEGER
        );
        """,
    )


def _m002_member_applied_through(db: sqlite_utils.Database) -> None:
    """Each cached balance remembers which of this till's entries it already includes
    (docs/protocol.md, Pull): pages of a pull can straddle a push."""
    _run_script(
        db,
        """
        ALTER TABLE members ADD COLUMN applied_through_seq INTEGER NOT NULL DEFAULT 0;
        CREATE UNIQUE INDEX members_member_id ON members(member_id);
        CREATE INDEX members_local_id ON members(local_member_id);
        """,
    )


def _m003_store_staff_basket_search(db: sqlite_utils.Database) -> None:
    """Cashiers managed at HQ (pulled, may be disabled), the sale in progress kept durably,
    and a word index so member search finds any word of a name, diacritics folded."""
    _run_script(
        db,
        """
        ALTER TABLE cashiers ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
        -- 'hq': pulled from HQ (HQ's copy wins); 'local': seeded here (demo, tests).
        ALTER TABLE cashiers ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
        ALTER TABLE cashiers ADD COLUMN pin_scheme TEXT NOT NULL DEFAULT 'scrypt:16384:8:1';

        -- The sale being built, one row, rewritten on every change: offered back after a
        -- crash or power cut. Deleted when the sale is completed or cancelled.
        CREATE TABLE open_sale (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            document TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE member_words (
            word TEXT NOT NULL,
            member_key TEXT NOT NULL,
            PRIMARY KEY (word, member_key)
        ) WITHOUT ROWID;
        CREATE INDEX member_words_member ON member_words(member_key);
        """,
    )
    rows = db.execute("SELECT member_key, name FROM members").fetchall()
    db.conn.executemany(
        "INSERT OR IGNORE INTO member_words (word, member_key) VALUES (?, ?)",
        [(word, key) for key, name in rows for word in search_words(name)],
    )


def _m004_phone_keys(db: sqlite_utils.Database) -> None:
    """Phone search by the end of a number: each member's phone key (shared.phones, E.164
    digits) reversed, indexed, so "4567" is a prefix range. The till's country is not known
    here: numbers written without + or 00 are keyed by their digits until the next pull
    rewrites the member (search by the end of a number finds them either way)."""
    _run_script(
        db,
        """
        ALTER TABLE members ADD COLUMN phone_rkey TEXT;
        CREATE INDEX members_phone_rkey ON members(phone_rkey);
        DROP INDEX members_phone;
        """,
    )
    rows = db.execute("SELECT member_key, phone FROM members WHERE phone IS NOT NULL").fetchall()
    keyed = [(key, phone_key(phone, None)) for key, phone in rows]
    db.conn.executemany(
        "UPDATE members SET phone_digits = ?, phone_rkey = ? WHERE member_key = ?",
        [(k, reversed_key(k), member_key) for member_key, k in keyed],
    )


def _m005_receipt_provisional(db: sqlite_utils.Database) -> None:
    """A receipt's balance is provisional when the till could not confirm it with HQ
    (terminal.till.provisional); decided when the receipt is queued, so a reprint says the
    same."""
    _run_script(
        db,
        """
        ALTER TABLE print_jobs ADD COLUMN balance_provisional INTEGER NOT NULL DEFAULT 0;
        """,
    )


def _m006_tiers_expiry(db: sqlite_utils.Database) -> None:
    """Tiers and expiry as HQ sends them (shared.protocol.MemberState): the tier's dates and
    grace, the qualifying figures as of the pull (the till adds its own unsent sales to
    upgrade a member offline), and the points that expire by day (JSON list of
    [iso_date, points]). ``tier_claimed`` is a tier this till upgraded the member to with a
    sale HQ has not applied yet: shown and used until a pull brings HQ's answer."""
    _run_script(
        db,
        """
        ALTER TABLE members ADD COLUMN tier_since TEXT;
        ALTER TABLE members ADD COLUMN tier_review_on TEXT;
        ALTER TABLE members ADD COLUMN tier_grace INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE members ADD COLUMN qualifying_as_of TEXT;
        ALTER TABLE members ADD COLUMN qualifying_window_start TEXT;
        ALTER TABLE members ADD COLUMN qualifying_points INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE members ADD COLUMN qualifying_spend_minor INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE members ADD COLUMN qualifying_visits INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE members ADD COLUMN expiring TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE members ADD COLUMN tier_claimed TEXT;
        ALTER TABLE members ADD COLUMN tier_claimed_seq INTEGER;
        """,
    )


def _m007_receipt_standing(db: sqlite_utils.Database) -> None:
    """What a member's receipt says of their tier, progress and expiring points
    (shared.receipt.TierStanding as JSON), decided when the receipt is queued, so a reprint
    says the same."""
    _run_script(
        db,
        """
        ALTER TABLE print_jobs ADD COLUMN standing TEXT;
        """,
    )


def _m008_stored_value(db: sqlite_utils.Database) -> None:
    """Vouchers, gift cards and store credit at the till (docs/till-stored-value.md).

    ``vouchers``: what HQ's pulls said of each voucher. ``voucher_uses``: this till's own
    uses (one row per voucher taken off a sale); ``confirmed`` once HQ has applied the sale
    (a pull whose ``applied_through_seq`` covers it) or vouched live that the code was
    unused, so the offline voucher cap counts only what HQ has not confirmed.
    ``stored_values``: gift cards and credit slips as HQ last said, with the
    ``applied_through_seq`` that balance includes; ``members.store_credit_minor`` likewise
    for a member's store credit (with the member's ``applied_through_seq``).
    ``money_effects``: this till's own entries' effects on those accounts (``gift:<number>``
    or ``credit:<member_key>``), so a balance is HQ's figure + the effects HQ has not applied,
    exactly like ``points_effects``; ``live`` marks a payment HQ approved live (it does not
    count against the offline daily cap). ``print_jobs.stored_value``: what the receipt says
    of the money moved (JSON), decided when it is queued so a reprint says the same."""
    _run_script(
        db,
        """
        CREATE TABLE vouchers (
            code TEXT PRIMARY KEY,
            value_minor INTEGER NOT NULL,
            percent_bp INTEGER,
            min_spend_minor INTEGER NOT NULL DEFAULT 0,
            expires_on TEXT,
            member_id TEXT,
            status TEXT NOT NULL
        );
        CREATE TABLE voucher_uses (
            seq INTEGER NOT NULL REFERENCES journal(seq),
            code TEXT NOT NULL,
            discount_minor INTEGER NOT NULL,
            local_date TEXT NOT NULL,
            confirmed INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX voucher_uses_code ON voucher_uses(code);
        CREATE INDEX voucher_uses_day ON voucher_uses(local_date);
        CREATE TABLE stored_values (
            card_number TEXT PRIMARY KEY,
            balance_minor INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL DEFAULT 'active',
            blocked_reason TEXT,
            applied_through_seq INTEGER NOT NULL DEFAULT 0
        );
        ALTER TABLE members ADD COLUMN store_credit_minor INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE money_effects (
            seq INTEGER NOT NULL REFERENCES journal(seq),
            account TEXT NOT NULL,
            delta_minor INTEGER NOT NULL,
            local_date TEXT NOT NULL,
            live INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX money_effects_account ON money_effects(account, seq);
        ALTER TABLE print_jobs ADD COLUMN stored_value TEXT;
        """,
    )


def _m009_rewards(db: sqlite_utils.Database) -> None:
    """Rewards bought at the till (docs/till-rewards.md).

    ``rewards_issued``: HQ's count of each stock-limited reward bought in all, as the pull
    that brought it said, with the ``applied_through_seq`` of this till's entries it
    includes. ``reward_effects``: this till's own purchases (+1 on the sale) and voids (-1 on
    the void), so the count the till checks stock against is HQ's figure + the effects HQ
    had not applied, exactly like ``points_effects``; ``voucher_code`` names the voucher a
    purchase issued (so a free-product voucher issued here is redeemed as its reward says)."""
    _run_script(
        db,
        """
        CREATE TABLE rewards_issued (
            reward_id TEXT PRIMARY KEY,
            issued INTEGER NOT NULL,
            applied_through_seq INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE reward_effects (
            seq INTEGER NOT NULL REFERENCES journal(seq),
            reward_id TEXT NOT NULL,
            delta INTEGER NOT NULL,
            voucher_code TEXT
        );
        CREATE INDEX reward_effects_reward ON reward_effects(reward_id, seq);
        CREATE INDEX reward_effects_voucher ON reward_effects(voucher_code)
            WHERE voucher_code IS NOT NULL;
        """,
    )


def _m010_voucher_source(db: sqlite_utils.Database) -> None:
    """Reward vouchers at every till (docs/vouchers.md, "Reward vouchers"):
    ``vouchers.source`` is who issued it as HQ says ("hq", "reward:<id>", "campaign:<id>"),
    so a till prices a reward's voucher as the reward does; ``categories`` (a JSON list, NULL:
    the whole basket) limits it to those lines."""
    _run_script(
        db,
        """
        ALTER TABLE vouchers ADD COLUMN source TEXT;
        ALTER TABLE vouchers ADD COLUMN categories TEXT;
        """,
    )


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", _m001_initial),
    ("002_member_applied_through", _m002_member_applied_through),
    ("003_store_staff_basket_search", _m003_store_staff_basket_search),
    ("004_phone_keys", _m004_phone_keys),
    ("005_receipt_provisional", _m005_receipt_provisional),
    ("006_tiers_expiry", _m006_tiers_expiry),
    ("007_receipt_standing", _m007_receipt_standing),
    ("008_stored_value", _m008_stored_value),
    ("009_rewards", _m009_rewards),
    ("010_voucher_source", _m010_voucher_source),
]


def apply_migrations(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations this database has not seen; return their names."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS migrations "
        "(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM migrations").fetchall()}
    applied = []
    for name, migrate in MIGRATIONS:
        if name in done:
            continue
        migrate(db)
        db.execute(
            "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
            [name, datetime.now(UTC).isoformat()],
        )
        applied.append(name)
    return applied


DEFERRABLE_INDEXES: tuple[tuple[str, str], ...] = (
    ("members_email", "CREATE INDEX IF NOT EXISTS members_email ON members(email)"),
    ("members_name", "CREATE INDEX IF NOT EXISTS members_name ON members(name_fold)"),
    ("members_phone_rkey", "CREATE INDEX IF NOT EXISTS members_phone_rkey ON members(phone_rkey)"),
    ("cards_member", "CREATE INDEX IF NOT EXISTS cards_member ON cards(member_key)"),
)
"""(name, definition) of the search indexes a first download builds once at its end instead
of keeping up row by row (docs/operations.md, "First download of a till"): exactly the
definitions of migrations 001 and 004. Not among them: the keys, the member_id and
local_member_id indexes the download's own lookups use, and ``member_words_member``, which
drops the old words of a member sent twice (without it, each would be a scan of every
word)."""


def drop_deferrable_indexes(db: sqlite_utils.Database) -> None:
    """Drop the :data:`DEFERRABLE_INDEXES` (a first download into an empty member cache)."""
    for name, _ in DEFERRABLE_INDEXES:
        # Only the constant names above are interpolated.
        db.execute(f"DROP INDEX IF EXISTS {name}")


def ensure_indexes(db: sqlite_utils.Database) -> None:
    """(Re)create any of the :data:`DEFERRABLE_INDEXES` that is missing: at the end of a
    first download, on its error, and whenever the database is opened (a till that died
    mid-download gets them back before anything searches)."""
    for _, definition in DEFERRABLE_INDEXES:
        db.execute(definition)
