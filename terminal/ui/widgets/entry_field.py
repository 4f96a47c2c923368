"""The sale's entry field: where SKUs, EANs, prices and quantities are keyed."""

from __future__ import annotations

from typing import ClassVar

from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.widgets import Input

__all__ = ["EntryField"]


class EntryField(Input):
    """An Input whose Delete, with no text to delete, falls through to the screen's Delete
    (void the selected line).

    Not a priority key on the screen: that would act before the keys typed just ahead of
    it had reached this field. Falling through keeps every key in the order it was typed.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete", "delete_or_skip", "Void", key_display="Del"),
    ]

    def action_delete_or_skip(self) -> None:
        if not self.value:
            raise SkipAction  # let the screen's binding for Delete run
        self.action_delete_right()
