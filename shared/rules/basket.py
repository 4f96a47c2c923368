"""What the engine is told about a sale: its lines and where and when it happens."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from pydantic import field_validator

from shared.bounds import MAX_TEXT
from shared.rules._fields import FrozenModel, Name, NonNegativeInt, PositiveInt

__all__ = ["BasketLine", "EarnContext", "LightContext", "LightLine", "earn_context"]


class BasketLine(FrozenModel):
    """One line of a sale, after line discounts."""

    line_no: NonNegativeInt
    sku: Name
    category: Name
    quantity: PositiveInt
    net_minor: NonNegativeInt
    """The line amount in minor units after line discounts, before any order discount."""


class EarnContext(FrozenModel):
    """Where and when a sale happens and who the member is; campaigns and tiers read it."""

    store_id: Name
    local_time: datetime
    """The store's wall-clock time, naive: a campaign "Saturday 17–20" means local time."""
    tier: Name | None = None

    @field_validator("local_time")
    @classmethod
    def _naive(cls, value: datetime) -> datetime:
        # An aware time would invite converting it, and the till and the server would then
        # disagree about which day a sale near midnight falls on.
        if value.tzinfo is not None:
            raise ValueError("local_time is the store's wall-clock time and must carry no zone")
        return value


class LightLine(NamedTuple):
    """A :class:`BasketLine` without the model: for lines validated already (a journal
    entry's sale lines, whose fields carry the same bounds), where building a model per line
    would only repeat the checks."""

    line_no: int
    sku: str
    category: str
    quantity: int
    net_minor: int


class LightContext(NamedTuple):
    """An :class:`EarnContext` without the model; :func:`earn_context` makes one."""

    store_id: str
    local_time: datetime
    tier: str | None = None


def _plain_name(value: object) -> bool:
    # What Name accepts, in the common case: a str of 1..MAX_TEXT printable characters.
    return type(value) is str and 0 < len(value) <= MAX_TEXT and value.isprintable()


def earn_context(
    store_id: str, local_time: datetime, tier: str | None = None
) -> LightContext | EarnContext:
    """A context for the engine: a :class:`LightContext` when the values plainly pass
    :class:`EarnContext`'s checks, else the model itself (which raises the same
    ``ValidationError`` it always did, or accepts what the quick check did not)."""
    if (
        _plain_name(store_id)
        and type(local_time) is datetime
        and local_time.tzinfo is None
        and (tier is None or _plain_name(tier))
    ):
        return LightContext(store_id, local_time, tier)
    return EarnContext(store_id=store_id, local_time=local_time, tier=tier)
