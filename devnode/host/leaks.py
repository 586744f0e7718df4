"""Checks that an unloaded plugin version was really freed, and says what holds it."""

from __future__ import annotations

import gc
import sys
import threading
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Leftover:
    """An old plugin version still alive after unload."""

    plugin: str
    what: str  # what was watched: the old version's class
    holders: list[str]


@dataclass
class OwnReferences:
    """What devnode itself holds on the author's behalf (the console's variables, ``_``, pdb's frames).

    ``release`` hooks drop what is only a convenience before a check; a version still held
    only from an ``own`` namespace is the author's doing in devnode's console, not a plugin leak.
    """

    release: list[Callable[[], None]] = field(default_factory=list)
    namespaces: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (globals, label)


class LeakWatch:
    """Weak references to plugin versions that should die; checked in batches (gc is not free)."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, str, weakref.ref[Any]]] = []
        self.own = OwnReferences()

    def expect_freed(self, plugin: str, cls: type) -> None:
        """Watch ``cls``, the class of a retired version: anything holding one of its instances holds it too."""
        self._pending.append((plugin, "class", weakref.ref(cls)))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def check(self) -> list[Leftover]:
        """Collect garbage, then report every watched object still alive."""
        if not self._pending:
            return []
        for release in list(self.own.release):
            try:
                release()
            except Exception:  # a hook must never cost the check
                pass
        gc.collect()
        leftovers: list[Leftover] = []
        reported: set[str] = set()
        for plugin, what, ref in self._pending:
            obj = ref()
            if obj is None or plugin in reported:
                continue
            reported.add(plugin)
            holders = describe_holders(obj, own=self.own.namespaces)
            if all(h.endswith(OWN_MARK) for h in holders):
                continue  # kept by the author in devnode's own console: not the plugin's leak
            leftovers.append(Leftover(plugin, what, [h for h in holders if not h.endswith(OWN_MARK)]))
        self._pending.clear()
        return leftovers


OWN_MARK = " [devnode's own]"


def describe_holders(obj: object, depth: int = 4, limit: int = 3,
                     own: list[tuple[dict[str, Any], str]] | None = None) -> list[str]:
    """Human descriptions of chains of references that keep ``obj`` alive.

    Chains that end in one of the ``own`` namespaces end with ``OWN_MARK``.
    """
    found: list[str] = []
    owned = {id(namespace): label for namespace, label in own or ()}
    ignore = {id(sys._getframe())}

    def walk(target: object, path: list[str], level: int) -> None:
        if len(found) >= limit:
            return
        for ref in gc.get_referrers(target):
            if id(ref) in ignore or isinstance(ref, types.FrameType):
                continue
            label = _label(ref, target)
            if label is None:
                continue
            step = path + [label]
            root = _root(ref)
            if id(ref) in owned:
                names = [k for k, v in ref.items() if v is target] if isinstance(ref, dict) else []
                root = f"{owned[id(ref)]} (variable {', '.join(map(str, names)) or '?'}){OWN_MARK}"
            if root is not None:
                found.append(" <- ".join(step + [root]))
                if len(found) >= limit:
                    return
            elif level < depth:
                ignore.add(id(ref))
                walk(ref, step, level + 1)

    walk(obj, [], 0)
    return found or ["an object devnode could not trace (a C extension or a reference cycle held from outside Python)"]


def _label(ref: object, target: object) -> str | None:
    if isinstance(ref, types.MethodType):
        return f"bound method {ref.__func__.__qualname__}"
    if isinstance(ref, types.FunctionType):
        return f"function {ref.__qualname__}"
    if isinstance(ref, types.CellType):
        return "closure cell"
    if isinstance(ref, tuple):
        return "tuple"
    if isinstance(ref, list):
        return "list"
    if isinstance(ref, dict):
        return "dict"
    if isinstance(ref, threading.Thread):
        return None
    if isinstance(ref, type):
        return f"class {ref.__qualname__}"
    return f"{type(ref).__qualname__} object"


def _root(ref: object) -> str | None:
    """A recognisable long-lived owner: a running thread, a module's globals, a class."""
    for thread in threading.enumerate():
        if ref is thread.__dict__ or ref is getattr(thread, "_target", None) or ref is getattr(thread, "_args", None):
            return f"thread {thread.name!r} (still running: stop it in shutdown())"
    if isinstance(ref, dict):
        for name, module in list(sys.modules.items()):
            if getattr(module, "__dict__", None) is ref:
                return f"global variable in module {name} (clear it in shutdown())"
    return None
