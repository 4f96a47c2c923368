"""Widgets of the till screens: one per file."""
