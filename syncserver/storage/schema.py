"""The sync server's tables (SQLAlchemy Core). Alembic migrations create them; this module is
what the code queries, and a test checks the two agree.

Ordering: one counter (``change_counter``) hands out every *position* the server needs —
the order in which journal entries were reconciled, HQ events were applied and members,
rules, products and offers last changed. Values are taken at the end of each write
transaction under the counter's row lock, so their order is the commit order (see
``syncserver.storage.counter``): the pull cursor never skips a change, and ``ledger rebuild``
replays everything in exactly the order it first happened.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

__all__ = [
    "api_tokens",
    "audit_log",
    "cards",
    "cashiers",
    "change_counter",
    "exceptions",
    "hq_events",
    "hq_users",
    "journal_entries",
    "member_activity",
    "member_balances",
    "member_lots",
    "member_words",
    "members",
    "metadata",
    "offers",
    "postings",
    "products",
    "rules_drafts",
    "rules_versions",
    "sign_in_attempts",
    "staff_sessions",
    "stored_values",
    "stores",
    "terminal_codes",
    "terminals",
    "tier_changes",
    "vouchers",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-numbers an "INTEGER PRIMARY KEY"; PostgreSQL gets a 64-bit identity.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

TerminalId = String(16)
MemberId = String(40)
Hash = String(64)

change_counter = Table(
    "change_counter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)

terminals = Table(
    "terminals",
    metadata,
    Column("terminal_id", TerminalId, primary_key=True),
    Column("store_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("token_hash", Hash, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("acked_seq", BigInteger, nullable=False),
    Column("last_hash", Hash, nullable=False),
    Column("last_push_at", DateTime(timezone=True)),
    # The till's own journal tip, as it last reported it (pull sends it): what is still unsent
    # is ``tip_seq - acked_seq`` as of ``last_pull_at``.
    Column("tip_seq", BigInteger),
    Column("last_pull_at", DateTime(timezone=True)),
    Column("revoked_by", String(100)),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("terminal_id", TerminalId, ForeignKey("terminals.terminal_id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("entry_id", String(36), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("occurred_at", String(32), nullable=False),
    Column("hash", Hash, nullable=False),
    # The record as received, as JSON text: every field that arrived and nothing a model would
    # add (a push writes it in canonical key order), so its hash can be re-checked any time.
    Column("record", Text, nullable=False),
    # Ledger order: set in the same transaction that stored and reconciled the entry.
    Column("position", BigInteger),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # For returns and voids: the sale they refer to (finds "already voided" and returns).
    Column("original_terminal", TerminalId),
    Column("original_seq", BigInteger),
    Index(None, "position"),
    Index(None, "entry_id"),
    Index(None, "original_terminal", "original_seq"),
)

members = Table(
    "members",
    metadata,
    Column("member_id", MemberId, primary_key=True),
    # The till's id for a member enrolled offline; that till maps it on its next pull.
    Column("local_member_id", String(36), unique=True),
    Column("origin_terminal", TerminalId),
    # The enrolment entry that created the member (NULL for members imported by HQ).
    Column("origin_seq", BigInteger),
    Column("name", String(200), nullable=False),
    Column("phone", String(64)),
    Column("email", String(320)),
    Column("tier", String(64)),
    Column("marketing_consent", Boolean, nullable=False),
    Column("consent_text_version", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    # Lower-cased, whitespace-collapsed name: prefix search by a plain index range.
    Column("name_key", String(200).with_variant(String(200, collation="C"), "postgresql")),
    # Time of the member's latest posting (ISO text, like postings.occurred_at): "active in
    # the last 30 days" is an index range count, not a scan of the postings.
    Column("last_active_at", String(32)),
    # The phone number's key (shared.phones: E.164 digits, or digits only without a country).
    Column("phone_key", String(64)),
    # The key reversed: a search by the end of a number ("4567") is a prefix range (byte
    # order on PostgreSQL, as name_key), keyset-paginated by (phone_rkey, member_id).
    Column("phone_rkey", String(64).with_variant(String(64, collation="C"), "postgresql")),
    # Tier status (docs/rules.md, "Tiers"), derived from the ledger and replayed by rebuild:
    # the ISO day the tier was reached or last kept, the day of its next review (NULL: the
    # base tier, nothing to review), and whether the member holds it on grace.
    Column("tier_since", String(10)),
    Column("tier_review_on", String(10)),
    Column("tier_grace", Boolean, nullable=False, server_default=false()),
    # Name search pages by (name_key, member_id): the index gives that order without a sort.
    Index(None, "name_key", "member_id"),
    Index(None, "last_active_at"),
    Index(None, "phone_key"),
    Index(None, "phone_rkey", "member_id"),
    Index(None, "email"),
    Index(None, "change_seq"),
    Index(None, "origin_terminal", "origin_seq", unique=True),
    Index(None, "tier_review_on"),
)

cards = Table(
    "cards",
    metadata,
    Column("card_number", String(64), primary_key=True),
    Column("member_id", MemberId, ForeignKey("members.member_id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("blocked_reason", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "member_id"),
)

member_balances = Table(
    "member_balances",
    metadata,
    Column("member_id", MemberId, ForeignKey("members.member_id"), primary_key=True),
    # Derived: the sum of the member's postings, kept in the transaction that posts them.
    Column("points", BigInteger, nullable=False),
)

member_lots = Table(
    "member_lots",
    metadata,
    Column("member_id", MemberId, ForeignKey("members.member_id"), primary_key=True),
    # shared.points.lots.LotBook as compact JSON: the member's points by the day they were
    # earned and expire. Derived from the postings; its balance always equals the member's.
    Column("book", Text, nullable=False),
    # The earliest last-usable day of points the member holds: an expiry run reads only the
    # members whose day has passed (an index range).
    Column("next_expiry", String(10)),
    Index(None, "next_expiry"),
)

member_activity = Table(
    "member_activity",
    metadata,
    Column("member_id", MemberId, ForeignKey("members.member_id"), primary_key=True),
    # ISO day (UTC) of the till entries: the qualifying figures of tiers are sums over a range
    # of days.
    Column("day", String(10), primary_key=True),
    Column("points", BigInteger, nullable=False),
    Column("spend_minor", BigInteger, nullable=False),
    Column("visits", BigInteger, nullable=False),
)

tier_changes = Table(
    "tier_changes",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("member_id", MemberId, nullable=False),
    # upgrade (a sale crossed a threshold), review (kept, grace, down), import, set (HQ).
    Column("kind", String(16), nullable=False),
    Column("from_tier", String(64)),
    Column("to_tier", String(64)),
    Column("reason", String(500), nullable=False),
    # The ISO day the change took effect.
    Column("effective_on", String(10), nullable=False),
    # What caused it: a till entry, or an HQ event (a review, an import).
    Column("terminal_id", TerminalId),
    Column("seq", BigInteger),
    Column("hq_event_id", BigInteger),
    Index(None, "member_id", "id"),
)

postings = Table(
    "postings",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("terminal_id", TerminalId),
    # The journal entry that caused the posting, or NULL for an HQ event.
    Column("seq", BigInteger),
    Column("hq_event_id", BigInteger),
    # Numbers the postings of one entry or event, so two ledgers compare line by line.
    Column("line", Integer, nullable=False),
    Column("account", String(120), nullable=False),
    # Set for member accounts, so a member's history is one indexed lookup.
    Column("member_id", MemberId),
    # 'points', or an ISO currency code for money accounts (minor units).
    Column("unit", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    # When the business event happened (the entry's time): expiry and tiers count from it.
    Column("occurred_at", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "terminal_id", "seq"),
    Index(None, "member_id", "id"),
    Index(None, "hq_event_id"),
    Index(None, "occurred_at"),
    # A money account's history (a gift card's, a voucher's): HQ's card and voucher pages.
    Index(None, "account", "id"),
)

exceptions = Table(
    "exceptions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("terminal_id", TerminalId),
    Column("seq", BigInteger),
    Column("member_id", MemberId),
    Column("amount", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
    # For a chain conflict: the refused record, as received.
    Column("evidence", Text),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", String(100)),
    Column("resolution", Text),
    # accept | write_off | adjust | block_card, and the HQ event that carried it out.
    Column("resolution_kind", String(16)),
    Column("resolution_event_id", BigInteger),
    Index(None, "status", "kind"),
    Index(None, "status", "created_at"),
    Index(None, "terminal_id", "seq"),
    Index(None, "member_id"),
)

hq_events = Table(
    "hq_events",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("position", BigInteger),
    Column("kind", String(32), nullable=False),
    Column("record", Text, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "position"),
)
"""HQ's own journal: ledger-relevant actions that do not come from a till (a member import
with an opening balance), replayed by ``ledger rebuild`` in position order with the tills'."""

