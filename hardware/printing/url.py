"""A receipt printer setting as one URL, and the python-escpos printer it stands for.

The till's configuration holds one string per printer, e.g. ``tcp://10.0.0.5:9100``, plus a
python-escpos profile name ("TM-T88V", "POS-5890") that says how many columns fit and which
code pages, cutter and barcodes the model has. :func:`parse_printer_url` checks the string
without touching any device, so a typo fails when the till starts, not at the first sale.

python-escpos is imported only when a printer is built: importing it configures the root
logger and creates a temporary directory, which a ``till --help`` should not do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

from hardware.printing.errors import PrinterMisconfigured

__all__ = [
    "ACCEPTED_FORMS",
    "DEFAULT_PROFILE",
    "PrinterTarget",
    "build_printer",
    "parse_printer_url",
    "profile_columns",
    "require_driver",
    "resolve_profile",
]

ACCEPTED_FORMS: Final = (
    "tcp://HOST[:PORT]  (network printer, port 9100 by default)",
    "serial:///dev/ttyS0[?baudrate=19200&bytesize=8&parity=N&stopbits=1&xonxoff=0&dsrdtr=1]",
    "usb://VENDOR:PRODUCT  (hex ids, e.g. usb://04b8:0202; needs pyusb)",
    "file:///dev/usb/lp0  (a device file: kernel USB printer class or parallel port)",
    "dummy://  (prints nothing; for tests and demos)",
)
DEFAULT_PROFILE: Final = "default"
DEFAULT_TCP_PORT: Final = 9100

Scheme = Literal["tcp", "serial", "usb", "file", "dummy"]

_USB_IDS: Final = re.compile(r"([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,4})")
_SERIAL_INTS: Final = {"baudrate", "bytesize", "stopbits"}
_SERIAL_BOOLS: Final = {"xonxoff", "dsrdtr"}
_PARITIES: Final = {"N", "E", "O", "M", "S"}
_TRUE: Final = {"1", "true", "yes", "on"}
_FALSE: Final = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class PrinterTarget:
    """Where a printer is and how to reach it: the parsed form of a printer URL."""

    scheme: Scheme
    url: str
    host: str = ""
    port: int = DEFAULT_TCP_PORT
    device: str = ""
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    xonxoff: bool = False
    dsrdtr: bool = True
    """python-escpos's default: hardware flow control on DSR/DTR."""
    usb_vendor: int = 0
    usb_product: int = 0

    @property
    def can_read(self) -> bool:
        """Whether the printer can answer status queries over this transport.

        TCP and serial are two-way; a device file is write-only, and USB status (bulk-in
        endpoint) is not used because it cannot be tested here.
        """
        return self.scheme in ("tcp", "serial")

    @property
    def where(self) -> str:
        """The printer's address as the cashier's error message names it."""
        if self.scheme == "tcp":
            return f"{self.host}:{self.port}"
        if self.scheme == "usb":
            return f"USB {self.usb_vendor:04x}:{self.usb_product:04x}"
        if self.scheme == "dummy":
            return "dummy://"
        return self.device


def _misconfigured(problem: str) -> PrinterMisconfigured:
    forms = "\n".join(f"  {form}" for form in ACCEPTED_FORMS)
    return PrinterMisconfigured(
        f"Printer setting is invalid: {problem}",
        next_step=f"use one of these forms:\n{forms}",
    )


def parse_printer_url(url: str) -> PrinterTarget:
    """Parse and check a printer URL; raise :class:`PrinterMisconfigured` naming every form."""
    text = url.strip()
    scheme, sep, _ = text.partition("://")
    if not sep:
        raise _misconfigured(f"{url!r} is not a URL")
    parts = urlsplit(text)
    query = parse_qsl(parts.query, keep_blank_values=True)
    scheme = scheme.lower()
    if scheme == "tcp":
        return _tcp(text, parts.netloc, query)
    if scheme == "serial":
        return _serial(text, parts.netloc, parts.path, query)
    if scheme == "usb":
        return _usb(text, parts.netloc, query)
    if scheme == "file":
        _no_query(text, query)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise _misconfigured(f"{url!r} needs an absolute path, e.g. file:///dev/usb/lp0")
        return PrinterTarget("file", text, device=parts.path)
    if scheme == "dummy":
        _no_query(text, query)
        return PrinterTarget("dummy", text)
    raise _misconfigured(f"unknown scheme {scheme!r} in {url!r}")


def _no_query(url: str, query: list[tuple[str, str]]) -> None:
    if query:
        raise _misconfigured(f"{url!r} takes no ?options")


