"""``devnode new``: a new plugin and its test, from a template, named as production expects."""

from __future__ import annotations

from devnode.scaffold.new import TEMPLATES, ScaffoldError, create_plugin, plugin_module_name

__all__ = ["TEMPLATES", "ScaffoldError", "create_plugin", "plugin_module_name"]
