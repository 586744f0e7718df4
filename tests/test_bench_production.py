"""scripts/bench_production.py keeps working: a tiny run prints each node's ready figures (wall and CPU) and both goals."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT, production_unavailable


@pytest.mark.skipif(production_unavailable() is not None, reason=str(production_unavailable()))
def test_bench_production_prints_ready_and_reload_figures_with_their_goals() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_production.py"), "--starts", "1", "--reloads", "1",
         "--second-start", "--no-bytecode"],  # no cold bytecode cache to fill: quicker
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    ready = re.findall(r"^  (standin|production) +median +([\d.]+) s .* CPU median +([\d.]+) s", proc.stdout, re.M)
    assert [kind for kind, _, _ in ready] == ["standin", "production"] * 2, proc.stdout  # first and second starts
    assert all(float(wall) > 0 and float(cpu) > 0 for _, wall, cpu in ready), proc.stdout
    assert re.search(r"goal: production under 3 s: (met|NOT met)$", proc.stdout, re.M), proc.stdout
    assert re.search(r"reload, total per reload command \(5 reloads each\)", proc.stdout), proc.stdout
    assert re.search(r"goal: within 1\.2x: (met|NOT met)$", proc.stdout, re.M), proc.stdout