def _tcp(url: str, netloc: str, query: list[tuple[str, str]]) -> PrinterTarget:
    _no_query(url, query)
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d*))?|([^:/@\[\]]+)(?::(\d*))?", netloc)
    if match is None:
        raise _misconfigured(f"{url!r} needs a host and optional port, e.g. tcp://10.0.0.5:9100")
    host = match.group(1) or match.group(3)
    port_text = match.group(2) or match.group(4)
    port = int(port_text) if port_text else DEFAULT_TCP_PORT
    if not 0 < port < 65536:
        raise _misconfigured(f"port {port} in {url!r} is not 1-65535")
    return PrinterTarget("tcp", url, host=host, port=port)


def _serial(url: str, netloc: str, path: str, query: list[tuple[str, str]]) -> PrinterTarget:
    device = netloc + path
    if not device or netloc:
        raise _misconfigured(f"{url!r} needs a device path, e.g. serial:///dev/ttyS0")
    options: dict[str, Any] = {}
    for name, value in query:
        if name in _SERIAL_INTS:
            if not value.isdigit():
                raise _misconfigured(f"{name}={value!r} in {url!r} is not a whole number")
            options[name] = int(value)
        elif name in _SERIAL_BOOLS:
            if value.lower() not in _TRUE | _FALSE:
                raise _misconfigured(f"{name}={value!r} in {url!r} is not 1/0")
            options[name] = value.lower() in _TRUE
        elif name == "parity":
            if value.upper() not in _PARITIES:
                raise _misconfigured(f"parity={value!r} in {url!r} is not one of N, E, O, M, S")
            options[name] = value.upper()
        else:
            raise _misconfigured(f"unknown serial option {name!r} in {url!r}")
    target = PrinterTarget("serial", url, device=device, **options)
    if target.bytesize not in (5, 6, 7, 8) or target.stopbits not in (1, 2):
        raise _misconfigured(f"{url!r}: bytesize must be 5-8 and stopbits 1 or 2")
    if target.baudrate <= 0:
        raise _misconfigured(f"{url!r}: baudrate must be positive")
    return target


def _usb(url: str, netloc: str, query: list[tuple[str, str]]) -> PrinterTarget:
    _no_query(url, query)
    match = _USB_IDS.fullmatch(netloc)
    if match is None:
        raise _misconfigured(f"{url!r} needs hex vendor and product ids, e.g. usb://04b8:0202")
    vendor, product = (int(group, 16) for group in match.groups())
    return PrinterTarget("usb", url, usb_vendor=vendor, usb_product=product)


def resolve_profile(name: str | None) -> str:
    """Check a python-escpos profile name; ``None`` is python-escpos's generic default."""
    from escpos.capabilities import CAPABILITIES  # lazy: see module docstring

    profile = name or DEFAULT_PROFILE
    known = CAPABILITIES["profiles"]
    if profile not in known:
        raise PrinterMisconfigured(
            f"Unknown printer profile {profile!r}",
            next_step=f"use one of: {', '.join(sorted(known))}",
        )
    return profile


def profile_columns(profile: str | None) -> int:
    """Characters per line in the profile's standard font (font A)."""
    from escpos.capabilities import get_profile

    return int(get_profile(resolve_profile(profile)).get_columns(0))


def require_driver(target: PrinterTarget) -> None:
    """Raise :class:`PrinterMisconfigured` if the library this transport needs is missing."""
    if target.scheme == "usb":
        from escpos.printer import usb

        if not usb.is_usable():
            raise PrinterMisconfigured(
                "USB printing needs the pyusb package, which is not installed",
                next_step=(
                    "install it (pip install pyusb, plus libusb-1.0 from the OS), or use "
                    "file:///dev/usb/lp0 through the kernel's USB printer driver"
                ),
            )
    if target.scheme == "serial":
        from escpos.printer import serial

        if not serial.is_usable():
            raise PrinterMisconfigured(
                "Serial printing needs the pyserial package, which is not installed",
                next_step="install it (pip install pyserial)",
            )


def build_printer(target: PrinterTarget, profile: str, timeout_s: float) -> Any:
    """A python-escpos printer for ``target``, not yet connected (``open()`` connects)."""
    require_driver(target)
    from escpos import printer

    profile = resolve_profile(profile)
    if target.scheme == "tcp":
        return printer.Network(target.host, port=target.port, timeout=timeout_s, profile=profile)
    if target.scheme == "serial":
        return printer.Serial(
            devfile=target.device,
            baudrate=target.baudrate,
            bytesize=target.bytesize,
            parity=target.parity,
            stopbits=target.stopbits,
            timeout=timeout_s,
            xonxoff=target.xonxoff,
            dsrdtr=target.dsrdtr,
            profile=profile,
        )
    if target.scheme == "usb":
        # pyusb takes its timeout in milliseconds.
        return printer.Usb(
            target.usb_vendor, target.usb_product, timeout=int(timeout_s * 1000), profile=profile
        )
    if target.scheme == "file":
        return printer.File(devfile=target.device, profile=profile)
    return printer.Dummy(profile=profile)
