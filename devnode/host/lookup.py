"""Finding a plugin module's class under production's naming rule, or saying precisely why not."""

from __future__ import annotations

import inspect
import types

from devnode.host.diagnostics import PluginLookupError
from devnode.host.naming import expected_class_name


def plugin_class(module: types.ModuleType, name: str) -> type:
    """The class production would instantiate for module ``name``; PluginLookupError with a hint otherwise."""
    expected = expected_class_name(name)
    cls = getattr(module, expected, None)
    if cls is not None and callable(cls):
        return cls  # type: ignore[no-any-return]
    classes = [k for k, v in vars(module).items() if isinstance(v, type) and v.__module__ == module.__name__]
    if cls is not None:
        raise PluginLookupError(
            f"{expected} in {name}.py is a {type(cls).__name__}, not a class",
            f"define `class {expected}:` with __init__(self, node), initialize() and shutdown()",
        )
    near = [c for c in classes if c.lower() == expected.lower() or c.lower().endswith("plugin")]
    found = ", ".join(classes) if classes else "none"
    hint = (
        f"rename class {near[0]} to {expected}: production looks for the file name with only its first "
        f"letter upper-cased (str.capitalize()) + 'Plugin' (classes found: {found})"
        if near
        else f"define `class {expected}:` in {name}.py; production looks for "
        f"{name!r}.capitalize() + 'Plugin' (classes found: {found})"
    )
    line = _class_line(module, near[0]) if near else None
    raise PluginLookupError(f"{name}.py has no class {expected}", hint, line)


def _class_line(module: types.ModuleType, class_name: str) -> int | None:
    try:
        return inspect.getsourcelines(getattr(module, class_name))[1]
    except (OSError, TypeError):
        return None
