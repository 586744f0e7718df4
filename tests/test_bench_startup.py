"""scripts/bench_startup.py keeps working: a tiny run prints every goal with its baseline and ratio."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_bench_startup_prints_every_goal() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_startup.py"), "--quick"],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    for figure in ("6 / 2 plugins:", "devnode's own", "with / without:", "devnode --version / watchfiles --version:",
                   "devnode --help / watchfiles --version:", "devnode run ready / import watchfiles, rich:"):
        assert figure in proc.stdout, proc.stdout
