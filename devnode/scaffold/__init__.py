"""``devnode new``: a new plugin and its test, from a template, named as production expects.

Names are imported on first use: the CLI's parser reads ``choices.TEMPLATES`` without the scaffolding code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from devnode.scaffold.choices import TEMPLATES

if TYPE_CHECKING:
    from devnode.scaffold.new import ScaffoldError, create_plugin, plugin_module_name

__all__ = ["TEMPLATES", "ScaffoldError", "create_plugin", "plugin_module_name"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'devnode.scaffold' has no attribute {name!r}")
    return getattr(importlib.import_module("devnode.scaffold.new"), name)
