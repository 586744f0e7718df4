"""Run a child process for exactly as long as the process that started this one lives.

Started as ``python -I -S lifeline.py PROGRAM ARGS...`` with a pipe on stdin.
When the pipe reaches end of file (the parent closed it, exited, crashed or was
killed with SIGKILL) the child gets SIGTERM (anvil writes its state file then)
and, if it lingers, SIGKILL. When the child exits on its own, so does this.
Standard library only: it runs in an isolated interpreter (fast start, no site).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

GRACE_SECONDS = 10.0


def main(argv: list[str]) -> int:
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)

    def parent_gone(*_: object) -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        os._exit(0)

    signal.signal(signal.SIGTERM, parent_gone)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, via the pipe

    def watch_pipe() -> None:
        try:
            while sys.stdin.buffer.read(1024):
                pass
        except OSError:
            pass
        parent_gone()

    threading.Thread(target=watch_pipe, daemon=True).start()
    code = child.wait()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
