"""Node configuration: CLI flags > environment > .env file > defaults.

The variable names are the production node's, so a developer's existing node
``.env`` works as it is; variables devnode has no use for are ignored.
Every value remembers where it came from, so an error can say so.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from devnode.envfile import EnvFileError, check_env_path, env_values, read_env_file
from devnode.errors import DevnodeError


class ConfigError(DevnodeError):
    """A configuration value that cannot be used; the message names it and its source."""


class ConfigurationError(Exception):
    """What production's NodeConfig.validate() raises (services/node.py:24)."""


# Path settings devnode makes absolute (or derives from the data dir), with production's defaults (main.py:32-39).
# Production hands plugins the value as configured, relative to where it runs: ``production_paths`` keeps it, and
# the stand-in shows it to plugin code (devnode/node/config_paths.py) while devnode's own code reads the absolute path.
PATH_DEFAULTS = {"db_path": "./data/nodedb", "sqlite_db_path": "./data/sqlite.db", "plugin_dir": "./plugins",
                 "data_dir": "./data"}
PathReadHook = Callable[["NodeConfig", str, FrameType], Any]  # (config, setting, reader's frame) -> value given


@dataclass
class NodeConfig:
    """The production ``node.config`` surface, with devnode's values."""

    # Production's defaults (main.py load_config).
    blockchain_type: str = "evm"
    blockchain_url: str = "https://mainnet.infura.io/v3/YOUR-PROJECT-ID"
    private_key: str = ""
    native_token_address: str = "0x" + "0" * 40
    db_path: str = ""
    sqlite_db_path: str = ""
    p2p_port: int = 8000
    plugin_dir: str = "./plugins"
    node_id: str = "node1"
    node_signature: str = ""
    initial_peers: list[str] = field(default_factory=list)
    data_dir: str = "./data"
    # devnode's: seconds between the HEALTH_UPDATE/NETWORK_STATS_UPDATE rounds (production: 10; 0: none).
    status_interval: float = field(default=10.0, repr=False, compare=False)
    # .env variables load_config(export_env=True) put into the environment (whoever asked takes them back).
    exported_env: list[str] = field(default_factory=list, repr=False, compare=False)
    # Where each value came from, e.g. {"plugin_dir": "--plugin-dir", "p2p_port": ".env (/x/.env)"}
    sources: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # What production's load_config() would give for each PATH_DEFAULTS setting, and what answers a read of one.
    production_paths: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    on_path_read: PathReadHook | None = field(default=None, repr=False, compare=False)

    def __getattribute__(self, name: str) -> Any:
        if name in PATH_DEFAULTS:
            hook = object.__getattribute__(self, "on_path_read")
            if hook is not None:
                return hook(self, name, sys._getframe(1))
        return object.__getattribute__(self, name)

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "default")

    def validate(self) -> bool:
        """Production's NodeConfig.validate() (services/node.py:50-105): True, or ConfigurationError listing
        every value production refuses. devnode itself only warns about them (it simulates them anyway)."""
        errors = [problem for _, problem in production_rule_problems(self)]
        if not isinstance(self.p2p_port, int) or not 1 <= self.p2p_port <= 65535:
            errors.append(f"p2p_port must be an integer between 1 and 65535, got: {self.p2p_port}")
        if not self.node_id or not isinstance(self.node_id, str):
            errors.append("node_id is required and must be a string")
        if errors:
            raise ConfigurationError("Configuration validation failed:\n  - " + "\n  - ".join(errors))
        return True


# env variable -> config field; production names
ENV_FIELDS: dict[str, str] = {
    "BLOCKCHAIN_TYPE": "blockchain_type",
    "BLOCKCHAIN_URL": "blockchain_url",
    "PRIVATE_KEY": "private_key",
    "NATIVE_TOKEN_ADDRESS": "native_token_address",
    "DB_PATH": "db_path",
    "SQLITE_DB_PATH": "sqlite_db_path",
    "P2P_PORT": "p2p_port",
    "PLUGIN_DIR": "plugin_dir",
    "NODE_ID": "node_id",
    "NODE_SIGNATURE": "node_signature",
    "INITIAL_PEERS": "initial_peers",
    "DATA_DIR": "data_dir",
}
FIELD_ENV = {v: k for k, v in ENV_FIELDS.items()}
_ETH_ADDRESS = re.compile(r"0x[a-fA-F0-9]{40}")


