"""The till: Textual app, local SQLite store and sync client (built in issue 4)."""
