"""``devnode run --debug-adapter [HOST:]PORT``: VS Code (or any DAP client) attaches to the live node.

debugpy runs the Debug Adapter Protocol server inside the node (in-process: no
adapter subprocess to start or leave behind). Breakpoints are by file and line,
and devnode compiles each plugin version from its real path, so a breakpoint
keeps stopping in the new code after a reload. While the editor holds a thread
at a breakpoint that time is recorded in ``devnode.paused`` (handler timings and
the stall watchdog leave it out) and reported (``debugger.stopped``), so the
console can say the editor has the node instead of looking frozen. Nothing
listens unless asked, and only on loopback unless a host is given.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from devnode.codes import WarningCode
from devnode.host.diagnostics import display_path
from devnode.host.naming import PACKAGE
from devnode.paused import CLOCK

if TYPE_CHECKING:
    from devnode.records import PluginPlace
    from devnode.runtime import Runtime

DEFAULT_HOST = "127.0.0.1"
POLL = 0.25  # how often the attach state is looked at (seconds)


class EndpointError(ValueError):
    """A ``--debug-adapter`` value that is not ``[HOST:]PORT``."""


def parse_endpoint(text: str) -> tuple[str, int]:
    """``5678`` -> (127.0.0.1, 5678); ``HOST:5678`` and ``[::1]:5678`` name the host explicitly."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host = DEFAULT_HOST
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if sep and not host:
        raise EndpointError(f'"{text}": the host before ":" is empty; give PORT alone for {DEFAULT_HOST}, or HOST:PORT')
    try:
        port = int(port_text)
    except ValueError:
        raise EndpointError(f'"{text}" is not [HOST:]PORT (e.g. 5678 or 127.0.0.1:5678)') from None
    if not 0 <= port <= 65535:
        raise EndpointError(f'"{text}": the port must be between 0 and 65535 (0 picks a free one)')
    return host, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class DebugAdapter:
    """One debugpy server for the node: listen, hold start-up for a client, report attach and stops."""

    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port
        self.attached = False
        self._debugpy: Any = None
        self._pydb: Any = None
        self._original_wait: Callable[..., Any] | None = None
        self._original_hook: Callable[..., Any] | None = None
        self._hook: Callable[..., Any] = self._breakpoint  # one bound method, so it can be recognised later
        self._loop_thread = threading.get_ident()

    def start(self) -> None:
        # pydevd warns (on stderr) that frozen stdlib modules may miss breakpoints: true, and beside the
        # point for plugins, which devnode always compiles from source.
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        import debugpy

        self._debugpy = debugpy
        endpoint = debugpy.listen((self.host, self.port), in_process_debug_adapter=True)
        if endpoint is not None:  # older debugpy returned None from an in-process listen
            self.host, self.port = endpoint
        self._watch_stops()
        self._route_breakpoints()
        reporter = self.runtime.reporter
        reporter.emit("debugger.listening", host=self.host, port=self.port)
        if not is_loopback(self.host):
            reporter.emit(
                "warning", code=WarningCode.DEBUG_ADAPTER_EXPOSED, plugin=None,
                message=f"the debug adapter listens on {self.host}:{self.port}, reachable from other machines; "
                "whoever connects can run any code in this node. Leave the host out to listen on loopback only",
            )

    async def wait_for_client(self, stop: asyncio.Event) -> None:
        """``--wait-for-client``: hold start-up until an editor has attached (and sent its breakpoints)."""
        self.runtime.reporter.emit("debugger.waiting", host=self.host, port=self.port)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def wait() -> None:
            try:
                self._debugpy.wait_for_client()
            finally:
                try:
                    loop.call_soon_threadsafe(settle)
                except RuntimeError:
                    pass  # the loop closed meanwhile

        threading.Thread(target=wait, name="devnode-debug-wait", daemon=True).start()
        stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([done, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not done.done():
                self._debugpy.wait_for_client.cancel()
        self._check_attached()

    async def watch(self) -> None:
        """Report the editor attaching and leaving (debugpy has no callback for it)."""
        while True:
            self._check_attached()
            await asyncio.sleep(POLL)

    def stop(self) -> None:
        if self._pydb is not None and self._original_wait is not None:
            try:
                del self._pydb.do_wait_suspend  # the class's own method again
            except AttributeError:
                pass
        if self._original_hook is not None and sys.breakpointhook is self._hook:
            sys.breakpointhook = self._original_hook

    # -- internals ------------------------------------------------------------------
    def _check_attached(self) -> None:
        attached = bool(self._debugpy.is_client_connected())
        if attached != self.attached:
            self.attached = attached
            self.runtime.reporter.emit("debugger.attached" if attached else "debugger.detached",
                                       host=self.host, port=self.port)

    def _watch_stops(self) -> bool:
        """Wrap pydevd's wait-while-suspended, the one place every stop (breakpoint, step, pause) goes through."""
        pydevd = sys.modules.get("pydevd")  # debugpy's vendored copy (or PyCharm's), there once a debugger runs
        pydb = pydevd.get_global_debugger() if pydevd is not None else None
        if pydb is None:
            return False
        original = getattr(pydb, "do_wait_suspend", None)
        if original is None:
            return False
        self._pydb, self._original_wait = pydb, original
        adapter = self

        def do_wait_suspend(thread: Any, frame: FrameType, *args: Any, **kwargs: Any) -> Any:
            ident = getattr(thread, "ident", None) or threading.get_ident()
            where = adapter._plugin_place(frame)
            CLOCK.stopped(ident)
            if where is not None:
                adapter.runtime.reporter.emit("debugger.stopped", on_loop=ident == adapter._loop_thread, **where)
            try:
                return original(thread, frame, *args, **kwargs)
            finally:
                CLOCK.resumed(ident)
                if where is not None:
                    adapter.runtime.reporter.emit("debugger.resumed", on_loop=ident == adapter._loop_thread, **where)

        pydb.do_wait_suspend = do_wait_suspend
        return True

    def _plugin_place(self, frame: FrameType | None) -> PluginPlace | None:
        """Plugin, file and line of the innermost plugin frame, or None outside plugin code."""
        while frame is not None:
            name = frame.f_globals.get("__name__", "")
            if isinstance(name, str) and name.startswith(PACKAGE + "."):
                plugin_dir = self.runtime.host.plugin_dir if hasattr(self.runtime, "host") else None
                file = frame.f_code.co_filename
                return {"plugin": name.split(".")[1], "file": display_path(file, plugin_dir) if plugin_dir else file,
                        "line": frame.f_lineno}
            frame = frame.f_back
        return None

    def _route_breakpoints(self) -> None:
        """``breakpoint()`` stops in the editor while one is attached (pdb in the terminal otherwise)."""
        self._original_hook = sys.breakpointhook
        sys.breakpointhook = self._hook

    def _breakpoint(self, *args: Any, **kwargs: Any) -> Any:
        if self._debugpy is not None and self._debugpy.is_client_connected():
            caller = sys._getframe().f_back
            try:
                from debugpy.server.api import _settrace  # stop at the caller, not in this hook

                settrace: Any = _settrace
                settrace(suspend=True, trace_only_current_thread=True, patch_multiprocessing=False, stop_at_frame=caller)
            except ImportError:
                self._debugpy.breakpoint()
            finally:
                caller = None
            return None
        assert self._original_hook is not None
        return self._original_hook(*args, **kwargs)


def follow_running_debugger(runtime: Runtime) -> DebugAdapter | None:
    """devnode started under an IDE's debugger (PyCharm's Debug button): account for its stops too."""
    if "pydevd" not in sys.modules:
        return None
    adapter = DebugAdapter(runtime, "", 0)
    return adapter if adapter._watch_stops() else None


async def start_debug_adapter(runtime: Runtime, endpoint: str, wait: bool) -> DebugAdapter:
    """Start listening (and with ``wait``, hold until a client attached); the watch task runs until stop."""
    host, port = parse_endpoint(endpoint)
    adapter = DebugAdapter(runtime, host, port)
    adapter.start()
    if wait:
        await adapter.wait_for_client(runtime.stop_event)
    runtime.start_task(adapter.watch(), "devnode-debug-adapter")
    return adapter
