"""Capture a real ``devnode run --ui rich`` session as docs/console.svg (for the README).

Usage: .venv/bin/python scripts/capture_console.py [--out docs/console.svg]

Runs devnode on a copy of the bundled plugins inside a tmux window (100x50),
drives it with keys as an author would (share data, a burst from the Python
console, a save that reloads, a save with the plugin guide's missing-import
mistake), then takes the screen with ``tmux capture-pane -e`` and has rich turn
those exact cells and colours into SVG. Needs tmux.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parent.parent
SESSION = "devnode-capture"
WIDTH, HEIGHT = 100, 50


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def screen(ansi: bool = False) -> str:
    return tmux("capture-pane", "-t", SESSION, "-p", *(["-e"] if ansi else []))


def wait_for(text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in screen():
        if time.monotonic() > deadline:
            raise SystemExit(f"capture_console: gave up waiting for {text!r}; the screen was:\n{screen()}")
        time.sleep(0.1)


def keys(*sequence: str) -> None:
    tmux("send-keys", "-t", SESSION, *sequence)


def save(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp~")
    tmp.write_text(text)
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console.svg")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("capture_console: tmux is needed (apt-get install tmux)", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="devnode-capture-") as tmp:
        work = Path(tmp)
        plugins = work / "plugins"
        shutil.copytree(ROOT / "plugins", plugins, ignore=shutil.ignore_patterns("__pycache__"))
        example = plugins / "example_plugin.py"
        original = example.read_text()
        command = (f"cd {work} && env TERM=xterm-256color COLORTERM=truecolor "
                   f"{sys.executable} -m devnode run plugins --data-dir data --ui rich --debounce 200")
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        tmux("new-session", "-d", "-s", SESSION, "-x", str(WIDTH), "-y", str(HEIGHT), command)
        try:
            wait_for("node node1 ready")
            wait_for(" quit")
            keys(":")
            time.sleep(0.3)
            keys('share peer1 {"report": 42}', "Enter")
            wait_for("ok: share")
            keys("c")
            wait_for(">>>")
            keys("for i in range(400): _ = await bus.publish(Event(EventType.DATA_VERIFIED, {'n': i}))", "Enter")
            keys("", "Enter")
            time.sleep(1.5)
            keys("C-d")
            wait_for("data.verified ×")
            save(example, original.replace('self.version = "1.0.0"', 'self.version = "1.0.1"'))
            wait_for("reloaded example_plugin 1.0.1")
            broken = original.replace('self.version = "1.0.0"', 'self.version = "1.0.2"')
            save(example, broken.replace("from dashboard.event_bus import EventType\n", ""))
            wait_for("failed in initialize")
            time.sleep(0.5)
            captured = screen(ansi=True)
            keys("q")
            time.sleep(1.0)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)

    console = Console(record=True, width=WIDTH, force_terminal=True, color_system="truecolor", file=io.StringIO())
    for line in captured.rstrip("\n").split("\n"):
        console.print(Text.from_ansi(line), no_wrap=True, overflow="crop")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(console.export_svg(title="devnode run plugins"))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
