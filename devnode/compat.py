"""Makes the production node's import names resolve to devnode inside a devnode process.

Plugins written for the node import ``from dashboard.event_bus import EventType``
(or ``from dashboard import EventType, Event, EventBus``, which production's
``dashboard/__init__.py`` re-exports, or ``datamgmtnode.dashboard.event_bus`` as
production's api/ modules spell it) and ``from datamgmtnode.services.plugin_manager import PluginManager``. devnode
installs no top-level ``dashboard`` or ``datamgmtnode`` package (that would shadow
a real installation of the node); instead a meta path finder, active only while
devnode runs, answers for exactly those two modules, and provides their parent
packages only when no real one can be found.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from importlib._abc import Loader  # importlib.abc.Loader itself; importlib.abc imports importlib.resources and tempfile

ALIASES = {
    "dashboard.event_bus": "devnode.bus.api",
    # production's own api/ modules spell it this way: the same module, so EventType is one class
    "datamgmtnode.dashboard.event_bus": "devnode.bus.api",
    "datamgmtnode.services.plugin_manager": "devnode.plugin_manager",
}
PARENTS = {"dashboard", "datamgmtnode", "datamgmtnode.dashboard", "datamgmtnode.services"}
# What a stand-in parent package re-exports, as production's dashboard/__init__.py does.
_BUS_EXPORTS = ("devnode.bus.api", ("EventBus", "Event", "EventType"))
PARENT_EXPORTS = {"dashboard": _BUS_EXPORTS, "datamgmtnode.dashboard": _BUS_EXPORTS}


class _AliasLoader(Loader):
    def __init__(self, target: str | None, exports: tuple[str, tuple[str, ...]] | None = None) -> None:
        self.target = target
        self.exports = exports

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        # The alias IS devnode's module, so EventType is the same class either way.
        return importlib.import_module(self.target) if self.target else None

    def exec_module(self, module: types.ModuleType) -> None:
        if self.exports is not None:
            source, names = self.exports
            target = importlib.import_module(source)
            for name in names:
                setattr(module, name, getattr(target, name))
            setattr(module, "__all__", list(names))


class NodeAliasFinder:
    """Answers for the production node's plugin-facing modules (a meta path finder: ``find_spec``)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in ALIASES:
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(ALIASES[fullname]))
        if fullname in PARENTS and not self._real_parent_exists(fullname, path):
            spec = importlib.machinery.ModuleSpec(fullname, _AliasLoader(None, PARENT_EXPORTS.get(fullname)), is_package=True)
            spec.submodule_search_locations = []
            return spec
        return None

    def _real_parent_exists(self, fullname: str, path: Sequence[str] | None) -> bool:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            try:
                if finder.find_spec(fullname, path) is not None:
                    return True
            except (ImportError, ValueError):
                continue
        return False


_finder = NodeAliasFinder()


def installed() -> bool:
    """Whether the production import names resolve to devnode now."""
    return _finder in sys.meta_path


def install() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def uninstall() -> None:
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [*ALIASES, *PARENTS]:
        module = sys.modules.get(name)
        spec = getattr(module, "__spec__", None)
        if module is not None and (name in ALIASES or (spec is not None and isinstance(spec.loader, _AliasLoader))):
            del sys.modules[name]
            # A real parent package (a node installation) got the alias as an attribute: take it back.
            parent, _, child = name.rpartition(".")
            if parent and getattr(sys.modules.get(parent), child, None) is module:
                delattr(sys.modules[parent], child)
