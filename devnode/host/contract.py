"""Run-time checks of the plugin contract: misspelt lifecycle methods, handlers nobody subscribed.

Production calls ``initialize()`` and ``shutdown()`` by name and devnode calls its
state hooks by name, so ``def initialise`` or ``def shutdwon`` is never called and
nothing says so. These checks run at every load, in ``devnode run`` and ``check``.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from devnode.host.parity import ParityWarning

# The methods devnode or production call by name (the state hooks: docs/reload.md).
LIFECYCLE = ("initialize", "shutdown", "devnode_save_state", "devnode_restore_state")
MAX_DISTANCE = 2


def edit_distance(a: str, b: str, limit: int = MAX_DISTANCE) -> int:
    """Levenshtein distance between ``a`` and ``b``; anything above ``limit`` is reported as ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


@lru_cache(maxsize=2048)
def near_lifecycle(name: str) -> tuple[str, ...]:
    """The lifecycle names within ``MAX_DISTANCE`` edits of ``name`` (cached: names repeat at every reload)."""
    if name in LIFECYCLE or name.startswith("__"):
        return ()
    return tuple(w for w in LIFECYCLE if edit_distance(name.lower(), w) <= MAX_DISTANCE)


def own_methods(cls: type) -> dict[str, Any]:
    """Functions the plugin class (and its bases, not ``object``) defines, by name."""
    found: dict[str, Any] = {}
    # Production accepts any callable as the plugin "class"; a factory function's methods are unknown here.
    for klass in reversed(getattr(cls, "__mro__", (object,))[:-1]):
        try:
            items = list(vars(klass).items())
        except TypeError:
            continue
        for name, value in items:
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if isinstance(func, types.FunctionType):  # inspect.isfunction, without a call per attribute
                found[name] = func
    return found


def _line(func: Any) -> int | None:
    code = getattr(func, "__code__", None)
    return code.co_firstlineno if code is not None else None


def misspelt_lifecycle(module_name: str, cls: type, file: Path) -> list[ParityWarning]:
    """A method named like a lifecycle method but not quite (``initialise``): "did you mean"."""
    methods = own_methods(cls)
    warnings: list[ParityWarning] = []
    for name, func in methods.items():
        for wanted in near_lifecycle(name):
            if wanted in methods:
                continue
            line = _line(func)
            where = f"{file.name}:{line}" if line else file.name
            warnings.append(ParityWarning(
                "lifecycle-typo", module_name,
                f"{cls.__name__}.{name}() ({where}) is never called: did you mean {wanted}()? "
                f"devnode and production call {wanted}() by that exact name. Rename {name} to {wanted}.",
                str(file),
            ))
            break
    return warnings


def unsubscribed_handlers(cls: type, subscribed: Iterable[Any]) -> list[tuple[str, int | None]]:
    """``async def on_*`` methods of ``cls`` that no subscription made during initialize() calls."""
    callbacks = {getattr(cb, "__func__", cb) for cb in subscribed}
    return [
        (name, _line(func)) for name, func in sorted(own_methods(cls).items())
        if name.startswith("on_") and inspect.iscoroutinefunction(func) and func not in callbacks
    ]


def unsubscribed_note(module_name: str, cls: type, name: str, line: int | None, file: Path) -> str:
    where = f"{file.name}:{line}" if line else file.name
    return (f"{cls.__name__}.{name}() ({where}) looks like an event handler, but initialize() did not subscribe it; "
            f"if it should run, add self.node.event_bus.subscribe(EventType.X, self.{name}) to initialize()")
