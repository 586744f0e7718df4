"""How fast the footer follows a terminal resize (goal: redrawn within 100 ms of SIGWINCH).

Usage: .venv/bin/python scripts/bench_resize.py [--rounds 10]

A real ``devnode run --ui rich`` on a pseudo-terminal with the bundled plugins.
Each round resizes the pty (the kernel sends SIGWINCH) alternately to 80 and
100 columns and times until the footer's rule at the new width has arrived.
The baseline, measured in the same run: pressing ``s`` until the status table
is printed (with the footer redrawn under it), i.e. the console's own
key-to-screen time. Medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="devnode-bench-resize-"))
    try:
        shutil.copytree(ROOT / "plugins", work / "plugins")
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
        env["TERM"] = "xterm-256color"
        child = pexpect.spawn(sys.executable, ["-m", "devnode", "run", str(work / "plugins"), "--data-dir",
                                               str(work / "data"), "--ui", "rich"],
                              dimensions=(40, 100), env=env, cwd=str(work), encoding="utf-8",
                              codec_errors="replace", timeout=60)
        child.expect("node node1 ready")
        child.expect(r"q(?:\s|\x1b\[[0-9;?]*[A-Za-z])+quit")
        resize: list[float] = []
        keys: list[float] = []
        for index in range(args.rounds):
            width = 80 if index % 2 == 0 else 100
            started = time.perf_counter()
            child.setwinsize(40, width)
            child.expect(r"(?<!─)─{%d}(?!─)" % width)
            resize.append(time.perf_counter() - started)
            started = time.perf_counter()
            child.send("s")
            child.expect(r"plugin\(s\) · \d+ subscriptions")
            keys.append(time.perf_counter() - started)
        child.send("q")
        child.expect(pexpect.EOF)
        redraw, key = statistics.median(resize) * 1000, statistics.median(keys) * 1000
        print(f"resize -> footer redrawn: median {redraw:.1f} ms, max {max(resize) * 1000:.1f} ms "
              f"over {args.rounds} resizes (goal: under 100 ms)")
        print(f"baseline, key s -> status printed: median {key:.1f} ms")
        print(f"ratio resize/key: {redraw / key:.2f}")
        return 0 if redraw < 100 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
