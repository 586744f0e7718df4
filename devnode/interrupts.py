"""Ctrl-C and SIGTERM for a running node: the first shuts it down cleanly, a second exits at once.

The one policy every UI shares. A UI may take a Ctrl-C for itself first (the
rich console: a prompt is cancelled, code in the Python console is stopped),
show the "shutting down" notice its own way, and put the terminal back before
a forced exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable

NOTICE = "shutting down (Ctrl-C again to force)"
FORCED = b"devnode: interrupted twice, exiting without shutting plugins down\n"
FORCED_EXIT_CODE = 130  # as a shell reports a process ended by SIGINT


def _to_stderr(notice: str) -> None:
    sys.stderr.write(f"devnode: {notice}\n")


class Interrupts:
    """Counts interrupts: the first asks the node to stop, the second ends the process without waiting."""

    def __init__(self, request_stop: Callable[[str], None]) -> None:
        self.request_stop = request_stop
        self.count = 0
        # Set by a UI: True when it took this Ctrl-C itself (only SIGINT is offered; SIGTERM always stops).
        self.claim: Callable[[], bool] | None = None
        self.announce: Callable[[str], None] = _to_stderr
        self.before_forced_exit: Callable[[], None] | None = None  # e.g. put the terminal back in cooked mode

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Handle SIGINT and SIGTERM on ``loop`` (only the main thread can; elsewhere nothing changes)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, from_keyboard in ((signal.SIGINT, True), (signal.SIGTERM, False)):
            try:
                loop.add_signal_handler(sig, self.interrupted, from_keyboard)
            except (NotImplementedError, RuntimeError):
                pass

    def interrupted(self, from_keyboard: bool = True) -> None:
        if from_keyboard and self.claim is not None and self.claim():
            return
        self.count += 1
        if self.count > 1:
            if self.before_forced_exit is not None:
                self.before_forced_exit()
            os.write(2, FORCED)
            os._exit(FORCED_EXIT_CODE)
        self.announce(NOTICE)
        self.request_stop("interrupted")
