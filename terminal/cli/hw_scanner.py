"""``till hw scanner-sim`` and ``till hw listen``: try a scanner before the store opens.

``listen`` prints one JSON line per scan on stdout (what the till would make of it) and the
scanner's connection state on stderr, so ``| jq`` sees only scans.
"""

from __future__ import annotations

import json
import queue
import sys
import time
from pathlib import Path
from typing import Final

import click

from hardware.scanners.framing import FramingConfig, Terminator, parse_escapes
from hardware.scanners.reader import ScannerState
from hardware.scanners.serial_scanner import SerialScanner, SerialScannerConfig
from hardware.sim.scanner_sim import ScannerSimulator
from shared.codes import CodeConfig
from shared.scan import RejectedScan, Scan

__all__ = ["listen", "scanner_sim"]

_SIM_TERMINATORS: Final = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}
_POLL_S: Final = 0.1  # how often listen looks at the clock and the scanner's state


@click.command("scanner-sim")
@click.option(
    "--link",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Path of the symlink to create; give it to `till hw listen --scanner`.",
)
@click.option(
    "--terminator",
    type=click.Choice(sorted(_SIM_TERMINATORS)),
    default="cr",
    show_default=True,
    help="What the simulated scanner sends after each code.",
)
@click.option(
    "--input",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read codes from this file or FIFO (mkfifo) instead of stdin.",
)
def scanner_sim(link: Path, terminator: str, source: Path | None) -> None:
    """Simulate a serial scanner: every line read from stdin (or --input) is sent as one scan.

    Lines are bytes, passed on unchanged: a scanner sends whatever its symbol holds, so
    invalid UTF-8, NUL and control characters reach the reader as they are (the till's
    reader decides what they mean)."""
    try:
        simulator = ScannerSimulator(link)
        simulator.open()
    except OSError as error:
        raise click.ClickException(f"cannot create the scanner link: {error}") from error
    try:
        click.echo(f"device: {simulator.device}")
        click.echo(f"link: {link}")
        click.echo("Type codes, one per line; Ctrl-D or Ctrl-C to stop.", err=True)
        if source is None and sys.stdin is None:
            raise click.ClickException("no standard input to read codes from: use --input")
        try:
            # Opening a FIFO waits here until something opens it for writing.
            stream = source.open("rb") if source is not None else sys.stdin.buffer
        except OSError as error:
            raise click.ClickException(f"cannot read {source}: {error}") from error
        with stream:
            simulator.forward(
                stream,
                _SIM_TERMINATORS[terminator],
                on_timeout=lambda error: click.echo(f"not sent: {error}", err=True),
            )
    except KeyboardInterrupt:
        pass
    finally:
        simulator.close()


@click.command("listen")
@click.option(
    "--scanner",
    "url",
    required=True,
    help="Device path or pyserial URL: /dev/ttyACM0, socket://host:port, rfc2217://…",
)
@click.option("--baudrate", type=click.IntRange(min=1), default=9600, show_default=True)
@click.option(
    "--terminator",
    type=click.Choice([terminator.value for terminator in Terminator]),
    default=Terminator.ANY.value,
    show_default=True,
    help="End of each code; 'any' accepts CR, LF and CR LF.",
)
@click.option("--prefix", default="", help=r"Text the scanner sends first, e.g. '\x02' (STX).")
@click.option("--suffix", default="", help=r"Text the scanner sends last, e.g. '\x03' (ETX).")
@click.option("--aim/--no-aim", default=False, help="Strip AIM symbology ids such as ]E0.")
@click.option(
    "--card-prefix",
    default=None,
    help=f"Loyalty card number prefix (default {CodeConfig().card_prefix}).",
)
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after N scans.")
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after S seconds.",
)
def listen(
    url: str,
    baudrate: int,
    terminator: str,
    prefix: str,
    suffix: str,
    aim: bool,
    card_prefix: str | None,
    count: int | None,
    seconds: float | None,
) -> None:
    """Print every scan from a serial scanner as a JSON line (Ctrl-C to stop)."""
    try:
        code_config = CodeConfig() if card_prefix is None else CodeConfig(card_prefix=card_prefix)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--card-prefix") from error
    config = SerialScannerConfig(
        url=url,
        baudrate=baudrate,
        framing=FramingConfig(
            terminator=Terminator(terminator),
            prefix=parse_escapes(prefix),
            suffix=parse_escapes(suffix),
            strip_aim=aim,
        ),
    )
    events: queue.Queue[Scan | RejectedScan] = queue.Queue()
    scanner = SerialScanner(config, events.put, on_reject=events.put, code_config=code_config)
    deadline = None if seconds is None else time.monotonic() + seconds
    printed = 0
    shown_state: ScannerState | None = None
    ever_connected = False
    scanner.start()
    try:
        while count is None or printed < count:
            status = scanner.status()
            ever_connected = ever_connected or status.state is ScannerState.CONNECTED
            if status.state is not shown_state:
                click.echo(status.summary(), err=True)
                shown_state = status.state
            timeout = _POLL_S
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    break
            try:
                event = events.get(timeout=timeout)
            except queue.Empty:
                continue
            ever_connected = True
            click.echo(json.dumps(event.to_json_dict(), ensure_ascii=False))
            printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        scanner.stop()
    if not ever_connected:
        last_error = scanner.status().last_error or "no connection"
        raise click.ClickException(
            f"scanner {url} never connected ({last_error}) — check the path or address, the "
            "cable, and that no other program has the port open"
        )
