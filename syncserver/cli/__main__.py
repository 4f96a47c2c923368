"""``python -m syncserver.cli``."""

from syncserver.cli import main

main()
