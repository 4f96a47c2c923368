"""``till``: the till's command line. Sub-groups live in their own modules."""

from __future__ import annotations

import logging

import click

from shared.runtime import claim_process
from terminal.cli.errors import TillGroup
from terminal.cli.giftcard import giftcard
from terminal.cli.hw import hw
from terminal.cli.journal import journal
from terminal.cli.ops import balance, enrol, sale, status
from terminal.cli.run import demo, run
from terminal.cli.setup import setup
from terminal.cli.sync import sync


# TillGroup: a failure in any sub-command is one line and an exit code (terminal/cli/errors.py).
@click.group(cls=TillGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def till(verbose: int) -> None:
    """LoyalTill — the offline-first loyalty till."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for command in (setup, run, demo, journal, status, sale, enrol, balance, giftcard, sync, hw):
    till.add_command(command)


def main() -> None:
    """The ``till`` program (the console script)."""
    claim_process()
    till()