rules_versions = Table(
    "rules_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("program_id", String(100), nullable=False),
    Column("document", Text, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Column("published_by", String(100)),
    Column("note", Text),
    Index(None, "change_seq"),
)

rules_drafts = Table(
    "rules_drafts",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("program_id", String(100), nullable=False),
    # The version this draft would publish as, and the one it was edited from.
    Column("version", Integer, nullable=False),
    Column("base_version", Integer),
    Column("document", Text, nullable=False),
    Column("note", Text),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("description", String(200), nullable=False),
    Column("category", String(100), nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("tax_rate_bp", Integer, nullable=False),
    Column("open_price", Boolean, nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Index(None, "change_seq"),
)

offers = Table(
    "offers",
    metadata,
    Column("offer_id", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("tier", String(64)),
    Column("valid_until", String(32)),
    Column("change_seq", BigInteger, nullable=False),
    Index(None, "change_seq"),
)

hq_users = Table(
    "hq_users",
    metadata,
    Column("username", String(100), primary_key=True),
    Column("password_hash", String(300), nullable=False),
    Column("role", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
    Column("last_sign_in_at", DateTime(timezone=True)),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", Hash, primary_key=True),
    Column("username", String(100), ForeignKey("hq_users.username"), nullable=False),
    Column("label", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    # SHA-256 of the cookie's random value: a stolen database does not sign anyone in.
    Column("session_hash", Hash, primary_key=True),
    Column("username", String(100), ForeignKey("hq_users.username"), nullable=False),
    # Synchroniser token: every form and htmx request must echo it (CSRF).
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("ip", String(64)),
    Index(None, "username"),
)

sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("succeeded", Boolean, nullable=False),
    Index(None, "username", "at"),
    Index(None, "ip", "at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    # The HQ username, or "cli" for a command run on the server itself.
    Column("actor", String(100), nullable=False),
    # What was done, e.g. "member.adjust", "exception.resolve", "terminal.revoke".
    Column("action", String(64), nullable=False),
    Column("target_kind", String(32)),
    Column("target_id", String(120)),
    # JSON: the reason and the values that changed.
    Column("detail", Text, nullable=False),
    Column("ip", String(64)),
    # The log lists newest first by id, whole or filtered by actor or target.
    Index(None, "actor", "id"),
    Index(None, "target_kind", "target_id", "id"),
)

stores = Table(
    "stores",
    metadata,
    Column("store_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    # Receipt header lines joined by "\n", top to bottom.
    Column("address", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    # ISO 3166 alpha-2: the region of phone numbers written without a +.
    Column("country", String(2)),
    Column("tax_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Index(None, "change_seq"),
)

cashiers = Table(
    "cashiers",
    metadata,
    # Unique across the estate: ``cashier disable 7`` needs no store.
    Column("cashier_id", String(16), primary_key=True),
    Column("store_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    # The PIN only as the salted hash tills check offline (terminal.store.cashiers).
    Column("pin_scheme", String(32), nullable=False),
    Column("pin_salt", String(64), nullable=False),
    Column("pin_hash", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
    Column("change_seq", BigInteger, nullable=False),
    Index(None, "store_id", "change_seq"),
    Index(None, "change_seq"),
)

terminal_codes = Table(
    "terminal_codes",
    metadata,
    # SHA-256 of the one-time set-up code ``terminal add`` prints (``till setup --code``).
    Column("code_hash", Hash, primary_key=True),
    Column("terminal_id", TerminalId, ForeignKey("terminals.terminal_id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Index(None, "terminal_id"),
)

member_words = Table(
    "member_words",
    metadata,
    # Each folded word of a member's name (shared.text.search_words): "lucja" finds "Łucja
    # Nowak", "nowak" too. Kept in step with members.name by whoever writes the name.
    Column(
        "word", String(100).with_variant(String(100, collation="C"), "postgresql"), primary_key=True
    ),
    Column("member_id", MemberId, ForeignKey("members.member_id"), primary_key=True),
    # A member's words in order: "does this member have a word in [a, b)?" is one probe
    # (search checks the other words typed this way, syncserver.hq.members).
    Index(None, "member_id", "word"),
)


vouchers = Table(
    "vouchers",
    metadata,
    # Canonical form, V-XXXX-XXXX-XXXX (shared.codes).
    Column("code", String(16), primary_key=True),
    # What the voucher takes off a sale: a fixed amount (minor units of ``currency``), or a
    # percentage of the basket in basis points (1000 = 10 %) capped by ``value_minor`` when
    # that is not 0.
    Column("value_minor", BigInteger, nullable=False),
    Column("percent_bp", Integer),
    Column("min_spend_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    # The last day it can be used (ISO); NULL: no end.
    Column("expires_on", String(10)),
    # Only this member may use it; NULL: whoever holds the code.
    Column("member_id", MemberId),
    # issued | redeemed | expired | voided
    Column("status", String(16), nullable=False),
    # hq (bulk issue) | reward:<reward id> | campaign:<campaign id>
    Column("source", String(80), nullable=False),
    Column("issued_at", String(32), nullable=False),
    # Who issued it: a till's entry, or an HQ event.
    Column("issued_terminal", TerminalId),
    Column("issued_seq", BigInteger),
    Column("hq_event_id", BigInteger),
    # The first redemption HQ applied (a second one is a voucher_reused exception).
    Column("redeemed_terminal", TerminalId),
    Column("redeemed_seq", BigInteger),
    Column("redeemed_at", String(32)),
    Column("discount_minor", BigInteger),
    Column("change_seq", BigInteger, nullable=False),
    Index(None, "change_seq"),
    Index(None, "member_id"),
    Index(None, "status", "expires_on"),
    # A void's vouchers: those its sale redeemed, those it issued.
    Index(None, "redeemed_terminal", "redeemed_seq"),
    Index(None, "issued_terminal", "issued_seq"),
)
"""Single-use vouchers (docs/vouchers.md): their state; the money they move is in
``postings`` with the program's currency as the unit."""

stored_values = Table(
    "stored_values",
    metadata,
    # giftcard:<card number> (gift cards and anonymous credit slips) | credit:<member id>
    Column("account", String(120), primary_key=True),
    # giftcard | credit
    Column("kind", String(16), nullable=False),
    Column("card_number", String(40)),
    Column("member_id", MemberId),
    Column("currency", String(3), nullable=False),
    # The sum of the account's postings (minor units); rebuild --check compares.
    Column("balance_minor", BigInteger, nullable=False),
    # active | blocked
    Column("status", String(16), nullable=False),
    Column("blocked_reason", String(200)),
    # Where a blocked card's balance went (HQ "move the balance to a new card").
    Column("moved_to", String(120)),
    Column("activated_at", String(32)),
    Column("last_used_at", String(32)),
    Column("change_seq", BigInteger, nullable=False),
    Index(None, "change_seq"),
    Index(None, "card_number"),
    Index(None, "member_id"),
)
"""Gift cards, credit slips and members' store credit: money, not points (docs/giftcards.md).
Postings in the program's currency move it; the till knows balances from the pull."""

reward_counts = Table(
    "reward_counts",
    metadata,
    # The catalog reward's id (shared.rules.model.Reward.id), the same across rules versions.
    Column("reward_id", String(80), primary_key=True),
    # Purchases HQ has posted, less those of voided sales; compared with the reward's stock.
    Column("issued", BigInteger, nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Index(None, "change_seq"),
)
"""How many of each reward tills have sold (docs/ledger.md, "Reward purchases"): one small
row per reward, changed under its row lock at ingest; tills pull the counts of rewards with a
stock limit (``PullResponse.rewards_issued``)."""
