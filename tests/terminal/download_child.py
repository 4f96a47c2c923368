"""A till process doing a first download, killed with SIGKILL by test_first_download_indexes.

python -m tests.terminal.download_child DATA_DIR
    downloads HQ's members from :class:`PagedHQ`: applies two pages, prints "applied 2"
    and then waits for the third page for ever (the parent kills it meanwhile)
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from shared.codes import card_number_from_serial
from shared.protocol import CardState, MemberState, PullResponse
from terminal.config import TillConfig
from terminal.store import open_database
from terminal.sync.engine import SyncEngine, SyncReport
from terminal.sync.errors import SyncOfflineError

PAGE = 50
FIRST_NAMES = ("Anna", "Łucja", "Jan", "Zofia", "Piotr")
LAST_NAMES = ("Kowalska", "Nowak", "Wiśniewski", "Müller", "Schmidt")


def till_config(data_dir: Path) -> TillConfig:
    return TillConfig(data_dir=data_dir, timezone="Europe/Berlin", terminal_id="T1", country="DE")


def hq_member(config: TillConfig, n: int) -> MemberState:
    """HQ's member number ``n``: a name, a German mobile number, an email and a card."""
    return MemberState(
        member_id=f"M{n:010d}",
        name=f"{FIRST_NAMES[n % 5]} {LAST_NAMES[n // 5 % 5]} {n}",
        phone=f"+49 170 {n:07d}",
        email=f"m{n}@example.com",
        balance=n,
        cards=[
            CardState(card_number=card_number_from_serial(config.code_config(), n), status="active")
        ],
    )


class PagedHQ:
    """HQ's pull for a till, from memory: ``pages`` pages of :data:`PAGE` members. ``on_pull``
    sees each call (its cursor) before the page is handed out and may raise or block."""

    def __init__(
        self, config: TillConfig, pages: int, on_pull: Callable[[str], None] | None = None
    ) -> None:
        self.config, self.pages, self.on_pull = config, pages, on_pull
        self.cursors: list[str] = []

    def pull(self, since: str, limit: int = 1000, tip: int | None = None) -> PullResponse:
        self.cursors.append(since)
        if self.on_pull is not None:
            self.on_pull(since)
        number = int(since) // PAGE
        first = number * PAGE + 1
        return PullResponse(
            cursor=str((number + 1) * PAGE),
            more=number + 1 < self.pages,
            applied_through_seq=0,
            members=[hq_member(self.config, n) for n in range(first, first + PAGE)],
            total_members=self.pages * PAGE if since == "0" else None,
        )


def main() -> None:
    config = till_config(Path(sys.argv[1]))
    forever = threading.Event()

    def third_page_never_comes(since: str) -> None:
        if since == str(2 * PAGE):
            forever.wait()
            raise SyncOfflineError("never")

    def progress(_what: str, done: int, _total: int) -> None:
        if done == 2 * PAGE:
            print("applied 2", flush=True)

    hq = PagedHQ(config, 5, third_page_never_comes)
    engine = SyncEngine(config, open_database(config.database_path), hq)  # type: ignore[arg-type]
    engine.pull_all(SyncReport(), progress)


if __name__ == "__main__":
    main()
