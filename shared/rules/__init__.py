"""The program rules engine: points earned, redeemed and reversed, as pure functions.

Rules are versioned JSON data (:class:`ProgramRules`); the till and the sync server run the
same functions over the same rules version, so a receipt and the ledger agree (docs/design.md,
invariant 5). No I/O, no clock: the caller passes the store's wall-clock time. See
docs/rules.md for the semantics and a worked example.
"""

from shared.rules._fields import InvariantError
from shared.rules.basket import BasketLine, EarnContext, LightContext, LightLine, earn_context
from shared.rules.earn import (
    EarnPoints,
    EarnResult,
    LineEarning,
    OrderBonus,
    compute_earn,
    earn_points,
    earn_points_of,
)
from shared.rules.model import (
    Campaign,
    EarnRules,
    OfflineRules,
    ProgramRules,
    RedemptionRules,
    Reward,
    Tier,
    UnitBonus,
)
from shared.rules.redeem import RedemptionQuote, RedemptionRefusal, RefusalCode, plan_redemption
from shared.rules.returns import (
    LineReversal,
    OrderItemReversal,
    ReturnReversal,
    compute_return_reversal,
)

__all__ = [
    "BasketLine",
    "Campaign",
    "EarnContext",
    "EarnPoints",
    "EarnResult",
    "EarnRules",
    "InvariantError",
    "LightContext",
    "LightLine",
    "LineEarning",
    "LineReversal",
    "OfflineRules",
    "OrderBonus",
    "OrderItemReversal",
    "ProgramRules",
    "RedemptionQuote",
    "RedemptionRefusal",
    "RedemptionRules",
    "RefusalCode",
    "ReturnReversal",
    "Reward",
    "Tier",
    "UnitBonus",
    "compute_earn",
    "compute_return_reversal",
    "earn_context",
    "earn_points",
    "earn_points_of",
    "plan_redemption",
]
