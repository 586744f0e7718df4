"""Whether an object is still reachable from the process's long-lived roots, and along which path.

A test may hold an old plugin instance itself (a local, a fixture value, a
captured log record): that is the test's business, not a leak. So "leaked"
means reachable from module globals, running threads, the node or its event
loop, without passing through pytest's own objects or suspended frames.
"""

from __future__ import annotations

import functools
import gc
import sys
import threading
import types
from collections import deque
from collections.abc import Iterable
from typing import Any

# Objects of these modules belong to the test run (items, fixture values, captured logs).
TEST_RUNNER_MODULES = ("_pytest", "pytest", "pluggy")
# typing's lru caches of parametrized aliases (List[Item]) hold any class used in one: bounded, and
# not the plugin's doing, so they are never traversed.
CACHE_MODULES = ("typing",)
_ATOMIC = (str, bytes, int, float, complex, bool, type(None))
_LRU_CACHE = type(functools.lru_cache(maxsize=None)(lambda: None))
_SUSPENDED = (types.FrameType, types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType, types.TracebackType)

Root = tuple[str, object]


def default_roots(*extra: Root) -> list[Root]:
    """Module globals (outside the test runner), live threads, plus ``extra``."""
    roots: list[Root] = list(extra)
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] in TEST_RUNNER_MODULES:
            continue
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict):
            roots.append((f"module {name}", namespace))
    for thread in threading.enumerate():
        roots.append((f"thread {thread.name!r}", thread))
    return roots


def find_path(target: object, roots: Iterable[Root]) -> str | None:
    """A readable chain from a root to ``target``, or None when only the test holds it."""
    parents: dict[int, int] = {}
    keep: dict[int, Any] = {}  # holds every visited object, so ids stay unique during the search
    root_labels: dict[int, str] = {}
    queue: deque[Any] = deque()
    for label, root in roots:
        if id(root) not in keep:
            keep[id(root)] = root
            root_labels[id(root)] = label
            queue.append(root)
    if id(target) in keep:
        return root_labels[id(target)]
    while queue:
        obj = queue.popleft()
        for ref in gc.get_referents(obj):
            if isinstance(ref, _ATOMIC) or id(ref) in keep or _skipped(ref):
                continue
            keep[id(ref)] = ref
            parents[id(ref)] = id(obj)
            if ref is target:
                return _describe(target, parents, keep, root_labels)
            queue.append(ref)
    return None


def _skipped(obj: object) -> bool:
    if isinstance(obj, _SUSPENDED):
        return True
    if isinstance(obj, _LRU_CACHE) and getattr(obj, "__module__", None) in CACHE_MODULES:
        return True
    module = getattr(type(obj), "__module__", "")
    # Some extension types (Cython's, e.g. from web3's dependencies) expose a descriptor here, not a str.
    return isinstance(module, str) and module.split(".")[0] in TEST_RUNNER_MODULES


def _describe(target: object, parents: dict[int, int], keep: dict[int, Any], roots: dict[int, str]) -> str:
    chain = [id(target)]
    while chain[-1] in parents:
        chain.append(parents[chain[-1]])
    chain.reverse()
    steps = [roots.get(chain[0], _label(keep[chain[0]]))]
    attributes: set[int] = set()  # ids of dicts that are some object's __dict__
    for parent_id, child_id in zip(chain, chain[1:]):
        parent, child = keep[parent_id], keep[child_id]
        if isinstance(child, dict) and getattr(parent, "__dict__", None) is child:
            attributes.add(child_id)
            continue  # an object's attributes: the next step names the attribute
        if isinstance(parent, dict):
            key = next((k for k, v in parent.items() if v is child), None)
            if key is not None:
                if parent_id in roots and roots[parent_id].startswith("module"):
                    steps.append(f"global {key}")
                elif parent_id in attributes:
                    steps[-1] += f".{key}"
                else:
                    steps[-1] += f"[{key!r}]"
                steps.append(_label(child))
                continue
        attribute = _attribute_name(parent, child)
        if attribute is not None:
            steps[-1] += f".{attribute}"
        steps.append(_label(child))
    return " -> ".join(steps)


def _attribute_name(parent: object, child: object) -> str | None:
    try:
        namespace = vars(parent)
    except TypeError:
        return None
    return next((k for k, v in namespace.items() if v is child), None)


def _label(obj: object) -> str:
    if isinstance(obj, types.MethodType):
        return f"bound method {obj.__func__.__qualname__}"
    if isinstance(obj, types.FunctionType):
        return f"function {obj.__qualname__}"
    if isinstance(obj, type):
        return f"class {obj.__qualname__}"
    if isinstance(obj, types.CellType):
        return "closure cell"
    return f"{type(obj).__qualname__} object"
