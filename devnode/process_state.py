"""What plugin code changed in the process that no call can be caught for: compared around each phase.

``process_ownership`` wraps the calls that change the process (``os.chdir``,
``signal.signal``, ...). Other state is plain data a plugin assigns to or
mutates directly (``sys.path``, ``sys.modules``, ``os.environ``, ``node.config``,
``sys.excepthook``, the loop's exception handler, the warnings filters, ...).
A ``StateSnapshot`` is taken before a plugin's import, start and shutdown, and
compared after: each difference becomes a ``ProcessChange`` in its ledger
(undone at unload), and what devnode itself relies on (its ``plugins`` package,
the loop's task factory) is put back at once.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devnode import safe
from devnode.module_table import ModuleTable
from devnode.process_ownership import ProcessChange

if TYPE_CHECKING:
    from devnode.ownership import Ledger

PROTECTED_MODULES = ("plugins", "dashboard", "dashboard.event_bus", "datamgmtnode",
                     "datamgmtnode.services", "datamgmtnode.services.plugin_manager")


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _loop() -> asyncio.AbstractEventLoop | None:
    # No exception raised and caught when there is none: this runs several times per plugin phase.
    return asyncio._get_running_loop()


def _set_task_factory(factory: Any) -> None:
    loop = _loop()
    if loop is not None:
        loop.set_task_factory(factory)


def _set_exception_handler(handler: Any) -> None:
    loop = _loop()
    if loop is not None:
        loop.set_exception_handler(handler)


def _set_gc(enabled: bool) -> None:
    gc.enable() if enabled else gc.disable()


# Process-wide settings a plugin can change with one call, as (name, read, write, devnode relies on it now).
# Those devnode relies on are put back at once (the task factory is how it knows who owns a task);
# the others at unload.
PROCESS_SETTINGS: tuple[tuple[str, Callable[[], Any], Callable[[Any], Any], bool], ...] = (
    ("the loop's task factory", lambda: _loop() and _loop().get_task_factory(), _set_task_factory, True),  # type: ignore[union-attr]
    ("the loop's exception handler", lambda: _loop() and _loop().get_exception_handler(),  # type: ignore[union-attr]
     _set_exception_handler, False),
    ("sys.excepthook", lambda: sys.excepthook, lambda v: setattr(sys, "excepthook", v), False),
    ("sys.unraisablehook", lambda: sys.unraisablehook, lambda v: setattr(sys, "unraisablehook", v), False),
    ("threading.excepthook", lambda: threading.excepthook, lambda v: setattr(threading, "excepthook", v), False),
    ("sys.stderr", lambda: sys.stderr, lambda v: setattr(sys, "stderr", v), False),
    ("the recursion limit", sys.getrecursionlimit, sys.setrecursionlimit, False),
    ("the thread switch interval", sys.getswitchinterval, sys.setswitchinterval, False),
    ("the garbage collector switch", gc.isenabled, _set_gc, False),
    ("the file creation mask (os.umask)", _umask, os.umask, False),
    ("the trace function (sys.settrace)", sys.gettrace, sys.settrace, False),
    ("the profile function (sys.setprofile)", sys.getprofile, sys.setprofile, False),
)


def read_settings() -> list[Any]:
    """``[read() for _, read, _, _ in PROCESS_SETTINGS]``, with one look-up of the running loop for all of them.

    Taken twice per plugin phase: the loop look-ups (a getpid() each) were most of the snapshot's cost.
    tests/test_cost.py checks it against the table, entry by entry.
    """
    loop = _loop()
    return [
        loop and loop.get_task_factory(),
        loop and loop.get_exception_handler(),
        sys.excepthook,
        sys.unraisablehook,
        threading.excepthook,
        sys.stderr,
        sys.getrecursionlimit(),
        sys.getswitchinterval(),
        gc.isenabled(),
        _umask(),
        sys.gettrace(),
        sys.getprofile(),
    ]


class StateSnapshot:
    """``sys.path``, devnode's ``sys.modules`` entries and ``node.config``, before a plugin's code runs.

    ``record_changes`` (after it ran) turns every difference into a ProcessChange
    in the plugin's ledger; a replaced module devnode relies on is put back at once,
    since later imports would fail on it.
    """

    def __init__(self, node: Any, plugin_modules: bool = False) -> None:
        self.node = node
        self.path = list(sys.path)
        self.modules = {name: sys.modules.get(name) for name in PROTECTED_MODULES}
        # Outside an import, the loaded plugins' and helpers' entries are devnode's too. A copy of the
        # whole table (one C-level pass), looked into only if the table changed (module_table): picking
        # the "plugins." names out here, per phase of every plugin, made start-up quadratic in plugins.
        self.all_modules = ModuleTable() if plugin_modules else None
        self.config_object = safe.attribute(node, "config")
        self.config = _config_values(node)
        self.environ = _environ()
        self.warning_filters = list(warnings.filters)
        self.settings = read_settings()

    def record_changes(self, ledger: Ledger, file: str | None) -> list[str]:
        """Record what changed into ``ledger``; returns what was repaired at once (to report now)."""
        repaired: list[str] = []
        if sys.path != self.path:
            self._path_changes(ledger, file)
        for name, module in self._devnode_modules():
            current = sys.modules.get(name)
            if current is not module and module is not None:
                sys.modules[name] = module
                repaired.append(f"sys.modules[{name!r}] (replaced by {safe.representation(current)[:80]})")
        settings = read_settings()
        unchanged = _equal(settings, self.settings)  # the usual case, in one comparison
        for (what, read, write, now), old, new in zip(PROCESS_SETTINGS, self.settings, settings):
            if unchanged or new is old or safe.same(new, old):
                continue
            if now:
                write(old)
                repaired.append(f"{what} (devnode relies on it; it was put back)")
                continue
            ledger.changes.append(ProcessChange(f"{what} = {safe.representation(new)[:60]}", file,
                                                _restore_setting(read, write, old, new), "process"))
        environ = _environ()
        changed = () if environ == self.environ else (
            set(self.environ) ^ set(environ) | {k for k, v in environ.items() if self.environ.get(k, v) != v})
        for key in changed:
            old, new = _decoded(self.environ.get(key)), _decoded(environ.get(key))
            key = _decoded(key) or ""
            if old != new:
                ledger.changes.append(ProcessChange(
                    f"os.environ[{key!r}] = {new!r}" if new is not None else f"removal of os.environ[{key!r}]",
                    file, _restore_environ(key, old, new), "environ"))
        if len(warnings.filters) != len(self.warning_filters) or warnings.filters != self.warning_filters:
            ledger.changes.append(ProcessChange("the warnings filters (warnings.simplefilter/filterwarnings)", file,
                                                _restore_filters(self.warning_filters, list(warnings.filters)),
                                                "warnings"))
        config = safe.attribute(self.node, "config")
        if config is not None and config is self.config_object:  # a replaced node.config is a patch, undone as one
            after = _config_values(self.node)
            for key in () if _equal(after, self.config) else set(self.config) | set(after):
                old, new = self.config.get(key, _GONE), after.get(key, _GONE)
                if not safe.same(old, new):
                    ledger.changes.append(ProcessChange(
                        f"node.config.{key} = {safe.representation(new)[:60]} (was {safe.representation(old)[:60]})",
                        file, _restore_config(config, key, old, new), "config"))
        return repaired

    def _devnode_modules(self) -> list[tuple[str, Any]]:
        """The ``sys.modules`` entries devnode relies on, as they were: the plugin ones only if any changed."""
        entries = list(self.modules.items())
        if self.all_modules is None or self.all_modules.unchanged():
            return entries
        return entries + [(n, m) for n, m in self.all_modules.entries.items() if n.startswith("plugins.")]

    def _path_changes(self, ledger: Ledger, file: str | None) -> None:
        before = Counter(self.path)  # a multiset: inserting an entry already there adds a second copy
        for entry in list((Counter(sys.path) - before).elements()):
            ledger.changes.append(ProcessChange(f"sys.path entry {safe.representation(entry)}", file,
                                                _remove_path(entry), "sys.path"))
        removed = before - Counter(sys.path)
        for index, entry in enumerate(self.path):
            if removed.get(entry, 0) > 0:
                removed[entry] -= 1
                ledger.changes.append(ProcessChange(f"removal of sys.path entry {safe.representation(entry)}", file,
                                                    _restore_path(entry, index), "sys.path"))


_GONE: Any = object()


def _equal(now: Any, before: Any) -> bool:
    """``now == before`` for two lists or dicts, item by item identity first (all in C); False if that raises."""
    try:
        return bool(now == before)
    except Exception:  # a plugin's value whose __eq__ raises: the caller compares item by item
        return False


def _config_values(node: Any) -> dict[str, Any]:
    config = safe.attribute(node, "config")
    try:
        return dict(vars(config))
    except TypeError:
        return {}


def _remove_path(entry: str) -> Callable[[], bool]:
    def undo() -> bool:
        if entry not in sys.path:
            return False
        sys.path.remove(entry)
        return True

    return undo


def _restore_path(entry: str, index: int) -> Callable[[], bool]:
    def undo() -> bool:
        if entry in sys.path:
            return False
        sys.path.insert(min(index, len(sys.path)), entry)
        return True

    return undo


def _environ() -> dict[Any, Any]:
    """os.environ as stored (encoded): copying that is cheap, decoding every value is not."""
    data = getattr(os.environ, "_data", None)
    return dict(data) if isinstance(data, dict) else dict(os.environ)


def _decoded(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return os.fsdecode(value)


def _restore_setting(read: Callable[[], Any], write: Callable[[Any], Any], old: Any, new: Any) -> Callable[[], bool]:
    def undo() -> bool:
        current = read()
        if not (current is new or safe.same(current, new)):
            return False
        write(old)
        return True

    return undo


def _restore_environ(key: str, old: str | None, new: str | None) -> Callable[[], bool]:
    def undo() -> bool:
        if os.environ.get(key) != new:
            return False
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old
        return True

    return undo


def _restore_filters(old: list[Any], new: list[Any]) -> Callable[[], bool]:
    def undo() -> bool:
        if warnings.filters != new:
            return False
        warnings.filters[:] = old
        warnings._filters_mutated()  # type: ignore[attr-defined]
        return True

    return undo


def _restore_config(config: Any, key: str, old: Any, new: Any) -> Callable[[], bool]:
    def undo() -> bool:
        current = vars(config).get(key, _GONE)
        if not safe.same(current, new):
            return False
        if old is _GONE:
            vars(config).pop(key, None)
        else:
            vars(config)[key] = old
        return True

    return undo
