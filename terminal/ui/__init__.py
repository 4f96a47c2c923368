"""The till's Textual user interface (:class:`~terminal.ui.app.TillApp`)."""

from terminal.ui.app import TillApp

__all__ = ["TillApp"]
