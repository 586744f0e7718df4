"""scripts/bench_console.py keeps working: a short idle window prints every UI against a bare awatch process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

pytest.importorskip("ptyprocess")


def test_bench_console_prints_idle_wakeups_against_bare_awatch() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_console.py"), "--idle-seconds", "0.5", "--events", "0"],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    assert "bare awatch(step=10) process:" in proc.stdout
    for ui in ("rich", "plain", "json"):
        assert f"devnode run --ui {ui}" in proc.stdout
    assert "x the bare awatch" in proc.stdout