def load_config(
    flags: Mapping[str, Any] | None = None,
    env_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    require_plugin_dir: bool = True,
    project: Mapping[str, tuple[Any, str]] | None = None,
    export_env: bool = False,
) -> NodeConfig:
    """Merge the sources in precedence order and validate the result.

    ``env_file`` None means "./.env if it exists"; a given path must exist.
    ``flags`` holds config field names to values already chosen on the command line.
    ``project``: field -> (value, source) from ``[tool.devnode]`` (devnode/project.py), the lowest source.
    ``export_env`` also puts every ``.env`` variable into ``environ`` (the real process
    environment for the CLI), as production's ``load_dotenv()`` does.
    """
    cwd = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    raw: dict[str, tuple[Any, str]] = dict(project or {})

    dotenv_path = _resolve_env_file(env_file, cwd)
    if dotenv_path is not None:
        try:
            values = read_env_file(dotenv_path)  # any editor's encoding; a malformed line is refused with its number
        except EnvFileError as exc:
            raise ConfigError(str(exc)) from None
        for key, value in values.items():
            if key in ENV_FIELDS and value is not None:
                raw[ENV_FIELDS[key]] = (value, f".env ({dotenv_path}) {key}")
    for key, name in ENV_FIELDS.items():
        if key in environ:
            raw[name] = (environ[key], f"environment variable {key}")
    for name, value in (flags or {}).items():
        if value is not None:
            raw[name] = (value, "--" + name.replace("_", "-"))

    config = NodeConfig()
    for name, (value, source) in raw.items():
        setattr(config, name, _convert(name, value, source))
        config.sources[name] = source

    config.production_paths = _production_paths(raw)
    base = dotenv_path.parent if dotenv_path is not None else cwd
    # A path typed on the command line or set in the shell is relative to where devnode runs.
    config.plugin_dir = str(_absolute(config.plugin_dir, cwd if _typed_here(config, "plugin_dir") else base))
    config.data_dir = str(_absolute(config.data_dir, cwd if _typed_here(config, "data_dir") else base))
    data_dir = Path(config.data_dir)
    # Production's defaults (./data/sqlite.db, ./data/nodedb) follow the data dir; devnode writes to neither.
    config.sqlite_db_path = config.sqlite_db_path or str(data_dir / "sqlite.db")
    config.db_path = config.db_path or str(data_dir / "nodedb")
    if require_plugin_dir:
        _check_plugin_dir(config)
    if export_env and dotenv_path is not None:  # only once every value is valid: a refused config exports nothing
        config.exported_env = export_dotenv(dotenv_path, environ)
    return config


def _production_paths(raw: Mapping[str, tuple[Any, str]]) -> dict[str, str]:
    """What production's load_config() gives for each path setting devnode's value stands for.

    ``--data-dir`` (and the database paths derived from it) is devnode's own choice for a run: no production
    value stands for it. The plugin dir given on the command line stands for PLUGIN_DIR.
    """
    found = {}
    for name, default in PATH_DEFAULTS.items():
        value, source = raw.get(name, (default, "default"))
        deciding = raw.get("data_dir", ("", "default"))[1] if source == "default" and name.endswith("db_path") else source
        if name == "plugin_dir" or not (deciding.startswith("--") or "[tool.devnode]" in deciding):
            found[name] = str(value) if source.startswith((".env", "environment variable")) else default
    return found


