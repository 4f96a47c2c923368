"""The sale screen's footer: the keys that fit, the most needed ones first.

Textual's Footer lists every key in binding order and lets the rest run off the right edge;
on an 80-column POS screen that hid F12 Pay. This one drops the least needed keys until the
rest fit, and shows what it keeps in key order (F1 … F12, then Del and Ctrl keys). F1 lists
every key, so nothing becomes undiscoverable.
"""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

__all__ = ["SALE_KEY_PRIORITY", "KeyBar"]

SALE_KEY_PRIORITY = (
    "pay",
    "help",
    "find_member",
    "quantity",
    "redeem",
    "void_line",
    "delete_or_skip",  # Del in the entry field: voids the line when the field is empty
    "remove_member",
    "returns",
    "enrol",
    "print_queue",
    "close_shift",
    "lock",
    "self_check",
)
"""Actions in the order they are kept when room runs out (the first always stays)."""

_FUNCTION_KEY = re.compile(r"^f(\d{1,2})$")


class KeyBar(Footer):
    def __init__(self, priority: tuple[str, ...] = SALE_KEY_PRIORITY) -> None:
        super().__init__(compact=True, show_command_palette=False)
        self._priority = priority
        self.shown_actions: tuple[str, ...] = ()
        """What the bar shows now (tests read it)."""

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        found: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in found:
                found[binding.action] = (binding, enabled, tooltip)
        keep = self._fit(list(found.values()))
        self.shown_actions = tuple(binding.action for binding, _, _ in keep)
        for binding, enabled, tooltip in keep:
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)

    def on_resize(self) -> None:
        self.call_after_refresh(self.recompose)

    def _fit(self, keys: list[tuple[Binding, bool, str]]) -> list[tuple[Binding, bool, str]]:
        width = self.size.width or self.app.size.width

        def rank(item: tuple[Binding, bool, str]) -> int:
            action = item[0].action
            return self._priority.index(action) if action in self._priority else len(keys)

        def room(item: tuple[Binding, bool, str]) -> int:
            binding = item[0]
            # "F12 Pay" and the one-column gap after it (the compact footer's layout).
            return len(self.app.get_key_display(binding)) + 1 + len(binding.description) + 1

        kept = sorted(keys, key=rank)
        while kept and sum(room(item) for item in kept) > width and len(kept) > 1:
            kept.pop()
        return sorted(kept, key=lambda item: _key_order(item[0].key))


def _key_order(key: str) -> tuple[int, int, str]:
    """F1 … F12 first, in number order; then Delete; then the rest (Ctrl keys)."""
    first = key.split(",")[0]
    match = _FUNCTION_KEY.match(first)
    if match:
        return (0, int(match.group(1)), first)
    return (1 if first == "delete" else 2, 0, first)
