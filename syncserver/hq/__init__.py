"""HQ's administrative actions (the CLI calls these): setup, rules, imports."""
