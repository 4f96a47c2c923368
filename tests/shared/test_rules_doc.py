"""docs/rules.md's worked example is executable: its JSON runs, its tables are the engine's.

The doc's fenced ```json blocks (tagged ``rules``, ``basket``, ``return``) are the input; each
table or receipt after a ``<!-- worked-example:NAME -->`` marker must equal what the engine
computes from them. Change the engine or the doc alone and this fails, printing the table the
engine now produces so the doc can be updated deliberately.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared.money import Money, format_points
from shared.rules import (
    BasketLine,
    EarnContext,
    EarnResult,
    ProgramRules,
    RedemptionQuote,
    ReturnReversal,
    compute_earn,
    compute_return_reversal,
    plan_redemption,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def json_block(tag: str) -> Any:
    blocks = re.findall(rf"^```json {tag}\n(.*?)^```$", doc_text(), flags=re.DOTALL | re.MULTILINE)
    assert len(blocks) == 1, f"docs/rules.md needs exactly one ```json {tag} block"
    return json.loads(blocks[0])


def after_marker(name: str) -> list[str]:
    """The lines of the table or code block following ``<!-- worked-example:NAME -->``."""
    lines = doc_text().splitlines()
    marker = f"<!-- worked-example:{name} -->"
    assert lines.count(marker) == 1, f"docs/rules.md needs exactly one {marker}"
    rest = lines[lines.index(marker) + 1 :]
    while rest and not rest[0].strip():
        rest = rest[1:]
    if rest and rest[0].startswith("```"):
        return rest[1 : rest.index("```", 1)]
    end = next((i for i, text in enumerate(rest) if not text.startswith("|")), len(rest))
    return rest[:end]


def table_cells(lines: list[str]) -> list[list[str]]:
    """Markdown table rows as stripped cells, without the |---| separator row."""
    rows = [[cell.strip() for cell in text.strip().strip("|").split("|")] for text in lines]
    return [row for row in rows if not all(set(cell) <= set("-: ") for cell in row)]


def markdown(rows: list[list[str]]) -> str:
    header, *body = rows
    lines = [header, ["---"] * len(header), *body]
    return "\n".join("| " + " | ".join(row) + " |" for row in lines)


def assert_table(name: str, expected: list[list[str]]) -> None:
    actual = table_cells(after_marker(name))
    assert actual == expected, (
        f"the {name} table in docs/rules.md differs from the engine; it computes:\n\n"
        + markdown(expected)
    )


# ------------------------------------------------------------------ running the example


class Example:
    def __init__(self) -> None:
        self.rules = ProgramRules.model_validate(json_block("rules"))
        basket = json_block("basket")
        self.lines = [BasketLine.model_validate(item) for item in basket["lines"]]
        self.context = EarnContext.model_validate(basket["context"])
        self.balance: int = basket["balance"]
        self.requested: int = basket["requested_points"]
        self.basket_total = sum(line.net_minor for line in self.lines)
        quote = plan_redemption(
            self.rules,
            balance=self.balance,
            basket_total_minor=self.basket_total,
            requested_points=self.requested,
        )
        assert isinstance(quote, RedemptionQuote), quote
        self.quote = quote
        self.earned: EarnResult = compute_earn(
            self.rules, self.lines, self.context, order_discount_minor=quote.discount_minor
        )
        returned = json_block("return")
        self.already = {int(k): v for k, v in returned["already_returned"].items()}
        self.returning = {int(k): v for k, v in returned["returning"].items()}
        self.reversal: ReturnReversal = compute_return_reversal(
            self.earned, self.lines, self.already, self.returning, redeemed_points=quote.points
        )

    def money(self, minor: int) -> str:
        return Money(minor, self.rules.currency).amount_text()


@pytest.fixture(scope="module")
def example() -> Example:
    return Example()


def test_redemption_table(example: Example) -> None:
    assert_table(
        "redemption",
        [
            ["balance", "basket", "requested", "points used", "discount"],
            [
                f"{example.balance:,}",
                example.money(example.basket_total),
                f"{example.requested:,}",
                f"{example.quote.points:,}",
                example.money(example.quote.discount_minor),
            ],
        ],
    )


def test_earn_lines_table(example: Example) -> None:
    header = (
        "line, SKU, category, qty, net, eligible, base, product, campaign, tier, unit bonus, points"
    )
    rows = [header.split(", ")]
    for line in example.earned.lines:
        campaign = f"{line.campaign_id} ×{line.campaign_multiplier}" if line.campaign_id else "—"
        points = str(line.points)
        if line.excluded_reason:
            points += f" ({line.excluded_reason})"
        rows.append(
            [
                str(line.line_no),
                line.sku,
                line.category,
                str(line.quantity),
                example.money(line.net_minor),
                example.money(line.eligible_minor),
                line.base,
                f"×{line.product_multiplier}",
                campaign,
                f"×{line.tier_multiplier}",
                str(line.unit_bonus),
                points,
            ]
        )
    assert_table("earn-lines", rows)


def test_earn_order_table(example: Example) -> None:
    rows = [["order item", "points"]]
    rows += [[item.label, str(item.points)] for item in example.earned.order_items]
    rows.append(["**Total**", f"**{example.earned.total_points}**"])
    assert_table("earn-order", rows)


def test_receipt_lines(example: Example) -> None:
    assert after_marker("receipt") == list(example.earned.summary_lines())


def test_return_table(example: Example) -> None:
    rows = [["line", "refunded now", "points reversed", "points restored"]]
    rows += [
        [
            str(line.line_no),
            example.money(line.refunded_now_minor),
            str(line.points_reversed),
            str(line.points_restored),
        ]
        for line in example.reversal.lines
        if line.refunded_now_minor
    ]
    rows += [
        [item.label, "", str(item.points_reversed), ""] for item in example.reversal.order_items
    ]
    rows.append(
        [
            "**Total**",
            "",
            f"**{example.reversal.points_reversed}**",
            f"**{example.reversal.points_restored}**",
        ]
    )
    assert_table("return", rows)


def test_prose_totals_match(example: Example) -> None:
    """The sentences that quote the totals quote the engine's."""
    text = doc_text()
    assert f"earns **{format_points(example.earned.total_points)}**" in text
    assert f"takes back **{format_points(example.reversal.points_reversed)}**" in text
    assert f"gives back **{format_points(example.reversal.points_restored)}**" in text
