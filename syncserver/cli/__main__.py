"""``python -m syncserver.cli``."""

from syncserver.cli import entry_point

entry_point()
