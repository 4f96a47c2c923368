"""The till's sync client: push the journal, pull members, rules and catalog (docs/protocol.md)."""
