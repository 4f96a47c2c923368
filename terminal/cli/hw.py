"""``till hw``: test scanners and printers before the store opens."""

from __future__ import annotations

import click

from terminal.cli.hw_printer import decode, print_test, printer_sim
from terminal.cli.hw_scanner import listen, scanner_sim


@click.group()
def hw() -> None:
    """Hardware checks and simulators (scanners, receipt printers)."""


for command in (printer_sim, print_test, decode, scanner_sim, listen):
    hw.add_command(command)
