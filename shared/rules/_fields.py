"""Field types shared by the rules schema, the engine's inputs and its results.

Two rules keep floats out of points and money (docs/design.md, invariant 6): whole numbers are
strict ints, so a JSON ``1.5`` or ``1.0`` is refused rather than truncated, and ratios
(rates, multipliers) are strings such as ``"1.5"`` or ``"3/2"`` parsed exactly by
:func:`shared.money.parse_ratio`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from shared.bounds import MAX_MINOR, MAX_POINTS, MAX_TEXT
from shared.money import parse_ratio
from shared.text import check_safe_text

__all__ = [
    "FractionText",
    "FrozenModel",
    "InvariantError",
    "Name",
    "NonNegativeInt",
    "PointsInt",
    "PositiveInt",
    "Ratio",
    "Version",
    "fraction_text",
    "refuse_float",
]


class FrozenModel(BaseModel):
    """Immutable, and unknown keys are an error: a typo in a rules file must not pass silently."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def refuse_float(value: object) -> object:
    # Strict mode alone would say "Input should be a valid integer"; say why instead.
    if isinstance(value, float):
        raise ValueError(
            f"must be a whole number, not {value!r}: amounts are integer minor units and "
            "points are whole, so JSON floats are refused"
        )
    return value


def _refuse_number_as_ratio(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(
            f'write ratios as strings such as "1.5" or "3/2", not the JSON number {value!r}'
        )
    return value


def _check_ratio(text: str) -> str:
    parse_ratio(text)  # raises ValueError naming the bad text
    return text


NonNegativeInt = Annotated[
    int, Field(strict=True, ge=0, le=MAX_MINOR), BeforeValidator(refuse_float)
]
"""A whole number >= 0 (points, minor units); floats and bools are refused."""

PositiveInt = Annotated[int, Field(strict=True, gt=0, le=MAX_MINOR), BeforeValidator(refuse_float)]
"""A whole number > 0; floats and bools are refused."""

Ratio = Annotated[
    str,
    BeforeValidator(_refuse_number_as_ratio),
    AfterValidator(_check_ratio),
    Field(strict=True, max_length=20, examples=["1", "1.5", "3/2"]),
]
"""An exact non-negative ratio written as a decimal ("1.5") or a fraction ("3/2"), in at
most 20 characters."""

PointsInt = Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS), BeforeValidator(refuse_float)]
"""Points a result carries (a line's, an order bonus, a total): 0 to MAX_POINTS."""

FractionText = Annotated[str, Field(strict=True, min_length=1, max_length=100)]
"""An exact ratio as a result shows it ("3/2"): made from bounded inputs, so short."""

Version = Annotated[int, Field(strict=True, gt=0, le=2**31 - 1), BeforeValidator(refuse_float)]
"""A rules version number (HQ assigns 1, 2, 3 …)."""

Name = Annotated[
    str, Field(strict=True, min_length=1, max_length=MAX_TEXT), AfterValidator(check_safe_text)
]
"""A non-empty identifier or label (SKU, category, store, campaign id, tier code)."""


def fraction_text(value: Fraction) -> str:
    """How an exact ratio appears in results and journals: "3/2", "12", "1299/100"."""
    return str(value)


class InvariantError(ValueError):
    """A result broke one of its own invariants (its parts do not add up, a negative count).

    Raised by the ``check_*`` methods; seeing it means a bug or a tampered record, never bad
    user input.
    """
