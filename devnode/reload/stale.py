"""Your own modules outside the watch scope: a reload keeps their old code, so say so when one changed.

At ``node.ready`` devnode notes the modification time of every loaded module that is
the author's code (not the standard library, not an installed package, not devnode,
not in the plugin dir or a ``--watch`` path). When a plugin that imports one of them
reloads and the file has changed since, the reload ran with the old module still in
``sys.modules``: a warning names it, with the ``--watch`` that would have picked it
up, and offers a restart.
"""

from __future__ import annotations

import asyncio
import os
import site
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

from devnode.codes import WarningCode
from devnode.reload.external import OutsideModules
from devnode.reporting import Record

if TYPE_CHECKING:
    from devnode.runtime import Runtime


def _library_roots() -> list[str]:
    """Where installed code lives: the interpreter's prefixes, site-packages, devnode itself."""
    paths = sysconfig.get_paths()  # expanded anew on every call: once
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *(paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib"))}
    try:
        roots.update(site.getsitepackages())
        roots.add(site.getusersitepackages())
    except AttributeError:  # a virtualenv's old site module
        pass
    roots.add(str(Path(__file__).resolve().parent.parent))
    return sorted({os.path.realpath(r) + os.sep for r in roots if r})


class OutsideScopeCheck:
    """Warns when a reloaded plugin uses an own module that changed outside the watch scope."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.excluded = _library_roots()
        self.seen: dict[str, float] = {}  # file -> mtime when noted
        self.warned: set[tuple[str, float]] = set()
        self._real_dirs: dict[str, str] = {}  # directory -> its realpath, for one pass over the modules

    def attach(self) -> None:
        # Before the sinks: once a UI has shown node.ready, the author may already be saving.
        self.runtime.reporter.enrichers.append(self._before_record)
        self.runtime.reporter.add_sink(self._on_record)

    def _before_record(self, record: Record) -> None:
        if record["kind"] == "node.ready":
            self.snapshot()

    def _own_file(self, module: object) -> str | None:
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            return None
        real = self._realpath(file)
        if any(real.startswith(root) for root in self.excluded):
            return None
        scope = self.runtime.reloader.scope if self.runtime.reloader is not None else None
        if scope is not None and scope.kind(Path(real)) is not None:
            return None  # the plugin dir and --watch paths are reloaded already
        return real

    def _realpath(self, file: str) -> str:
        """``os.path.realpath(file)``, each directory resolved once a pass (300 modules share a few dozen).

        A file that is itself a symlink is resolved whole, so the result is realpath's.
        """
        head, tail = os.path.split(file)
        if tail in ("", ".", "..") or os.path.islink(file):
            return os.path.realpath(file)
        real_dir = self._real_dirs.get(head)
        if real_dir is None:
            real_dir = self._real_dirs[head] = os.path.realpath(head)
        return os.path.join(real_dir, tail)

    def snapshot(self) -> None:
        self._real_dirs.clear()
        for module in list(sys.modules.values()):
            file = self._own_file(module)
            if file is not None and file not in self.seen:
                self.seen[file] = _mtime(file)

    def _on_record(self, record: Record) -> None:
        if record["kind"] == "plugin.reloaded" and self.seen:
            # Off the reload's path: the plugin serves first, the check reads files after.
            asyncio.get_running_loop().call_soon(self.check, record["plugin"])

    def check(self, plugin: str) -> None:
        host = self.runtime.host
        if plugin not in host.known():
            return
        modules = OutsideModules(host.plugin_dir, host.modules(), [])
        self._real_dirs.clear()
        for name in sorted(modules.closure(plugin)):
            module = sys.modules.get(name)
            file = self._own_file(module) if module is not None else None
            if file is None or file not in self.seen:
                continue
            now = _mtime(file)
            if now == self.seen[file] or (file, now) in self.warned:
                continue
            self.warned.add((file, now))
            self.runtime.reporter.emit(
                "warning", code=WarningCode.OUTSIDE_SCOPE_CHANGED, plugin=plugin, file=file,
                message=f"{plugin} imports {name} ({file}), which changed on disk, but it is outside the watch scope, "
                        f"so the reload kept its old code. Watch it with --watch {Path(file).parent}",
            )


def _mtime(file: str) -> float:
    try:
        return os.stat(file).st_mtime
    except OSError:
        return -1.0
