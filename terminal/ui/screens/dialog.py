"""The till's dialogs answer once, however many keys were typed ahead.

Textual hands each key to the widget that has focus *when the key is routed*, and the widget
handles it later, from its own queue. On a slow till (or under a quick double press) keys
typed ahead are therefore still queued for a dialog after the key before them closed it:
a second Enter on the payment screen would journal the same sale again, and its dismiss would
pop the screen *below* (the sale screen), leaving a blank till. So a dialog acts, and
dismisses, only while it is the screen on top; keys that reach it later do nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

__all__ = ["Dialog", "on_top"]

ResultT = TypeVar("ResultT")
D = TypeVar("D", bound="Dialog[Any]")
P = ParamSpec("P")


class Dialog(ModalScreen[ResultT]):
    """A modal screen that answers (dismisses) at most once, and only from the top."""

    def dismiss(self, result: ResultT | None = None) -> AwaitComplete:
        if not self.is_active:
            # Answered already (or covered by another screen): the screen on top is not
            # this dialog's to close.
            done: AwaitComplete = AwaitComplete.nothing()  # type: ignore[no-untyped-call]
            return done
        return super().dismiss(result)


def on_top(method: Callable[Concatenate[D, P], None]) -> Callable[Concatenate[D, P], None]:
    """Run a dialog's handler only while the dialog is the screen on top (see the module)."""

    def guarded(self: D, *args: P.args, **kwargs: P.kwargs) -> None:
        if self.is_active:
            method(self, *args, **kwargs)

    # wraps: Textual reads the handler's signature (how many arguments it takes).
    return cast(Callable[Concatenate[D, P], None], functools.wraps(method)(guarded))
