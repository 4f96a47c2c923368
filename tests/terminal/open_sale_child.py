"""A till process whose sale screen basket is killed with SIGKILL by test_open_sale_crash.

python -m tests.terminal.open_sale_child DATA_DIR script
    reads one action a line from stdin and answers "ok" once the till's call returned:
    ``add SKU QTY``, ``member CARD``, ``redeem POINTS``, ``cash MINOR``
python -m tests.terminal.open_sale_child DATA_DIR stream SEED
    rings up and completes sales without end; each gives its own amount of change
    (SEED * 100,000 + its number, in cents), so a basket left open names itself by its
    tenders
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from shared.journal import TenderMethod
from terminal.config import TillConfig
from terminal.demo.seed import demo_card
from terminal.store import open_database
from terminal.till.service import Till

MAX_SALES = 99_999  # bounded: the parent kills it long before


def main() -> None:
    data_dir, mode = Path(sys.argv[1]), sys.argv[2]
    config = TillConfig(data_dir=data_dir, timezone="Europe/Berlin", terminal_id="T1")
    till = Till(config, open_database(config.database_path))
    till.sign_in("1", "1234")
    if mode == "script":
        script(till)
    else:
        seed = int(sys.argv[3])
        stream(till, config, random.Random(seed), seed * 100_000)


def script(till: Till) -> None:
    basket = till.start_sale()
    print("ready", flush=True)
    for line in sys.stdin:
        action, *args = line.split()
        if action == "add":
            till.add_product(basket, args[0], int(args[1]))
        elif action == "member":
            till.attach_member(basket, args[0])
        elif action == "redeem":
            till.redeem(basket, int(args[0]))
        elif action == "cash":
            till.add_tender(basket, TenderMethod.CASH, int(args[0]))
        print("ok", flush=True)


def stream(till: Till, config: TillConfig, rng: random.Random, base: int) -> None:
    skus = [
        r[0] for r in till.database.conn.execute("SELECT sku FROM products WHERE open_price = 0")
    ]
    print("ready", flush=True)
    for k in range(base + 1, base + MAX_SALES):
        basket = till.start_sale()
        for _ in range(rng.randint(1, 5)):
            till.add_product(basket, rng.choice(skus), rng.randint(1, 3))
        if rng.random() < 0.5:
            till.attach_member(basket, demo_card(config, rng.randint(1, 50)))
        till.add_tender(basket, TenderMethod.CASH, basket.total_minor + k)
        done = till.complete_sale(basket)
        print(f"sale {done.entry.seq} {k}", flush=True)


if __name__ == "__main__":
    main()
