"""scripts/bench_reload.py keeps working: a tiny run prints every figure with its baseline and goal."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_bench_reload_prints_every_figure() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_reload.py"), "--saves", "2", "--among", "20", "--reloads", "51",
         "--uis", "json", "--work-reloads", "5", "--ledger-reloads", "5"],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    for figure in ("devnode run (in-process reload)", "watchfiles CLI restarting devnode", "speed-up:",
                   "among 20 ", "ratio", "subscriptions 2 -> 2", "--ui json   after 50 reloads"):
        assert figure in proc.stdout, proc.stdout
