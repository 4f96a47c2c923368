"""Every key the till answers to, in one table: the bindings and the help screen read it.

Keeping the keymap as data means the Help screen (F1) can never drift from what the keys
really do. Function keys carry the cashier's everyday actions because they work whatever
field has focus: a letter would be typed into the entry field instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

__all__ = ["KEYMAP", "TillKey", "bindings"]


@dataclass(frozen=True, slots=True)
class TillKey:
    key: str
    """Textual key name(s), comma-separated, e.g. "f12" or "delete"."""
    action: str
    label: str
    """Short text for the Footer."""
    help: str
    """What the key does, for the Help screen."""
    show: bool = True
    """Shown in the Footer (every key is listed on the Help screen)."""
    priority: bool = False
    """Checked before the focused widget sees the key (Delete would otherwise edit text)."""

    @property
    def display(self) -> str:
        names = {"delete": "Del", "escape": "Esc", "enter": "Enter", "up": "↑", "down": "↓"}
        parts = []
        for key in self.key.split(","):
            if key in names:
                parts.append(names[key])
            elif key.startswith("ctrl+"):
                parts.append("Ctrl+" + key.removeprefix("ctrl+").upper())
            else:
                parts.append(key.upper())
        return " / ".join(parts)

    def binding(self) -> Binding:
        # The Footer is one line at 120 columns: Ctrl+L shows as ^L there.
        footer_display = self.display.replace("Ctrl+", "^")
        return Binding(
            self.key,
            self.action,
            self.label,
            show=self.show,
            priority=self.priority,
            key_display=footer_display,
        )


APP_KEYS = (
    TillKey("f1", "help", "Help", "Show this list of keys"),
    TillKey(
        "ctrl+q",
        "request_quit",
        "Quit",
        "Close the till program (supervisor PIN)",
        show=False,
        priority=True,
    ),
)

SALE_KEYS = (
    TillKey("f2", "find_member", "Find", "Find a member by phone, email or name"),
    TillKey("f3", "quantity", "Qty", "Change the quantity of the selected line"),
    TillKey(
        "ctrl+p",
        "change_price",
        "Price",
        "Change the line's price (supervisor PIN)",
        show=False,
    ),
    TillKey("f4", "remove_member", "Unlink", "Take the member off this sale"),
    TillKey("f5", "redeem", "Redeem", "Redeem points (empty = as many as allowed, 0 = none)"),
    TillKey("f6", "enrol", "Enrol", "Enrol a new member and give them a card"),
    TillKey("f7", "returns", "Return", "Refund items of an earlier sale"),
    TillKey("f8", "print_queue", "Print", "Print queue: retry failed receipts, reprint"),
    TillKey("f9", "self_check", "Self-check", "Customer screen: members check their points"),
    TillKey("f10", "close_shift", "Close", "Count the cash and print the Z report"),
    TillKey("f12", "pay", "Pay", "Take payment and complete the sale"),
    TillKey(
        "delete",
        "void_line",
        "Void",
        "Void the selected line, voucher or reward (in text: delete)",
    ),
    TillKey(
        "ctrl+g",
        "gift_card",
        "Gift card",
        "Sell, top up or check a gift card",
        show=False,  # the Footer is full at 120 columns; F1 lists it
    ),
    TillKey("up", "cursor_up", "Line up", "Select the line above", show=False),
    TillKey("down", "cursor_down", "Line down", "Select the line below", show=False),
    TillKey(
        "ctrl+b",
        "toggle_breakdown",
        "Points detail",
        "Show or hide how the points add up",
        show=False,
    ),
    TillKey(
        "f11",
        "rewards",
        "Rewards",
        "The member's rewards: buy one with points",
        show=False,  # the member panel names it when there is something to buy
    ),
    TillKey("ctrl+r", "replace_card", "Card", "Replace a member's lost card", show=False),
    TillKey("ctrl+l", "lock", "Lock", "Lock the till (your PIN unlocks it)"),
    TillKey("ctrl+o", "sign_out", "Sign out", "Sign out (the sale must be finished)", show=False),
)

PAYMENT_KEYS = (
    TillKey("enter", "", "Cash", "Cash: the amount typed (empty = exact)"),
    TillKey("f3", "tender_card", "Card", "Record a card payment (external terminal)"),
    TillKey(
        "f4",
        "tender_store_credit",
        "Store credit",
        "Pay from the member's store credit",
    ),
    TillKey(
        "f5",
        "tender_gift_card",
        "Gift card",
        "Pay with a gift card or credit slip (scan or key it)",
    ),
    TillKey("f12", "complete", "Complete", "Complete the sale once it is paid"),
    TillKey("escape", "cancel", "Back", "Back to the sale (removes tenders taken)"),
)

RETURN_KEYS = (
    TillKey("f3", "quantity", "Qty", "How many of the selected line come back"),
    TillKey("f5", "return_all", "All", "Return everything still returnable"),
    TillKey(
        "f6",
        "next_method",
        "Refund to",
        "Cash, card, store credit, credit slip or gift card",
    ),
    TillKey("f12", "confirm", "Refund", "Make the refund"),
    TillKey("up", "cursor_up", "Line up", "Select the line above", show=False),
    TillKey("down", "cursor_down", "Line down", "Select the line below", show=False),
    TillKey("escape", "cancel", "Back", "Back to the sale"),
)

GIFT_CARD_KEYS = (
    TillKey("enter", "", "Next", "Card number, then the amount, then payment"),
    TillKey("f7", "balance", "Balance", "Show the card's balance"),
    TillKey("escape", "cancel", "Back", "Back to the sale"),
)

GIFT_CARD_PAYMENT_KEYS = (
    TillKey("enter", "", "Cash", "Cash: the amount typed (empty = exact)"),
    TillKey("f3", "tender_card", "Card", "Record a card payment (external terminal)"),
    TillKey("f12", "complete", "Complete", "Load the card once it is paid"),
    TillKey("escape", "cancel", "Back", "Back to the gift card (removes tenders taken)"),
)

REWARD_KEYS = (
    TillKey("enter", "", "Buy", "Buy the highlighted reward for the member"),
    TillKey("escape", "cancel", "Back", "Back to the sale"),
)

PRINT_QUEUE_KEYS = (
    TillKey("f5", "retry", "Retry", "Print the selected receipt again"),
    TillKey("f6", "retry_all", "Retry all", "Print every waiting receipt"),
    TillKey("f7", "show_all", "Show printed", "Also list receipts that printed"),
    TillKey("escape", "cancel", "Back", "Back to the sale"),
)

FORM_KEYS = (
    TillKey("f12", "submit", "Save", "Save: enrol, replace the card, close shift"),
    TillKey("escape", "cancel", "Back", "Back without saving"),
)

SELF_CHECK_KEYS = (
    TillKey("escape", "leave", "Cashier", "Leave self-check (cashier PIN)", show=False),
)

KEYMAP: tuple[tuple[str, tuple[TillKey, ...]], ...] = (
    ("Everywhere", APP_KEYS),
    ("Sale", SALE_KEYS),
    ("Payment", PAYMENT_KEYS),
    ("Returns", RETURN_KEYS),
    ("Gift card", GIFT_CARD_KEYS),
    ("Gift card payment", GIFT_CARD_PAYMENT_KEYS),
    ("Rewards", REWARD_KEYS),
    ("Print queue", PRINT_QUEUE_KEYS),
    ("Enrol, replace card, close shift", FORM_KEYS),
    ("Member self-check", SELF_CHECK_KEYS),
)
"""Sections of the Help screen, in order."""


def bindings(keys: tuple[TillKey, ...]) -> list[BindingType]:
    """Textual bindings for the keys that have an action (Enter in a field has none)."""
    return [key.binding() for key in keys if key.action]
