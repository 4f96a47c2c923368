"""The till's screens: one per file."""
