"""Reading plugin objects without trusting them: the one place devnode does it.

Anything devnode reads from a plugin (an attribute such as ``version``, the
``str``/``repr`` of an exception or of event data, a hook, a return value) can
run the plugin's code, and that code can raise anything, loop or lie. These
helpers never raise: what cannot be read becomes ``<unprintable ...>`` text in
the message, or the given default, so a report about a plugin never becomes a
crash of devnode or a disabled output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

MAX_TEXT = 2000  # a plugin's str()/repr() can be huge; records stay readable


def unprintable(obj: object, exc: BaseException) -> str:
    """The text shown for ``obj`` whose str()/repr() raised ``exc``."""
    return f"<unprintable {_type_name(obj)}: {_type_name(exc)} in its __str__/__repr__>"


def text(obj: object) -> str:
    """``str(obj)``, or an ``<unprintable ...>`` placeholder when that raises or returns a non-str."""
    return _shown(obj, str, "__str__")


def representation(obj: object) -> str:
    """``repr(obj)``, or an ``<unprintable ...>`` placeholder."""
    return _shown(obj, repr, "__repr__")


def _shown(obj: object, show: Callable[[object], object], dunder: str) -> str:
    try:
        value = show(obj)
    except BaseException as exc:  # noqa: BLE001 - plugin code: anything can come out of it
        if not is_plugin_failure(exc):
            raise
        return unprintable(obj, exc)
    if not isinstance(value, str):
        return f"<unprintable {_type_name(obj)}: {dunder} returned {_type_name(value)}>"
    return value[:MAX_TEXT]


def exception_text(exc: BaseException) -> str:
    """``"TypeName: message"`` for a plugin's exception, whatever its ``__str__`` does."""
    message = text(exc).strip()
    first = message.splitlines()[0] if message else ""
    name = _type_name(exc)
    return f"{name}: {first}" if first else name


def attribute(obj: object, name: str, default: Any = None) -> Any:
    """``getattr(obj, name, default)`` that also survives a property or ``__getattr__`` raising something else."""
    try:
        return getattr(obj, name, default)
    except BaseException as exc:  # noqa: BLE001
        if not is_plugin_failure(exc):
            raise
        return default


def attribute_error(obj: object, name: str) -> BaseException | None:
    """The exception reading ``obj.name`` raises (other than AttributeError), or None when it reads fine."""
    try:
        getattr(obj, name, None)
    except BaseException as exc:  # noqa: BLE001
        if not is_plugin_failure(exc):
            raise
        return exc
    return None


def call(fn: Any, *args: Any, default: Any = None) -> Any:
    """``fn(*args)`` for a plugin-provided callable devnode calls only as a courtesy (e.g. ``close``)."""
    try:
        return fn(*args)
    except BaseException as exc:  # noqa: BLE001
        if not is_plugin_failure(exc):
            raise
        return default


def is_plugin_failure(exc: BaseException) -> bool:
    """Whether ``exc`` coming out of plugin code is the plugin's failure to report.

    Every exception is, except a ``CancelledError`` while devnode itself is
    cancelling the running task (shutting down, or a deadline): that one must
    propagate for the cancellation to work. A plugin raising CancelledError on
    its own is its failure.
    """
    if isinstance(exc, asyncio.CancelledError):
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return True
        return task is None or task.cancelling() == 0
    return True


def _type_name(obj: object) -> str:
    try:
        name = type(obj).__name__
    except BaseException:  # noqa: BLE001 - a metaclass can break even this
        return "object"
    return name if isinstance(name, str) else "object"


def same(a: Any, b: Any) -> bool:
    """``a is b or a == b``, where a plugin's ``__eq__`` that raises (or returns junk) means "not the same"."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:
        return False
