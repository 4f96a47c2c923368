"""docs/rules.md's rewards example is executable, like the earn example
(tests/shared/test_rules_doc.py, whose helpers this uses): the ```json blocks tagged
``reward-catalog`` and ``reward-member``, added to the worked example's program and applied to
its basket, must give the tables after ``<!-- worked-example:reward-catalog -->`` and
``<!-- worked-example:reward-on-sale -->``. A mismatch prints the table the code produces."""

from __future__ import annotations

from datetime import date
from typing import Any

from shared.money import Money, format_points
from shared.rules import BasketLine, ProgramRules, plan_redemption
from shared.rules.rewards import (
    affordable,
    percent_text,
    purchase_refusal,
    reward_discount,
    reward_effect,
    reward_refusal,
    voucher_terms,
)
from tests.shared.test_rules_doc import assert_table, doc_text, json_block


def catalog_rules() -> ProgramRules:
    document: dict[str, Any] = json_block("rules")
    document["rewards"] = json_block("reward-catalog")["rewards"]
    return ProgramRules.model_validate(document)


def test_reward_catalog_table() -> None:
    rules = catalog_rules()
    member: dict[str, Any] = json_block("reward-member")
    today = date.fromisoformat(member["today"])
    issued: dict[str, int] = member["issued"]
    rows = [["reward", "price", "gives", "delivery", "can she buy it?"]]
    for reward in rules.rewards:
        refusal = purchase_refusal(
            reward,
            balance=member["balance"],
            tier=member["tier"],
            today=today,
            issued=issued.get(reward.id, 0),
        )
        delivery = (
            f"voucher, valid {reward.valid_days} days"
            if reward.delivery == "voucher"
            else "off this sale"
        )
        rows.append(
            [
                reward.name,
                format_points(reward.points),
                reward_effect(reward, rules.currency),
                delivery,
                refusal or "yes",
            ]
        )
    assert_table("reward-catalog", rows)
    listed = affordable(
        rules, balance=member["balance"], tier=member["tier"], today=today, issued=issued
    )
    names = ", ".join(r.name for r in listed)
    assert f"cheapest first: {names}." in " ".join(doc_text().split())


def test_rewards_on_the_worked_example_basket() -> None:
    rules = catalog_rules()
    member: dict[str, Any] = json_block("reward-member")
    today = date.fromisoformat(member["today"])
    basket: dict[str, Any] = json_block("basket")
    lines = [BasketLine.model_validate(line) for line in basket["lines"]]
    total = sum(line.net_minor for line in lines)
    quote = plan_redemption(
        rules,
        balance=basket["balance"],
        basket_total_minor=total,
        requested_points=basket["requested_points"],
    )
    discount = getattr(quote, "discount_minor", 0)
    left = total - discount
    text = " ".join(doc_text().split())
    assert (
        f"(€{discount // 100}.{discount % 100:02d}, so €{left // 100}.{left % 100:02d} is left"
        in (text)
    )

    def money(minor: int) -> str:
        return Money(minor, rules.currency).format()

    rows = [["reward", "on this sale"]]
    for reward in affordable(
        rules, balance=member["balance"], tier=member["tier"], today=today, issued=member["issued"]
    ):
        if reward.delivery == "voucher":
            terms = voucher_terms(reward, today)
            percent = f", {percent_text(terms.percent_bp)}" if terms.percent_bp else ""
            said = (
                f"voucher: value {money(terms.value_minor)}{percent}, "
                f"min spend {money(terms.min_spend_minor)}, "
                f"usable until {terms.expires_on.isoformat()}"
            )
        else:
            off = reward_discount(reward, lines, left)
            refusal = reward_refusal(reward, lines, left, currency=rules.currency)
            said = f"{money(off)} off" if off else str(refusal)
        rows.append([reward.name, said])
    assert_table("reward-on-sale", rows)
