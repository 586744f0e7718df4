"""``--ui rich``: the live console (footer, keys, pdb, Python console) for a terminal."""

from __future__ import annotations

from devnode.ui.console.app import RichConsole

__all__ = ["RichConsole"]
