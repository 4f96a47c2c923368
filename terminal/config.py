"""The till's one settings object: TOML file, then ``LOYALTILL_*`` environment overrides."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.codes import CodeConfig

__all__ = ["ConfigError", "TillConfig", "load_config"]

ENV_PREFIX = "LOYALTILL_"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


class TillConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path("~/.local/share/loyaltill").expanduser()
    store_id: str = "S001"
    store_name: str = "LoyalTill Store"
    store_address: tuple[str, ...] = ()
    store_tax_id: str | None = None
    terminal_id: str = Field(default="T1", pattern=r"^[A-Z0-9]{1,16}$")
    """Printed in receipt barcodes, hence capital letters and digits only."""
    timezone: str = "UTC"
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    """ISO 3166 alpha-2 (e.g. DE): the region of phone numbers keyed without a leading +."""
    currency: str = "EUR"
    printer_url: str | None = None
    printer_profile: str = "TM-T88V"
    printer_timeout_s: float = 5.0
    scanner_urls: tuple[str, ...] = ()
    server_url: str | None = None
    server_token: str | None = None
    card_prefix: str = "9826"
    card_length: int = 16
    gift_prefix: str = "6039"
    gift_length: int = 19
    qr_keys: dict[str, str] = Field(default_factory=dict)
    """Member-QR key id -> hex key, from the program."""
    receipt_footer: tuple[str, ...] = ("Thank you for shopping with us!",)
    consent_text_version: str = "2026-01"
    kiosk: bool = True
    """No command palette and no quitting from the keyboard (Ctrl+Q asks a supervisor PIN)."""
    refund_limit_minor: int = Field(default=5000, ge=0)
    """A return refunding more than this (minor units) needs a supervisor's ID and PIN."""
    price_override: bool = True
    """Whether a line's price may be changed at the till at all (always with a supervisor)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Berlin)") from None
        return value

    @property
    def database_path(self) -> Path:
        return self.data_dir / "till.sqlite3"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def code_config(self) -> CodeConfig:
        return CodeConfig(
            card_prefix=self.card_prefix,
            card_length=self.card_length,
            gift_prefix=self.gift_prefix,
            gift_length=self.gift_length,
            qr_keys={kid: bytes.fromhex(key) for kid, key in self.qr_keys.items()},
        )


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, field in TillConfig.model_fields.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if field.annotation in (tuple[str, ...],):
            overrides[name] = tuple(part.strip() for part in raw.split(",") if part.strip())
        else:
            overrides[name] = raw
    return overrides


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> TillConfig:
    """Read ``path`` (TOML, optional) and apply ``LOYALTILL_<SETTING>`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} not found") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
        data = data.get("till", data)
    data.update(_env_overrides(dict(os.environ if environ is None else environ)))
    if "data_dir" in data:
        data["data_dir"] = Path(str(data["data_dir"])).expanduser()
    try:
        return TillConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"invalid till configuration — {problems}") from None
