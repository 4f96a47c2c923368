"""shared/ is the pure domain core: importing all of it loads no adapter framework."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("textual", "fastapi", "starlette", "sqlalchemy", "httpx", "serial", "escpos", "usb")

PROBE = """
import importlib, json, pkgutil, sys
import shared
names = [m.name for m in pkgutil.walk_packages(shared.__path__, "shared.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "modules": sorted(sys.modules)}))
"""


def test_importing_every_shared_module_loads_no_framework() -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout)
    assert "shared.money" in report["imported"]
    assert "shared.journal.entry" in report["imported"]
    loaded = [
        module
        for module in report["modules"]
        if module.split(".")[0] in FORBIDDEN or module.split(".")[0] == "pyserial"
    ]
    assert loaded == [], f"shared/ pulled in adapter frameworks: {loaded}"


def test_shared_does_no_io_at_import() -> None:
    """No module in shared/ opens files, sockets or reads the clock at import time.

    A cheap guard: the source never mentions the usual I/O entry points.
    """
    root = Path(__file__).resolve().parents[2] / "shared"
    banned = ("open(", "socket", "subprocess", "datetime.now", "time.time(", "os.environ")
    offenders = [
        f"{path.relative_to(root)}: {word}"
        for path in root.rglob("*.py")
        for word in banned
        if word in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
