"""What the engine is told about a sale: its lines and where and when it happens."""

from __future__ import annotations

from datetime import datetime

from pydantic import field_validator

from shared.rules._fields import FrozenModel, Name, NonNegativeInt, PositiveInt

__all__ = ["BasketLine", "EarnContext"]


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
