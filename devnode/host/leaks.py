"""Checks that an unloaded plugin version was really freed, and says what holds it."""

from __future__ import annotations

import gc
import sys
import threading
import time
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


@dataclass(eq=False)
class _Watched:
    plugin: str
    what: str
    ref: weakref.ref[Any]
    since: float
    seen_alive: bool = False


class LeakWatch:
    """Weak references to plugin versions that should die; checked in batches (gc is not free)."""

    def __init__(self, grace: float = 0.0) -> None:
        # An old version can be pinned for a moment by work still under way while the loop runs: a
        # dispatch's snapshot of the subscriptions, an async handler awaiting (bounded by the handler
        # deadline), a result on its way back to the publisher. So, on a running loop, only what is
        # alive ``grace`` seconds after its retirement, and in two checks in a row, is a leak.
        self.grace = grace
        self._pending: list[_Watched] = []
        self.own = OwnReferences()

    def expect_freed(self, plugin: str, cls: type) -> None:
        """Watch ``cls``, the class of a retired version: anything holding one of its instances holds it too."""
        self._pending.append(_Watched(plugin, "class", weakref.ref(cls), time.monotonic()))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def check(self, in_flight: bool = False, running: bool = False) -> list[Leftover]:
        """Collect garbage, then report every watched object still alive.

        ``running``: the loop is running (work under way may still hold it briefly);
        ``in_flight``: dispatches are under way right now.
        """
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
        waiting = []
        now = time.monotonic()
        for watched in self._pending:
            obj = watched.ref()
            if obj is None or watched.plugin in reported:
                continue
            young = now - watched.since < self.grace
            if running and (young and in_flight or not watched.seen_alive):
                watched.seen_alive = True
                waiting.append(watched)  # look again shortly: a leak is still there then
                continue
            reported.add(watched.plugin)
            holders = describe_holders(obj, own=self.own.namespaces)
            if all(h.endswith(OWN_MARK) for h in holders):
                continue  # kept by the author in devnode's own console: not the plugin's leak
            leftovers.append(Leftover(watched.plugin, watched.what, [h for h in holders if not h.endswith(OWN_MARK)]))
        self._pending = waiting
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
