"""Commands from stdin to the loop, fairly: a flood cannot starve the loop, a stuck command cannot block the rest.

A thread reads lines from a private duplicate of the input (a plugin closing
``sys.stdin`` or fd 0 does not cut the node off) into a bounded queue: when the
loop falls behind, the reader waits, and the pipe pushes back on the writer.
The loop side runs one command at a time, in order, yielding to the loop
between commands (so the watchdog's heartbeat, the watcher and events run),
and stops waiting for a command that is still busy in plugin code after the
deadline: it is reported and left to finish in the background, and the next
command (``quit`` included) runs.
"""

from __future__ import annotations

import asyncio
import io
import os
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import IO, Any

from devnode.reporting import Reporter

QUEUE_LINES = 1024  # commands read ahead of the loop; beyond that the reader waits


def private_stream(stream: IO[str]) -> IO[str]:
    """A reader of the same input that plugin code cannot close (a dup of its fd), or ``stream`` itself."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return stream  # not a real file (tests pass StringIO)
    try:
        return os.fdopen(os.dup(fd), "r", encoding=getattr(stream, "encoding", None) or "utf-8",
                         errors="replace", closefd=True)
    except OSError:
        return stream


class CommandFeed:
    """Reads command lines on a thread and runs them on the loop with ``run_command``."""

    def __init__(
        self,
        stream: IO[str],
        run_command: Callable[[str], Coroutine[Any, Any, None]],
        reporter: Reporter,
        deadline: float,
    ) -> None:
        self.stream = stream
        self.run_command = run_command
        self.reporter = reporter
        self.deadline = deadline
        self.lines: queue.Queue[str | None] = queue.Queue(QUEUE_LINES)
        self.executed = 0
        self._wake = asyncio.Event()
        self._signalled = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = threading.Event()
        self.background: set[asyncio.Task[None]] = set()

    def start(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[None]:
        self._loop = loop
        threading.Thread(target=self._read, name="devnode-stdin", daemon=True).start()
        return loop.create_task(self._consume(), name="devnode-commands")

    def stop(self) -> None:
        self._stopped.set()
        for task in self.background:
            task.cancel()

    # -- the reading thread -------------------------------------------------------------
    def _read(self) -> None:
        try:
            for line in self.stream:
                if not self._put(line):
                    return
        except (OSError, ValueError):
            pass
        self._put(None)

    def _put(self, line: str | None) -> bool:
        while not self._stopped.is_set():
            try:
                self.lines.put(line, timeout=0.2)  # waits while the loop is behind: back-pressure
                break
            except queue.Full:
                continue
        else:
            return False
        if not self._signalled.is_set():
            self._signalled.set()
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop is closed: the node is gone
                return False
        return True

    # -- the loop side ---------------------------------------------------------------------
    async def _consume(self) -> None:
        while True:
            await self._wake.wait()
            # Cleared before draining, so a line put meanwhile signals again.
            self._wake.clear()
            self._signalled.clear()
            while True:
                try:
                    line = self.lines.get_nowait()
                except queue.Empty:
                    break
                if line is None:
                    return  # end of input stops reading, not the node
                await self._run_one(line)
                await asyncio.sleep(0)  # one command at a time, the loop's other work in between

    async def _run_one(self, line: str) -> None:
        self.executed += 1
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(self.run_command(line), name="devnode-command")
        done, _ = await asyncio.wait({task}, timeout=self.deadline)
        if done:
            task.result()
            return
        # Still inside plugin code: the command's own deadlines will end it; the next commands go on now.
        self.background.add(task)
        task.add_done_callback(self._finished)
        self.reporter.emit(
            "command.error", command=line.strip(),
            error=f"still waiting on plugin code after {self.deadline:g} s (see --timeout); devnode runs the next "
            "commands meanwhile and reports this one's outcome when it ends",
        )

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.reporter.emit("command.error", command="(background)", error=str(task.exception()))
