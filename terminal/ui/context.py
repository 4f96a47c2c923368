"""Typed access from a screen or widget to the running :class:`~terminal.ui.app.TillApp`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode

if TYPE_CHECKING:
    from terminal.ui.app import TillApp

__all__ = ["till_app"]


def till_app(node: DOMNode) -> TillApp:
    from terminal.ui.app import TillApp  # here, not at the top: the app imports every screen

    app = node.app
    if not isinstance(app, TillApp):
        raise TypeError("till screens run inside TillApp")
    return app
