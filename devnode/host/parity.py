"""Production-parity checks: what works under devnode but would behave differently in the node."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnode.codes import warning_code

from devnode import safe
from devnode.host.naming import PACKAGE, expected_class_name

if TYPE_CHECKING:  # the record TypedDicts are annotations only (start-up time)
    from devnode.records import WarningRecord


@dataclass(frozen=True)
class ParityWarning:
    """One difference from production, with the file it concerns and the fix."""

    code: str
    plugin: str
    message: str
    file: str | None = None
    line: int | None = None

    def to_record(self) -> WarningRecord:
        record: WarningRecord = {"code": warning_code(self.code), "plugin": self.plugin, "message": self.message,
                                 "file": self.file}
        if self.line is not None:
            record["line"] = self.line
        return record


def check_helper(module_name: str, file: Path, imported: bool) -> ParityWarning:
    """A module devnode loads as a helper but production would try to load as a plugin."""
    why = "it is imported by other plugins" if imported else "its name starts with an underscore"
    return ParityWarning(
        "helper-loaded-as-plugin",
        module_name,
        f"{file.name} is treated as a helper module because {why}, but production loads every *.py "
        f"not starting with '__' as a plugin and would fail: no class {expected_class_name(module_name)}. "
        f"Rename it to __{module_name.lstrip('_')}.py or move it into a sub-package to keep production quiet.",
        str(file),
    )


def check_plugin_dir(plugin_dir: Path) -> list[ParityWarning]:
    if plugin_dir.name == PACKAGE:
        return []
    return [
        ParityWarning(
            "plugin-dir-name",
            "*",
            f"the plugin dir is called {plugin_dir.name!r}; production imports plugins as the package "
            f"'plugins', so there the directory must be named 'plugins' and its parent must be on sys.path",
            str(plugin_dir),
        )
    ]


def check_class(module_name: str, cls: type, file: Path) -> list[ParityWarning]:
    """Missing or async lifecycle methods of a plugin class (a factory function is checked on its instance)."""
    if not isinstance(cls, type):
        return []
    return _check_methods(module_name, cls, cls.__name__, file)


def check_instance(module_name: str, factory: Any, instance: Any, file: Path) -> list[ParityWarning]:
    """The same checks for what a factory function (production accepts any callable) returned."""
    if isinstance(factory, type):
        return []
    return _check_methods(module_name, instance, getattr(factory, "__name__", module_name), file)


def _check_methods(module_name: str, owner: Any, shown: str, file: Path) -> list[ParityWarning]:
    cls = owner
    warnings: list[ParityWarning] = []
    for method in ("initialize", "shutdown"):
        impl = safe.attribute(cls, method)
        if impl is None:
            warnings.append(
                ParityWarning(
                    f"missing-{method}",
                    module_name,
                    f"{shown} has no {method}(); devnode treats it as optional, but production calls "
                    f"{method}() on every plugin and would fail with AttributeError. Add `def {method}(self): pass`.",
                    str(file),
                )
            )
        elif inspect.iscoroutinefunction(impl):
            warnings.append(
                ParityWarning(
                    f"async-{method}",
                    module_name,
                    f"{shown}.{method}() is async; devnode awaits it, but production calls {method}() "
                    "synchronously and the coroutine would never run. Make it a plain method and schedule "
                    "async work with asyncio.get_running_loop().create_task(...).",
                    str(file),
                )
            )
    return warnings


def initialize_raised(module_name: str, file: str | None, line: int | None) -> ParityWarning:
    return ParityWarning(
        "initialize-raises",
        module_name,
        "initialize() raised; devnode removed what the plugin had registered and does not serve it, but production "
        "stores the instance before calling initialize() (services/plugin_manager.py:20-22): it stays in "
        "plugin_manager.plugins, the subscriptions it made before the raise stay live, and its shutdown() is called "
        "when the node stops. Make initialize() finish or undo its own work before raising.",
        file,
        line,
    )


def shutdown_raised(module_name: str, file: str | None) -> ParityWarning:
    return ParityWarning(
        "shutdown-raises",
        module_name,
        "shutdown() raised; production shuts plugins down one after another without catching errors, "
        "so the plugins after this one would never be shut down. Catch exceptions inside shutdown().",
        file,
    )
