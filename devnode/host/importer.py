"""Imports the plugin directory as the package ``plugins``, always from the source on disk.

Two reasons this is not plain ``importlib``:

* Production imports every plugin as ``plugins.<name>`` whatever the directory
  is called, so a finder maps the package ``plugins`` onto the plugin dir and
  sibling helpers (``from plugins import _common``, ``from . import _common``)
  resolve there.
* Python's bytecode cache validates a ``.pyc`` by whole-second mtime and size,
  so two same-size saves within a second would run the stale code. The loader
  here compiles from the source every time and never reads or writes a ``.pyc``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib._abc import Loader  # importlib.abc.Loader itself; importlib.abc imports importlib.resources and tempfile
from pathlib import Path
from typing import Any

from devnode import safe
from devnode.host.content import Signature, digest, signature
from devnode.host.naming import PACKAGE


class OutsidePluginDirError(ImportError):
    """A module in the plugin dir is a symlink to code outside it."""


class FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Loads a module from its source on every import, bypassing ``__pycache__``."""

    executed: dict[Path, tuple[Signature | None, str]] | None = None  # set by PluginImporter
    real_path: str | None = None  # the file's real path, when the finder already knows it

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        before = signature(path)  # taken before reading: a save during the read shows as a changed stat later
        source = self.get_data(path)
        if self.executed is not None:
            self.executed[Path(path)] = (before, digest(source))
        # The real path as co_filename: an editor's debugger matches breakpoints to each new version by it.
        return self.source_to_code(source, self.real_path or os.path.realpath(path))

    def set_data(self, path: str, data: Any, *, _mode: int = 0o666) -> None:
        """Never write bytecode into the author's plugin dir."""


