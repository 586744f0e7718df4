"""Production-parity checks: what works under devnode but would behave differently in the node."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devnode import safe
from devnode.host.naming import PACKAGE, expected_class_name


@dataclass(frozen=True)
class ParityWarning:
    """One difference from production, with the file it concerns and the fix."""

    code: str
    plugin: str
    message: str
    file: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {"code": self.code, "plugin": self.plugin, "message": self.message, "file": self.file}


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
    warnings: list[ParityWarning] = []
    for method in ("initialize", "shutdown"):
        impl = safe.attribute(cls, method)
        if impl is None:
            warnings.append(
                ParityWarning(
                    f"missing-{method}",
                    module_name,
                    f"{cls.__name__} has no {method}(); devnode treats it as optional, but production calls "
                    f"{method}() on every plugin and would fail with AttributeError. Add `def {method}(self): pass`.",
                    str(file),
                )
            )
        elif inspect.iscoroutinefunction(impl):
            warnings.append(
                ParityWarning(
                    f"async-{method}",
                    module_name,
                    f"{cls.__name__}.{method}() is async; devnode awaits it, but production calls {method}() "
                    "synchronously and the coroutine would never run. Make it a plain method and schedule "
                    "async work with asyncio.get_running_loop().create_task(...).",
                    str(file),
                )
            )
    return warnings


def shutdown_raised(module_name: str, file: str | None) -> ParityWarning:
    return ParityWarning(
        "shutdown-raises",
        module_name,
        "shutdown() raised; production shuts plugins down one after another without catching errors, "
        "so the plugins after this one would never be shut down. Catch exceptions inside shutdown().",
        file,
    )
