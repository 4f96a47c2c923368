"""Sign-in flood vs. till push latency and server RSS: figures, not pass/fail.

    .venv/bin/python -m bench.sign_in_flood --db sqlite|postgres [--flood 300]
        [--concurrency 40] [--pushes 150] [--mode evaluated|same-address|get-page]
        [--serve-arg=--proxy-headers --serve-arg=--forwarded-allow-ips --serve-arg=127.0.0.1]

A real `syncserver serve` process on loopback; one till pushes one-entry batches back to back
(p50/p99 of each POST); meanwhile --flood wrong sign-ins are sent with --concurrency in flight.
mode evaluated: every attempt names a different user from a different X-Forwarded-For address
(the server is started with --proxy-headers when it has the option), so every attempt reaches
the password hash — the worst case for the hash pool. mode same-address: all attempts from one
address for one real account (what the limits refuse).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from syncserver.hq.rules import publish_rules
from syncserver.hq.setup import initialise
from syncserver.settings import utc_now
from syncserver.storage.database import Database, normalize_url
from syncserver.storage.terminals import add_terminal
from syncserver.storage.users import Role, add_user
from tests.server.helpers import demo_rules_json
from tests.server.journal import JournalWriter

LISTEN = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def rss_kib(pid: int) -> tuple[int, int]:
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--flood", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--pushes", type=int, default=150)
    parser.add_argument(
        "--mode", choices=["evaluated", "same-address", "get-page"], default="evaluated"
    )
    parser.add_argument("--serve-arg", action="append", default=[])
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="flood-"))
    pg_admin = None
    if args.db == "sqlite":
        url = f"sqlite:///{scratch}/server.sqlite3"
    else:
        name = f"loyaltill_flood_{uuid.uuid4().hex[:8]}"
        pg_admin = create_engine(
            normalize_url(
                os.environ.get("LOYALTILL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
            ),
            isolation_level="AUTOCOMMIT",
        )
        with pg_admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        url = str(pg_admin.url.set(database=name).render_as_string(hide_password=False))
    database = Database(url)
    initialise(database)
    publish_rules(database, demo_rules_json())
    with database.write() as conn:
        terminal_id, token = add_terminal(conn, "S001", "Till", utc_now())
        add_user(conn, "ada", Role.ADMIN, utc_now(), password="ada-correct-horse")
    database.dispose()

    command = [
        sys.executable,
        "-m",
        "syncserver.cli",
        "serve",
        "--db",
        url,
        "--port",
        "0",
        "--log-level",
        "info",
        *args.serve_arg,
    ]
    env = dict(os.environ)
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
    )
    # uvicorn prints the address at info; --log-level warning hides it, so ask with info
    base = None
    assert process.stderr is not None
    lines = []
    deadline = time.monotonic() + 60
    while base is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = LISTEN.search(line)
        if found:
            base = found.group(1)
    if base is None:
        process.kill()
        raise SystemExit("server did not start:\n" + "".join(lines))
    log_path = scratch / "server.log"
    print(f"server log: {log_path}")
    stderr = process.stderr

    def keep_log() -> None:
        with log_path.open("w") as log_file:
            for line in stderr:
                if "HTTP/1.1" not in line:
                    log_file.write(line)
                    log_file.flush()

    threading.Thread(target=keep_log, daemon=True).start()

    writer = JournalWriter(terminal_id)
    for _ in range(2 * args.pushes + 10):
        writer.sale(None)
    records = iter(writer.records)
    headers = {"Authorization": f"Bearer {token}"}

    slow_at: list[tuple[float, float]] = []
    t_flood = [0.0]
    answered: list[tuple[float, int]] = []

    def push_run(client: httpx.Client, count: int) -> list[float]:
        took = []
        for _ in range(count):
            record = next(records)
            start = time.perf_counter()
            reply = client.post(
                "/api/v1/sync/push",
                json={"terminal_id": terminal_id, "entries": [record]},
                headers=headers,
            )
            took.append(time.perf_counter() - start)
            if t_flood[0] and took[-1] > 0.25:
                slow_at.append((round(start - t_flood[0], 2), round(took[-1], 3)))
            assert reply.status_code == 200, reply.text
        return took

    statuses: Counter[int] = Counter()
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(process.pid)[0])
            time.sleep(0.02)

    local = threading.local()

    def attempt(i: int) -> None:
        if args.mode == "evaluated":
            data = {"username": f"nobody{i}", "password": "guess"}
            head = {"X-Forwarded-For": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"}
        else:
            data = {"username": "ada", "password": "guess"}
            head = {}
        if args.mode == "get-page":
            time.sleep(0.03)  # about the rate of the same-address flood
        c = getattr(local, "client", None)
        if c is None:
            # One client per flood thread: creating one (an SSL context) per attempt costs the
            # flood process more CPU than the server spends, on the same two cores.
            c = local.client = httpx.Client(base_url=base, timeout=120)
        if args.mode == "get-page":
            code = c.get("/signin").status_code
        else:
            code = c.post("/signin", data=data, headers=head).status_code
        statuses[code] += 1
        if code != 429:
            answered.append((round(time.perf_counter() - t_flood[0], 2), code))

    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            push_run(client, 10)  # warm up
            rss0 = rss_kib(process.pid)
            quiet = push_run(client, args.pushes)
            rss1 = rss_kib(process.pid)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            pool = ThreadPoolExecutor(args.concurrency)
            flood_start = time.perf_counter()
            t_flood[0] = flood_start
            futures = [pool.submit(attempt, i) for i in range(args.flood)]
            time.sleep(0.3)
            loud: list[float] = []
            while not all(f.done() for f in futures) and len(loud) < args.pushes:
                loud.extend(push_run(client, 1))
            for f in futures:
                f.result()
            flood_s = time.perf_counter() - flood_start
            stop.set()
            sampler.join()
            pool.shutdown()
            rss2 = rss_kib(process.pid)

        def ms(seconds: float) -> str:
            return f"{seconds * 1000:.1f}"

        print(
            f"db={args.db} mode={args.mode} flood={args.flood} "
            f"concurrency={args.concurrency} serve_args={args.serve_arg}"
        )
        print(
            f"  quiet push: n={len(quiet)} p50={ms(statistics.median(quiet))} ms "
            f"p99={ms(pct(quiet, 0.99))} ms; RSS {rss1[0] // 1024} MiB"
        )
        slow = [i for i, v in enumerate(loud) if v > 0.25]
        print(
            f"  flood push: n={len(loud)} p50={ms(statistics.median(loud))} ms "
            f"p90={ms(pct(loud, 0.90))} ms p99={ms(pct(loud, 0.99))} ms "
            f"max={ms(max(loud))} ms; >250 ms at push #{slow}"
        )
        if os.environ.get("VERBOSE"):
            print("  slow pushes (s after flood start, latency):", slow_at)
            print("  non-429 answers:", sorted(answered))
        print(
            f"  flood: {args.flood} attempts in {flood_s:.1f} s, "
            f"statuses {dict(sorted(statuses.items()))}"
        )
        print(
            f"  server RSS before {rss0[0] // 1024} MiB, peak sampled during flood "
            f"{peak[0] // 1024} MiB, after {rss2[0] // 1024} MiB, VmHWM {rss2[1] // 1024} MiB"
        )
    finally:
        process.terminate()
        process.wait(timeout=20)
        if pg_admin is not None:
            with pg_admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)"))
            pg_admin.dispose()


if __name__ == "__main__":
    main()
