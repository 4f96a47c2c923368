"""A till process that rings up sales as fast as it can and prints each receipt.

Used by the crash-safety test, which kills it with SIGKILL at random moments.
    python -m tests.terminal.sale_stream DATA_DIR PRINTER_URL SEED
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
from terminal.till.printing import PrintQueue
from terminal.till.service import Till

MAX_SALES = 10_000  # bounded: the parent kills it long before


def main() -> None:
    data_dir, printer_url, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    from hardware.printing import ReceiptPrinter

    config = TillConfig(data_dir=data_dir, timezone="Europe/Berlin", printer_url=printer_url)
    till = Till(config, open_database(config.database_path))
    till.sign_in("1", "1234")
    queue = PrintQueue(till, lambda: ReceiptPrinter(printer_url, "TM-T88V", timeout_s=5))
    rng = random.Random(seed)
    skus = [
        r[0] for r in till.database.conn.execute("SELECT sku FROM products WHERE open_price = 0")
    ]
    print("ready", flush=True)
    for _ in range(MAX_SALES):
        basket = till.new_basket()
        for _ in range(rng.randint(1, 6)):
            till.add_product(basket, rng.choice(skus), rng.randint(1, 3))
        if rng.random() < 0.7:
            till.attach_member(basket, demo_card(config, rng.randint(1, 150)))
            if rng.random() < 0.3:
                with contextlib.suppress(TillError):
                    till.redeem(basket, None)
        till.add_tender(basket, TenderMethod.CASH, basket.total_minor + rng.randint(0, 2000))
        done = till.complete_sale(basket)
        queue.print_job(done.print_job_id)
        print(f"sale {done.entry.seq}", flush=True)


if __name__ == "__main__":
    main()
