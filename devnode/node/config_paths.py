"""The path settings of ``node.config`` as production hands them to plugins: as configured, relative.

devnode resolves ``plugin_dir`` and ``data_dir`` to absolute paths (against the
``.env``'s folder, or where devnode runs) and derives ``db_path`` and
``sqlite_db_path`` from the data dir; its own code keeps reading those.
Production's ``load_config()`` (main.py:32-39) gives the value as configured,
``./data`` by default, relative to the directory it runs in. So plugin code
reading one gets production's value whenever that names the same place from
the working directory (the usual case: devnode runs where the ``.env`` is).
When it would not (the ``.env`` is in another folder, the plugin dir is not
PLUGIN_DIR), the plugin gets devnode's absolute path and a warning, once per
plugin, at its line: production would use another directory.
"""

from __future__ import annotations

import os
from types import FrameType
from typing import Any

from devnode.config import NodeConfig
from devnode.node.notices import Notices, is_plugin_file


def show_production_paths(config: NodeConfig, notices: Notices) -> None:
    """Make plugin code reading ``config``'s path settings see production's values (see the module doc)."""

    def read(cfg: NodeConfig, name: str, frame: FrameType) -> Any:
        value = object.__getattribute__(cfg, name)
        file = frame.f_code.co_filename
        production = cfg.production_paths.get(name)
        if production is None or not isinstance(value, str) or not os.path.isabs(value) or not is_plugin_file(file):
            return value  # not a path devnode resolved (e.g. one a plugin assigned), or devnode's own read
        if same_place(production, value):
            return production
        notices.note(
            "resolved-path",
            f"read node.config.{name}: devnode uses {value!r}; production would use {production!r} (from the "
            f"working directory: {os.path.realpath(production)!r})",
            f"node.config.{name} is the value as configured ({production!r}), relative to the directory production "
            "runs in (main.py:32-39): run production where devnode's .env is, or set the variable to an absolute path",
            site=(file, frame.f_lineno),
        )
        return value

    config.on_path_read = read


def same_place(configured: str, resolved: str) -> bool:
    """Whether ``configured`` (relative to the working directory) names the file or directory ``resolved`` does."""
    return os.path.realpath(os.path.expanduser(configured)) == os.path.realpath(resolved)
