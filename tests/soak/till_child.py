"""A till process that rings up sales as fast as it can, for the fault soak to SIGKILL.

    python -m tests.soak.till_child DATA_DIR TERMINAL_ID SEED

Opens the till's own database (``DATA_DIR/till.sqlite3``, the soak's demo till), signs in and
sells: member sales (some redeeming), anonymous sales. Before each sale it prints
``begin``; after ``complete_sale`` returned (the entry committed) it prints ``sale SEQ HASH``,
so the parent can tell where its SIGKILL landed and check that no sale it saw committed is
ever lost or changed. Bounded: at most MAX_SALES sales (the parent kills it long before).
"""

from __future__ import annotations

import contextlib
import random
import sys
from pathlib import Path

from shared.journal import TenderMethod
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import open_database
from terminal.till.errors import TillError
from terminal.till.service import Till

MAX_SALES = 2_000
MEMBERS = 12
"""The soak's demo tills are seeded with this many members (tests.server.tills)."""


def main() -> None:
    data_dir, terminal_id, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    config = TillConfig(data_dir=data_dir, timezone="Europe/Berlin", terminal_id=terminal_id)
    till = Till(config, open_database(config.database_path))
    till.sign_in("1", "1234")
    rng = random.Random(seed)
    skus = [
        r[0] for r in till.database.conn.execute("SELECT sku FROM products WHERE open_price = 0")
    ]
    print("ready", flush=True)
    for _ in range(MAX_SALES):
        print("begin", flush=True)
        basket = till.new_basket()
        for _ in range(rng.randint(1, 4)):
            till.add_product(basket, rng.choice(skus), rng.randint(1, 3))
        if rng.random() < 0.7:
            with contextlib.suppress(TillError):  # a card blocked meanwhile: no member
                till.attach_member(basket, demo_card(config, rng.randint(1, MEMBERS)))
                if rng.random() < 0.3:
                    till.redeem(basket, None)
        till.add_tender(basket, TenderMethod.CASH, None)
        done = till.complete_sale(basket)
        print(f"sale {done.entry.seq} {done.entry.hash}", flush=True)


if __name__ == "__main__":
    main()
