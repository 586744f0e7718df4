"""The Python console on the live node: input is read on a thread, code runs on the node's loop.

So the node keeps running (events flow, saved files reload) while the author
types, and ``await node.share_data(...)`` works at the prompt, as in
``python -m asyncio``.
"""

from __future__ import annotations

import ast
import asyncio
import code
import concurrent.futures
import inspect
import traceback
import types
from collections.abc import Iterator, Mapping
from typing import Any

from devnode.ui.console.prompt import LineHistory, read_line

try:
    import rlcompleter
except ImportError:  # pragma: no cover
    rlcompleter = None  # type: ignore[assignment]

BANNER = (
    "Python console on the live node: node, bus, plugins, host, Event, EventType; `await` works.\n"
    "Ctrl-D or exit() returns to the dashboard; the node keeps running meanwhile."
)


class LivePlugins(Mapping[str, Any]):
    """``plugins``: name -> the instance serving right now (follows reloads)."""

    def __init__(self, host: Any) -> None:
        self._host = host

    def __getitem__(self, name: str) -> Any:
        return self._host.plugins[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._host.plugins)

    def __len__(self) -> int:
        return len(self._host.plugins)

    def __repr__(self) -> str:
        return repr(self._host.plugins)


class _Leave:
    """``exit()`` / ``quit()`` in the console: back to the dashboard (the builtin would close stdin)."""

    def __repr__(self) -> str:
        return "Use exit() or Ctrl-D to return to the dashboard"

    def __call__(self, code: Any = None) -> None:
        raise SystemExit(code)


class NodeConsole(code.InteractiveConsole):
    """An interactive console whose code runs on ``loop``; top-level ``await`` allowed."""

    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(namespace, filename="<devnode console>")
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self.loop = loop
        self.history = LineHistory()
        self.running: concurrent.futures.Future[Any] | None = None
        self._completer = rlcompleter.Completer(namespace).complete if rlcompleter else None

    def raw_input(self, prompt: str = "") -> str:
        line = read_line(prompt, self.history, self._completer)
        if line is None:
            raise EOFError
        return line

    def runcode(self, code: types.CodeType) -> None:
        future = asyncio.run_coroutine_threadsafe(self._execute(code), self.loop)
        self.running = future
        try:
            error = future.result()
        except concurrent.futures.CancelledError:
            self.write("KeyboardInterrupt\n")
            return
        finally:
            self.running = None
        if isinstance(error, SystemExit):
            raise error
        if error is not None:
            # Show the author's frames only: skip this console's own wrapper frame.
            tb = error.__traceback__.tb_next if error.__traceback__ is not None else None
            self.write("".join(traceback.format_exception(type(error), error, tb)))

    async def _execute(self, code: types.CodeType) -> BaseException | None:
        """Run one input on the loop; exceptions are handed back, never left to escape into the loop."""
        try:
            result = types.FunctionType(code, self.locals)()
            if inspect.iscoroutine(result):
                await result
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # SystemExit/KeyboardInterrupt would stop the node's loop
            return exc
        return None

    def interrupt(self) -> bool:
        """Ctrl-C: cancel the code running on the loop, if any."""
        running = self.running
        if running is None or running.done():
            return False
        running.cancel()
        return True


def namespace(runtime: Any) -> dict[str, Any]:
    """What the console starts with: the live node and the names a plugin author reaches for."""
    from devnode.bus import Event, EventType

    node = runtime.node
    leave = _Leave()
    return {
        "__name__": "__console__",
        "__builtins__": __builtins__,
        "asyncio": asyncio,
        "runtime": runtime,
        "node": node,
        "bus": node.event_bus,
        "host": runtime.host,
        "plugins": LivePlugins(runtime.host),
        "Event": Event,
        "EventType": EventType,
        "exit": leave,
        "quit": leave,
    }


def interact(console: NodeConsole) -> None:
    """Run the console until Ctrl-D or exit() (on the calling thread, never the loop's)."""
    try:
        console.interact(banner=BANNER, exitmsg="")
    except SystemExit:
        pass
