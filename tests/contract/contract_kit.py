"""Observations that compare across nodes: shapes, exceptions, signatures, events and log lines.

Standard library only: the same module runs inside production's process (with no
devnode import anywhere) and inside devnode's, so both sides describe what they
see with the very same code.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

MAX_DEPTH = 4
# Loggers whose WARNING+ lines an author sees in production's console and relies on.
WATCHED_LOGGERS = ("services.plugin_manager", "services.node", "dashboard.event_bus")
# Published on a timer, not by what a probe does: kept out of every probe's event list.
PERIODIC = {"health.update", "network.stats_update"}

_FORMATS = [
    ("address", re.compile(r"0x[0-9a-fA-F]{40}")),
    ("0x-hex64", re.compile(r"0x[0-9a-fA-F]{64}")),
    ("hex64", re.compile(r"[0-9a-f]{64}")),
    ("digits", re.compile(r"[0-9]+")),
    ("0x-hex", re.compile(r"0x[0-9a-fA-F]*")),
    ("url", re.compile(r"[a-z]+://\S+")),
]


def string_format(text: str) -> str:
    """A coarse format for a string (tx hashes and addresses matter to plugins; contents do not)."""
    if text == "":
        return "empty"
    for name, pattern in _FORMATS:
        if pattern.fullmatch(text):
            return name
    return "text"


def describe(value: Any, depth: int = 0) -> Any:
    """A JSON-able shape: builtin type names, string formats, mapping keys with their value shapes."""
    if value is None or isinstance(value, bool):
        return repr(value) if value is None else "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return f"str:{string_format(value)}"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if depth >= MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        return {"mapping": {str(k): describe(v, depth + 1) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [describe(v, depth + 1) for v in value[:4]], "len": len(value)}
    if isinstance(value, (set, frozenset)):
        return {"set": len(value)}
    if inspect.iscoroutine(value):
        value.close()
        return "coroutine"
    if callable(value):
        return "callable"
    return "object"


def builtin_base(exc: BaseException) -> str:
    """The nearest builtin class of an exception: what a plugin's ``except`` clause can rely on on both nodes."""
    for cls in type(exc).__mro__:
        if cls.__module__ == "builtins":
            return cls.__name__
    return "BaseException"


# Values that differ between sides by design (each side's own account and receiver), replaced in messages.
REDACT: dict[str, str] = {}


def redact(text: str) -> str:
    for value, name in REDACT.items():
        text = text.replace(value, name)
    return text


def describe_exc(exc: BaseException) -> dict[str, Any]:
    return {"type": builtin_base(exc), "message": redact(str(exc))[:300]}


async def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call ``fn`` (awaiting what it returns when awaitable): ``{"returns": shape}`` or ``{"raises": ...}``."""
    try:
        value = fn(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
    except Exception as exc:  # SystemExit/KeyboardInterrupt are probed on purpose elsewhere
        return {"raises": describe_exc(exc)}
    return {"returns": describe(value)}


def attribute(obj: Any, name: str) -> Any:
    """Whether ``obj.name`` exists and what it is (an access that raises is an observation too)."""
    try:
        value = getattr(obj, name)
    except AttributeError as exc:
        if _attribute_missing(obj, name, exc):
            return "missing"
        return {"raises": describe_exc(exc)}
    except Exception as exc:
        return {"raises": describe_exc(exc)}
    if inspect.ismethod(value) or inspect.isfunction(value):
        return "method"
    return describe(value, depth=MAX_DEPTH - 1)


def _attribute_missing(obj: Any, name: str, exc: AttributeError) -> bool:
    return getattr(exc, "name", name) == name and not any(name in vars(c) for c in type(obj).__mro__)


def signature(obj: Any, name: str) -> Any:
    """Parameter names, kinds and defaults of ``obj.name``, and whether it is ``async def``."""
    try:
        fn = inspect.getattr_static(obj, name)
    except AttributeError:
        return "missing"
    if isinstance(fn, (staticmethod, classmethod)):
        fn = fn.__func__
    if isinstance(fn, property) or not callable(fn):
        return "not callable"
    bound = getattr(obj, name)
    try:
        sig = inspect.signature(bound)
    except (TypeError, ValueError):
        return "no signature"
    params = [
        [p.name, p.kind.name.lower(), None if p.default is inspect.Parameter.empty else repr(p.default)]
        for p in sig.parameters.values()
    ]
    return {"params": params, "async": inspect.iscoroutinefunction(bound)}


class EventLog:
    """Every event the bus delivers to a subscribe-all callback, in order."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)

    def mark(self) -> int:
        return len(self.events)

    def since(self, mark: int, periodic: bool = False) -> list[dict[str, Any]]:
        return [
            {"type": _type_value(e), "data": describe(getattr(e, "data", None))}
            for e in self.events[mark:]
            if periodic or _type_value(e) not in PERIODIC
        ]

    def types(self) -> list[str]:
        return [_type_value(e) for e in self.events]


def _type_value(event: Any) -> str:
    kind = getattr(event, "type", None)
    return str(getattr(kind, "value", kind))


class LogCapture(logging.Handler):
    """WARNING and worse from the watched loggers, as (logger, level, message up to its first ': ')."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in WATCHED_LOGGERS:
            self.lines.append([record.name, record.levelname, record.getMessage().split(": ")[0]])

    def mark(self) -> int:
        return len(self.lines)

    def since(self, mark: int) -> list[list[str]]:
        return self.lines[mark:]

    def install(self) -> None:
        root = logging.getLogger()
        root.addHandler(self)
        for name in WATCHED_LOGGERS:  # a side that never configured logging still lets these through
            logger = logging.getLogger(name)
            if logger.getEffectiveLevel() > logging.WARNING:
                logger.setLevel(logging.WARNING)


async def settle(rounds: int = 50) -> None:
    """Let work a probe scheduled (events published "soon", tasks) run: loop turns, not a timed sleep."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def wait_for(predicate: Callable[[], Any], timeout: float) -> bool:
    """Poll ``predicate`` on the loop until true or ``timeout`` seconds pass; returns whether it came true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


Probe = Callable[[Any], Awaitable[Any]]