def export_dotenv(dotenv_path: Path, environ: Mapping[str, str]) -> list[str]:
    """Put every ``.env`` variable into ``environ`` unless already set, as production's ``load_dotenv()`` does.

    Plugins read their own settings (``os.environ["WEBHOOK_URL"]``) this way.
    Returns the names it set; a read-only mapping is left alone.
    """
    if not isinstance(environ, MutableMapping):
        return []
    added = []
    for key, value in env_values(dotenv_path).items():  # decoded like the configuration (UTF-16, CP1252)
        if value is not None and key not in environ:
            environ[key] = value
            added.append(key)
    return added


def production_rule_problems(config: NodeConfig) -> list[tuple[str, str]]:
    """(variable, problem) for each value production's ``NodeConfig.validate()`` would refuse.

    The stand-in simulates these values anyway; the author learns production would not start.
    """
    problems = []

    def bad(env: str, value: object, rule: str) -> None:
        source = config.source_of(ENV_FIELDS[env]) if env in ENV_FIELDS else "default"
        problems.append((env, f"{env}={value!r} (from {source}) is accepted by devnode, but production refuses {rule}"))

    if config.blockchain_type != "evm":
        bad("BLOCKCHAIN_TYPE", config.blockchain_type, "every blockchain type but 'evm'")
    if not config.blockchain_url.startswith(("http://", "https://", "ws://", "wss://")):
        bad("BLOCKCHAIN_URL", config.blockchain_url, "a URL not starting with http://, https://, ws:// or wss://")
    if config.native_token_address and not _ETH_ADDRESS.fullmatch(config.native_token_address):
        bad("NATIVE_TOKEN_ADDRESS", config.native_token_address, "anything but 0x followed by 40 hex digits")
    if len(config.node_id) > 100:
        bad("NODE_ID", config.node_id, "ids longer than 100 characters")
    if not config.source_of("initial_peers").startswith("--"):  # --peers names simulated peers
        for peer in config.initial_peers:
            if not peer.startswith(("http://", "https://")):
                bad("INITIAL_PEERS", peer, "a peer URL not starting with http:// or https://")
    return problems


def _resolve_env_file(env_file: str | Path | None, cwd: Path) -> Path | None:
    if env_file is None:
        default = cwd / ".env"
        return default if default.is_file() else None
    path = Path(env_file)
    path = path if path.is_absolute() else cwd / path
    try:
        check_env_path(path, str(env_file))  # a directory, a missing or unreadable file each say so
    except EnvFileError as exc:
        raise ConfigError(str(exc)) from None
    return path


def _convert(name: str, value: Any, source: str) -> Any:
    if name == "p2p_port":
        try:
            port = int(str(value).strip())
        except ValueError:
            raise ConfigError(
                f'{FIELD_ENV[name]}="{value}" (from {source}) is not a port number; use an integer 1-65535'
            ) from None
        if not 0 < port < 65536:
            raise ConfigError(f"{FIELD_ENV[name]}={port} (from {source}) is out of range; use an integer 1-65535")
        return port
    if name == "status_interval":
        return float(value)
    if name == "initial_peers":
        items = value if isinstance(value, list) else str(value).split(",")
        return [p.strip() for p in items if p.strip()]
    text = str(value)
    if name == "node_id" and not text.strip():
        raise ConfigError(f'NODE_ID="" (from {source}) is empty; give the node a name such as node1')
    return text


def _typed_here(config: NodeConfig, name: str) -> bool:
    # [tool.devnode] paths arrive absolute (relative to the pyproject.toml); either base keeps them.
    return config.source_of(name).startswith(("--", "environment variable"))


def _absolute(path: str, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _check_plugin_dir(config: NodeConfig) -> None:
    path = Path(config.plugin_dir)
    if not path.exists():
        raise ConfigError(
            f'PLUGIN_DIR="{path}" (from {config.source_of("plugin_dir")}) does not exist; '
            "create it or point PLUGIN_DIR at your plugins directory"
        )
    if not path.is_dir():
        raise ConfigError(
            f'PLUGIN_DIR="{path}" (from {config.source_of("plugin_dir")}) is not a directory; '
            "point PLUGIN_DIR at the directory that holds your plugin .py files"
        )
