"""scripts/bench_bus.py keeps working: a tiny run on the real path prints both rates and the ratio, per handler set and clock."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_bench_bus_prints_rates_and_ratio() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_bus.py"), "--events", "200", "--rounds", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "EventBus.publish :" in proc.stdout and "bare loop        :" in proc.stdout
    assert proc.stdout.count("ratio bus/bare   :") == 4 and "1.5x goal" in proc.stdout  # 2 sets x 2 clocks
    assert "wall clock:" in proc.stdout and "CPU time of the loop's thread:" in proc.stdout
    assert "bundled handlers" in proc.stdout and "light handlers" in proc.stdout  # the real path, both sets
