"""``till``: the till's command line. Sub-groups live in their own modules."""

from __future__ import annotations

import logging

import click

from terminal.cli.hw import hw


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def till(verbose: int) -> None:
    """LoyalTill — the offline-first loyalty till."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


till.add_command(hw)


def main() -> None:
    till()
