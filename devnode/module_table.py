"""Whether ``sys.modules`` changed during a plugin phase, in the same time however many modules it holds.

Each plugin phase (start, shutdown) is checked for ``plugins.*`` entries it replaced
(``process_state``). Comparing the whole table after every phase, entry by entry, was
the part of a reload that grew with the number of plugins (the table holds every
plugin's module). CPython 3.11-3.13 give every dict a version tag (PEP 509) that
changes on each modification of that dict; reading it is one memory load. The usual
phase imports nothing, so the tag is unchanged and nothing is compared. Where the tag
cannot be read (another implementation, a different object layout: checked once, on
import), ``unchanged`` compares the table with the copy instead, as before.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

_POINTER = ctypes.sizeof(ctypes.c_void_p)
# PyDictObject: PyObject_HEAD (refcount, type), ma_used, ma_version_tag, ...
_USED_OFFSET = 2 * _POINTER
_VERSION_OFFSET = 3 * _POINTER


def _read_version(table: dict[Any, Any]) -> int:
    return ctypes.c_uint64.from_address(id(table) + _VERSION_OFFSET).value


def _layout_holds() -> bool:
    """Whether the tag reads as expected here: sizes line up, and it moves on changes and only on them."""
    if sys.implementation.name != "cpython" or not (3, 11) <= sys.version_info[:2] <= (3, 13):
        return False
    probe: dict[str, object] = {"a": 1, "b": 2, "c": 3}
    if ctypes.c_ssize_t.from_address(id(probe) + _USED_OFFSET).value != len(probe):
        return False
    before = _read_version(probe)
    if _read_version(probe) != before:
        return False
    probe["a"] = object()
    replaced = _read_version(probe)
    del probe["b"]
    removed = _read_version(probe)
    return before != replaced != removed != before


_TAGGED = _layout_holds()


class ModuleTable:
    """``sys.modules`` as it was at one moment: a copy, and the dict's version tag when it can be read."""

    __slots__ = ("table", "entries", "version")

    def __init__(self) -> None:
        self.table = sys.modules
        self.entries = self.table.copy()  # one C-level pass: the previous entries, in case something changes
        self.version = _read_version(self.table) if _TAGGED else None

    def unchanged(self) -> bool:
        """Whether ``sys.modules`` still holds exactly these entries."""
        if sys.modules is not self.table:
            return False
        if self.version is not None:
            return _read_version(self.table) == self.version
        try:
            return bool(sys.modules == self.entries)  # identity first, in C
        except Exception:  # a plugin's module object whose __eq__ raises
            return False


def tag_readable() -> bool:
    """Whether this interpreter's dict version tag is used (else every check compares the tables)."""
    return _TAGGED
