"""The plugin project's own settings: ``[tool.devnode]`` in its pyproject.toml, and the authoring settings.

Precedence, for every setting: CLI flag > environment > ``.env`` > ``[tool.devnode]`` > default.
The authoring settings (what to watch and ignore, the editor) come from ``--watch``/``--ignore``/
``--editor``, ``DEVNODE_WATCH``/``DEVNODE_IGNORE``/``DEVNODE_EDITOR``, or the table's ``watch``,
``ignore``, ``editor``; the node settings (``plugin_dir``, ``data_dir``, ...) are passed to
``load_config`` as its lowest source.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devnode.config import ConfigError
from devnode.envfile import env_values

# [tool.devnode] key -> node config field
NODE_KEYS = {"plugin_dir": "plugin_dir", "data_dir": "data_dir", "node_id": "node_id", "peers": "initial_peers",
             "p2p_port": "p2p_port"}
AUTHORING_KEYS = ("watch", "ignore", "editor")
ENV_NAMES = {"watch": "DEVNODE_WATCH", "ignore": "DEVNODE_IGNORE", "editor": "DEVNODE_EDITOR"}


@dataclass
class ProjectTable:
    """``[tool.devnode]`` of one pyproject.toml (empty when there is none)."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def source(self, key: str) -> str:
        return f"{self.path} [tool.devnode] {key}"

    def node_settings(self) -> dict[str, tuple[Any, str]]:
        """Node config fields set in the table, paths made absolute against the pyproject's directory."""
        found: dict[str, tuple[Any, str]] = {}
        for key, name in NODE_KEYS.items():
            if key not in self.values:
                continue
            value = self.values[key]
            if name in ("plugin_dir", "data_dir") and self.path is not None:
                value = str((self.path.parent / Path(str(value)).expanduser()).resolve())
            found[name] = (value, self.source(key))
        return found


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above ``start``."""
    start = start.resolve()
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_table(path: Path | None) -> ProjectTable:
    """``[tool.devnode]`` of ``path``, checked: an unknown key or a wrong type stops devnode naming the file."""
    if path is None:
        return ProjectTable()
    import tomllib  # only with a pyproject.toml: a start-up outside a project does without it

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}); fix or remove it") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix the file") from None
    table = data.get("tool", {}).get("devnode")
    if table is None:
        return ProjectTable()
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.devnode] must be a table")
    accepted = [*NODE_KEYS, *AUTHORING_KEYS]
    unknown = sorted(set(table) - set(accepted))
    if unknown:
        raise ConfigError(f"{path} [tool.devnode] has unknown key(s) {', '.join(unknown)}; "
                          f"accepted: {', '.join(accepted)}")
    for key in ("watch", "ignore"):
        value = table.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f'{path} [tool.devnode] {key} must be a list of strings, e.g. {key} = ["..."]')
    return ProjectTable(path, dict(table))


@dataclass
class AuthoringSettings:
    """What ``devnode run`` watches and ignores beyond the plugin dir, and the editor for links and ``o``."""

    watch: list[Path] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    editor: str | None = None
    sources: dict[str, str] = field(default_factory=dict)


def _split(key: str, text: str) -> list[str]:
    separator = os.pathsep if key == "watch" else ","
    return [item.strip() for item in text.split(separator) if item.strip()]


def authoring_settings(
    cli: Mapping[str, Any],
    table: ProjectTable,
    environ: Mapping[str, str],
    env_file: Path | None,
    cwd: Path,
) -> AuthoringSettings:
    """Merge watch/ignore/editor from the four sources; the highest that sets a value wins."""
    dotenv: dict[str, str | None] = env_values(env_file) if env_file is not None else {}
    settings = AuthoringSettings()
    for key in AUTHORING_KEYS:
        env_name = ENV_NAMES[key]
        value: Any = None
        base = cwd
        if cli.get(key):
            value, source = cli[key], f"--{key}"
        elif environ.get(env_name):
            value, source = environ[env_name], f"environment variable {env_name}"
        elif dotenv.get(env_name):
            value, source = dotenv[env_name], f".env ({env_file}) {env_name}"
            base = env_file.parent if env_file is not None else cwd
        elif table.values.get(key):
            value, source = table.values[key], table.source(key)
            base = table.path.parent if table.path is not None else cwd
        else:
            continue
        settings.sources[key] = source
        if key == "editor":
            settings.editor = str(value)
            continue
        items = _split(key, value) if isinstance(value, str) else [str(v) for v in value]
        if key == "ignore":
            settings.ignore = items
        else:
            settings.watch = [_watch_path(item, base, source) for item in items]
    return settings


def _watch_path(item: str, base: Path, source: str) -> Path:
    path = Path(item).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise ConfigError(f'watch path "{item}" (from {source}) does not exist; '
                          "give an existing file or directory to watch")
    return path.resolve()


def project_table_for(plugin_dir_arg: str | None, cwd: Path) -> ProjectTable:
    """The [tool.devnode] table of the project: above the plugin dir given on the command line, else above cwd."""
    start = (cwd / plugin_dir_arg) if plugin_dir_arg else cwd
    return read_table(find_pyproject(start if start.exists() else cwd))


def env_file_in_use(env_file_arg: str | None, cwd: Path) -> Path | None:
    """The .env load_config reads (./.env if present, or --env-file)."""
    if env_file_arg is None:
        default = cwd / ".env"
        return default.resolve() if default.is_file() else None
    path = Path(env_file_arg)
    path = path if path.is_absolute() else cwd / path
    return path.resolve() if path.is_file() else None


def cli_lists(values: Sequence[str] | None) -> list[str]:
    return list(values or [])
