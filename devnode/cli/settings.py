"""From parsed arguments to a node's configuration, its kind and the run's authoring settings."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: --version and --help stay as light as argparse
    from devnode.config import NodeConfig
    from devnode.session import NodeChoice

# .env variables this process put into os.environ (production's load_dotenv()); main() takes them back.
_EXPORTED_ENV: list[str] = []


def node_config(args: argparse.Namespace) -> NodeConfig:
    from devnode.config import load_config

    flags: dict[str, Any] = {
        "plugin_dir": args.plugin_dir,
        "data_dir": args.data_dir,
        "node_id": args.node_id,
        "initial_peers": args.peers,
        "p2p_port": args.p2p_port,
        "status_interval": args.status_interval,
    }
    from devnode.project import project_table_for

    table = project_table_for(args.plugin_dir, Path.cwd())
    # What an earlier read exported is the .env's, not the real environment: read the .env afresh.
    earlier = {key: os.environ.pop(key) for key in _EXPORTED_ENV if key in os.environ}
    _EXPORTED_ENV.clear()
    try:
        config = load_config({k: v for k, v in flags.items() if v is not None}, env_file=args.env_file,
                             project=table.node_settings(), export_env=True)
    except Exception:
        os.environ.update(earlier)  # a .env that cannot be used changes nothing
        _EXPORTED_ENV.extend(earlier)
        raise
    _EXPORTED_ENV.extend(config.exported_env)
    return config


def fill_authoring(args: argparse.Namespace, options: Any) -> None:
    """Fill the run options' watch scope, editor and tests from the CLI, environment, .env and [tool.devnode]."""
    from devnode.project import authoring_settings, env_file_in_use, project_table_for

    cwd = Path.cwd()
    table = project_table_for(args.plugin_dir, cwd)
    env_file = env_file_in_use(args.env_file, cwd)
    settings = authoring_settings({"watch": args.watch, "ignore": args.ignore, "editor": args.editor},
                                  table, os.environ, env_file, cwd)
    options.watch_paths, options.ignore, options.editor = settings.watch, settings.ignore, settings.editor
    options.env_file = env_file
    options.test_args, options.test_timeout = args.test, args.test_timeout
    options.config_loader = lambda: node_config(args)


def node_choice(args: argparse.Namespace) -> NodeChoice:
    """``--node``, ``--node-src`` and ``--authorize`` as a session's NodeChoice."""
    from devnode.config import ConfigError
    from devnode.production.options import ProductionOptions
    from devnode.session import NodeChoice

    if args.node != "production":
        for flag, value in (("--node-src", args.node_src), ("--authorize", args.authorize)):
            if value is not None:
                raise ConfigError(f"{flag} only applies to the production-backed node; add --node production")
        return NodeChoice()
    return NodeChoice("production", ProductionOptions(node_src=args.node_src, authorize=args.authorize or "devnode"))


def forget_exported_env() -> None:
    """Take back what reading a .env put into os.environ (the process's environment is the caller's again)."""
    while _EXPORTED_ENV:
        os.environ.pop(_EXPORTED_ENV.pop(), None)
