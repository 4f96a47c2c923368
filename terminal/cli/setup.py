"""``till setup``: register this till with HQ using the one-time code HQ printed
(``syncserver terminal add`` / ``terminal code``) and write its configuration.

The code is traded at ``POST /api/v1/terminals/claim`` for the till's identity, a fresh token
and its store's name, address, time zone and country; all of it goes into ``till.toml``
(mode 0600: it holds the token), so nobody copies tokens by hand. The token ``terminal add``
printed stops working at that moment.
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from shared.protocol import TerminalClaimed
from terminal.cli.context import fail
from terminal.config import TillConfig
from terminal.store.identity import read_identity
from terminal.sync.client import claim_terminal
from terminal.sync.errors import SyncError

__all__ = ["setup"]

_SET_BY_SETUP = (
    "server_url",
    "server_token",
    "terminal_id",
    "store_id",
    "store_name",
    "store_address",
    "store_tax_id",
    "timezone",
    "country",
    "data_dir",
)
"""What ``till setup`` writes; anything else in an existing file for the same till (printer,
scanners …) is kept."""


def _existing(path: Path) -> dict[str, Any] | None:
    """The ``[till]`` table of an existing config file, None when there is no file."""
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        fail(
            f"{path} exists but cannot be read as a till configuration ({error}): move it "
            "away, or pass --force to replace it",
            2,
        )
    table = data.get("till", data)
    return table if isinstance(table, dict) else {}


def _toml_value(value: Any) -> str | None:
    """``value`` as TOML, for the types a till configuration holds; None for anything else.
    A JSON string is a valid TOML basic string (same escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        inner = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return None


def _render(values: dict[str, Any], server: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Written by `till setup` ({stamp}) from HQ at {server}.",
        "# It holds this till's token: keep it private (mode 0600).",
        "[till]",
    ]
    for key, value in values.items():
        text = _toml_value(value)
        if text is not None:
            lines.append(f"{key} = {text}")
    if "printer_url" not in values:
        lines += [
            "# The receipt printer and scanners (docs/hardware-printers.md, hardware-scanners.md):",
            '# printer_url = "tcp://10.0.0.5:9100"   # or serial:///dev/ttyS0?baudrate=19200',
            '# scanner_urls = ["/dev/ttyACM0"]',
        ]
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _values(
    claimed: TerminalClaimed, server: str, data_dir: Path, kept: dict[str, Any]
) -> dict[str, Any]:
    store = claimed.store
    values: dict[str, Any] = {
        "server_url": server,
        "server_token": claimed.token,
        "terminal_id": claimed.terminal_id,
        "store_id": store.store_id,
        "store_name": store.name,
        "store_address": list(store.address),
        "timezone": store.timezone,
        "data_dir": str(data_dir),
    }
    if store.country:
        values["country"] = store.country
    if store.tax_id:
        values["store_tax_id"] = store.tax_id
    values.update({k: v for k, v in kept.items() if k not in _SET_BY_SETUP})
    return values


@click.command()
@click.option("--server", "server", required=True, metavar="URL", help="HQ's address.")
@click.option(
    "--code", required=True, help="The one-time set-up code from `syncserver terminal add`."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("till.toml"),
    show_default=True,
    help="Where to write the till's configuration.",
)
@click.option(
    "--data-dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the till keeps its database (default: the config's, else "
    "~/.local/share/loyaltill).",
)
@click.option("--force", is_flag=True, help="Replace a configuration of another till.")
def setup(server: str, code: str, config_path: Path, data_dir: Path | None, force: bool) -> None:
    """Register this till with HQ's one-time code and write its configuration.

    The code (valid 24 hours, single use) comes from `syncserver terminal add` or, later,
    `syncserver terminal code T…`. HQ answers with the till's identity, a fresh token and its
    store; the token `terminal add` printed stops working."""
    server = server.strip().rstrip("/")
    if not server.startswith(("http://", "https://")):
        fail(f"--server {server!r}: give HQ's address with http:// or https://", 2)
    existing = _existing(config_path)
    if data_dir is None:
        kept_dir = (existing or {}).get("data_dir")
        data_dir = Path(kept_dir) if isinstance(kept_dir, str) else TillConfig().data_dir
    data_dir = data_dir.expanduser().resolve()
    try:
        claimed = claim_terminal(server, code)
    except SyncError as error:
        fail(f"setup failed: {error.message}")
    new_code = f"syncserver terminal code {claimed.terminal_id}"
    before = (existing or {}).get("terminal_id")
    if existing is not None and before != claimed.terminal_id and not force:
        fail(
            f"{config_path} is the configuration of till {before or '(unknown)'}, and this code "
            f"set up till {claimed.terminal_id}: nothing was written. Use another --config, or "
            f"--force to replace it, with a fresh code ({new_code}: this one is used)"
        )
    kept = existing if existing is not None and before == claimed.terminal_id else {}
    values = _values(claimed, server, data_dir, kept)
    try:
        config = TillConfig.model_validate({**values, "data_dir": data_dir})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"HQ's details for this till cannot be used here: {where}: {first['msg']}")
    stored = read_identity(config.database_path)
    if stored is not None and (stored.terminal_id, stored.store_id) != (
        config.terminal_id,
        config.store_id,
    ):
        fail(
            f"{data_dir} holds the database of till {stored.terminal_id} (store "
            f"{stored.store_id}): nothing was written. Choose another --data-dir and a fresh "
            f"code ({new_code}: this one is used)"
        )
    try:
        _write_private(config_path, _render(values, server))
    except OSError as error:
        fail(f"cannot write {config_path}: {error.strerror or error}")
    shown = shlex.quote(str(config_path))
    store = claimed.store
    click.echo(
        "\n".join(
            [
                f"Till {claimed.terminal_id} ({claimed.name}) of {store.name} "
                f"({store.store_id}) is set up: {config_path} (private: it holds the till's "
                "token).",
                f"Its data: {data_dir}",
                "Next:",
                f"  till sync --once --config {shown}   # first download, with progress",
                f"  till run --config {shown}",
            ]
        )
    )
