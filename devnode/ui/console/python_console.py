"""The ``c`` key's Python console, one per node, and what it must let go of before a leak check."""

from __future__ import annotations

import asyncio
import sys
import types
from typing import TYPE_CHECKING

from devnode.ui.console.debugger import Stage
from devnode.ui.console.prompt import on_thread
from devnode.ui.console.repl import NodeConsole, interact, namespace

if TYPE_CHECKING:
    from devnode.runtime import Runtime


class PythonConsole:
    """The Python console on the live node (made when first opened: what was defined stays defined)."""

    def __init__(self, runtime: Runtime, loop: asyncio.AbstractEventLoop) -> None:
        self.runtime = runtime
        self.loop = loop
        self.repl: NodeConsole | None = None
        runtime.host.own_references().release.append(self.release_own_references)

    def get(self) -> NodeConsole:
        if self.repl is None:
            self.repl = NodeConsole(namespace(self.runtime), self.loop)
            # What the author keeps in the console is theirs to drop: the leak check names it, not the plugin.
            self.runtime.host.own_references().namespaces.append((self.repl.locals, "the devnode console"))
        return self.repl

    async def run(self, stage: Stage) -> None:
        """Until Ctrl-D or exit(), on a thread; the console had stepped aside for it and comes back after."""
        repl = self.get()
        try:
            await on_thread(self.loop, lambda: interact(repl))
        finally:
            stage.come_back()

    def interrupt(self) -> bool:
        """Ctrl-C while it is open: as in any Python console, it stops the code running there, not the node."""
        if self.repl is None:
            return False
        if not self.repl.interrupt():
            self.repl.write("\nKeyboardInterrupt (Ctrl-D or exit() returns to the dashboard)\n")
        return True

    def release_own_references(self) -> None:
        """Before a leak check: the console's ``_`` and last error keep no retired plugin version alive."""
        if self.repl is None:
            return
        import builtins

        if refers_to_plugin_code(builtins.__dict__.get("_")):
            builtins._ = None  # type: ignore[attr-defined]
        for name in ("last_type", "last_value", "last_traceback", "last_exc"):
            if getattr(sys, name, None) is not None:
                setattr(sys, name, None)


def refers_to_plugin_code(value: object, depth: int = 1) -> bool:
    """Whether ``value`` is (or, one level down, contains) something from a plugin module."""
    from devnode.host.naming import PACKAGE

    def from_plugin(v: object) -> bool:
        module = getattr(v, "__module__", None) if isinstance(v, (type, types.FunctionType, types.MethodType)) \
            else getattr(type(v), "__module__", None)
        if isinstance(v, types.ModuleType):
            module = v.__name__
        return isinstance(module, str) and (module == PACKAGE or module.startswith(PACKAGE + "."))

    if value is None:
        return False
    if from_plugin(value):
        return True
    if depth and isinstance(value, (list, tuple, set, frozenset, dict)):
        items = list(value.values() if isinstance(value, dict) else value)[:100]
        return any(refers_to_plugin_code(item, depth - 1) for item in items)
    return False