class _EmptyPackageLoader(Loader):
    """The ``plugins`` package when the plugin dir has no ``__init__.py``."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class PluginImporter:
    """Meta path finder for ``plugins`` and ``plugins.*`` inside one plugin dir (the protocol: ``find_spec``)."""

    def __init__(self, plugin_dir: Path) -> None:
        self.plugin_dir = plugin_dir.resolve()
        self._dir = str(self.plugin_dir)
        self.replaced_package: str | None = None  # what stood in for "plugins" when devnode put it back
        self._found: list[str] | None = None  # plugins.* modules this finder gave a spec for, in a transaction
        # File -> (its stat before reading, digest of the source executed), for every module imported:
        # the reloader's content ledger starts from what actually runs, without reading the files again.
        self.executed: dict[Path, tuple[Signature | None, str]] = {}

    # -- finder protocol -----------------------------------------------------
    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == PACKAGE:
            init = self.plugin_dir / "__init__.py"
            if init.is_file():
                return self._spec(fullname, init, package_dir=self.plugin_dir)
            spec = importlib.machinery.ModuleSpec(fullname, _EmptyPackageLoader(), is_package=True)
            spec.submodule_search_locations = [str(self.plugin_dir)]
            if self._found is not None:
                self._found.append(fullname)
            return spec
        if not fullname.startswith(PACKAGE + "."):
            return None
        base = os.path.join(self._dir, *fullname.split(".")[1:])  # strings: this runs for every import
        if os.path.isfile(os.path.join(base, "__init__.py")):
            return self._spec(fullname, Path(base, "__init__.py"), package_dir=Path(base))
        if os.path.isfile(base + ".py"):
            return self._spec(fullname, Path(base + ".py"))
        return None

    def _spec(self, fullname: str, file: Path, package_dir: Path | None = None) -> importlib.machinery.ModuleSpec:
        if self._found is not None:
            self._found.append(fullname)
        real = self._real(file)
        # The dir itself may have been replaced by a symlink since start-up: inside is inside what it is now.
        inside = real is file or real.is_relative_to(self.plugin_dir) or real.is_relative_to(self.plugin_dir.resolve())
        if not inside:
            raise OutsidePluginDirError(
                f"{file} is a symlink to {real}, outside the plugin dir {self.plugin_dir}; "
                "devnode only loads code from inside the plugin dir. Copy the file in instead of linking it.",
                name=fullname,
                path=str(file),
            )
        loader = FreshSourceLoader(fullname, str(file))
        loader.executed = self.executed
        loader.real_path = str(real)
        spec = importlib.util.spec_from_file_location(
            fullname,
            file,
            loader=loader,
            submodule_search_locations=[str(package_dir)] if package_dir is not None else None,
        )
        assert spec is not None
        return spec

    def _real(self, file: Path) -> Path:
        """``file.resolve()``, without walking the whole path for a plain module directly in the plugin dir.

        (``resolve`` lstats every component of the path: for each plugin loaded, that was a
        large part of devnode's own start-up work.)
        """
        if file.parent == self.plugin_dir and not os.path.islink(file) and not os.path.islink(self._dir):
            return file  # the dir was resolved at start and is still no symlink; the file is none either
        return file.resolve()

    # -- installation ----------------------------------------------------------
    def install(self) -> None:
        """Put this finder first, so a ``plugins`` package elsewhere on sys.path cannot win."""
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)
        # A ``plugins`` package imported from elsewhere before we were installed must go.
        existing = sys.modules.get(PACKAGE)
        if existing is not None and list(getattr(existing, "__path__", [])) != [str(self.plugin_dir)]:
            for name in self.loaded_modules():
                del sys.modules[name]

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for name in self.loaded_modules():
            del sys.modules[name]

    # -- module table ----------------------------------------------------------
    @staticmethod
    def loaded_modules() -> list[str]:
        return [n for n in list(sys.modules) if n == PACKAGE or n.startswith(PACKAGE + ".")]

    @staticmethod
    def qualified(module_name: str) -> str:
        return f"{PACKAGE}.{module_name}"

    def with_submodules(self, modules: Sequence[str]) -> list[str]:
        """``plugins.<m>`` for each helper ``m``, plus its loaded submodules (for packages)."""
        names: list[str] = []
        if not modules:
            return names  # the usual reload: no need to scan the whole module table
        loaded = self.loaded_modules()
        for m in modules:
            full = self.qualified(m)
            names += [n for n in loaded if n == full or n.startswith(full + ".")] or [full]
        return names

    def import_fresh(self, module_name: str, purge: Sequence[str] = ()) -> types.ModuleType:
        """Execute ``plugins.<module_name>`` anew from disk.

        ``purge`` lists other ``plugins.*`` modules (changed helpers) to re-execute
        too. If anything fails, the previous module objects are put back in
        ``sys.modules`` so the running version and later imports are unaffected.
        """
        fullname = self.qualified(module_name)
        with self.transaction([fullname, *purge]):
            self._ensure_package()
            return importlib.import_module(fullname)

    @contextmanager
    def transaction(self, names: Sequence[str]) -> Iterator[None]:
        """Forget ``names`` for the import inside; on failure put the previous modules back."""
        saved: dict[str, Any] = {n: sys.modules.pop(n) for n in names if n in sys.modules}
        for name, module in saved.items():
            # `from plugins import x` reads the package attribute before sys.modules: drop it too.
            _detach(name, module)
        # The modules the import adds are the ones this finder hands out specs for meanwhile: no copy
        # of the whole module table per import (its size grows with the number of plugins).
        outer, self._found = self._found, []
        try:
            yield
        except BaseException:
            for name in dict.fromkeys(self._found):
                if name in sys.modules:
                    _detach(name, sys.modules.pop(name))
            for name, module in saved.items():
                sys.modules[name] = module
                _attach(name, module)
            raise
        finally:
            self._found = outer

    def _ensure_package(self) -> None:
        existing = sys.modules.get(PACKAGE)
        if existing is not None and not self.owns(existing):
            # Plugin code replaced sys.modules["plugins"]: every later import would miss the plugin dir.
            self.replaced_package = safe.representation(existing)
            del sys.modules[PACKAGE]
        if PACKAGE not in sys.modules:
            importlib.import_module(PACKAGE)
            for name in self.loaded_modules():  # the loaded plugins and helpers stay importable from it
                if name != PACKAGE:
                    _attach(name, sys.modules[name])

    def owns(self, module: Any) -> bool:
        """Whether ``module`` is this importer's ``plugins`` package (not something put in its place)."""
        path = safe.attribute(module, "__path__")
        try:
            return isinstance(module, types.ModuleType) and list(path or []) == [self._dir]
        except Exception:
            return False

    def forget(self, module_name: str) -> None:
        """Drop a module (deleted plugin or helper) from the module table."""
        fullname = self.qualified(module_name)
        sys.modules.pop(fullname, None)
        package = sys.modules.get(PACKAGE)
        if package is not None and getattr(package, module_name, None) is not None:
            try:
                delattr(package, module_name)
            except AttributeError:
                pass

    def restore(self, module_name: str, module: types.ModuleType) -> None:
        """Make ``module`` (a previous version) the current ``plugins.<module_name>`` again."""
        fullname = self.qualified(module_name)
        sys.modules[fullname] = module
        _attach(fullname, module)


def _detach(fullname: str, module: types.ModuleType) -> None:
    parent, _, child = fullname.rpartition(".")
    if parent and getattr(sys.modules.get(parent), child, None) is module:
        delattr(sys.modules[parent], child)


def _attach(fullname: str, module: types.ModuleType) -> None:
    parent, _, child = fullname.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, module)
