"""Counters every scanner kind shares: what it delivered, what it dropped and why.

Scanner threads write and the till's UI thread reads, so every access takes the lock. Every
drop is logged here, in one place, so no driver can drop input silently.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shared.scan import RejectedScan

__all__ = ["ScanStats", "StatsSnapshot"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    accepted: int = 0
    """Scans delivered to the till (including ones the parser did not recognise)."""
    rejected: int = 0
    """Input dropped before it became a scan."""
    rejected_by_code: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    last_rejected_reason: str | None = None


class ScanStats:
    """Thread-safe scan counters; one instance may be shared by several scanners."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted = 0
        self._rejected = 0
        self._by_code: Counter[str] = Counter()
        self._last_reason: str | None = None

    def record_accepted(self) -> None:
        with self._lock:
            self._accepted += 1

    def record_rejected(self, rejection: RejectedScan) -> None:
        logger.warning(
            "scan dropped from %s %s: %s (input: %s)",
            rejection.source.kind,
            rejection.source.name,
            rejection.reason,
            rejection.preview,
        )
        with self._lock:
            self._rejected += 1
            self._by_code[rejection.code] += 1
            self._last_reason = rejection.reason

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                accepted=self._accepted,
                rejected=self._rejected,
                rejected_by_code=MappingProxyType(dict(self._by_code)),
                last_rejected_reason=self._last_reason,
            )
