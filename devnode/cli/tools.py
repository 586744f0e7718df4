"""``devnode check``, ``new`` and ``setup-chain``: the subcommands that run no long-lived node."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devnode.cli.exit_codes import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from devnode.cli.settings import node_choice, node_config


def check(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from devnode.check import check_plugins
    from devnode.ui.text import format_record

    config = node_config(args)
    node = node_choice(args)
    if args.format == "json":
        from devnode.ui.capture import stdout_to_stderr

        with stdout_to_stderr():  # stdout holds exactly one JSON document, whatever plugins print
            report = asyncio.run(check_plugins(config, timeout=args.timeout, node=node))
    else:
        report = asyncio.run(check_plugins(config, timeout=args.timeout, node=node))
    clean = report.clean(args.strict)
    if args.format == "json":
        print(json.dumps({**report.to_dict(), "clean": clean, "strict": args.strict}, default=str, indent=2))
    else:
        print(f"devnode check: {config.plugin_dir}")
        print(f"  {len(report.plugins)} plugin(s) loaded: {', '.join(report.plugins) or 'none'}")
        for record in report.failures + report.warnings + report.notes:
            print(format_record(record))
        verdict = "clean" if clean else "problems found"
        print(f"{len(report.failures)} failure(s), {len(report.warnings)} parity warning(s): {verdict}")
    return EXIT_OK if clean else EXIT_PROBLEMS


def setup_chain() -> int:
    from devnode.production.anvil import AnvilNotFound, find_anvil, install_anvil

    try:
        binary = find_anvil()
    except AnvilNotFound:
        print("devnode: installing anvil with npm (one time, a few seconds) ...", file=sys.stderr)
        binary = install_anvil()
    print(f"anvil: {binary}")
    return EXIT_OK


def new(args: argparse.Namespace) -> int:
    from devnode.config import load_config
    from devnode.scaffold import ScaffoldError, create_plugin

    plugin_dir = Path(args.dir) if args.dir else Path(load_config(require_plugin_dir=False).plugin_dir)
    try:
        created = create_plugin(args.name, args.template, plugin_dir, Path(args.tests))
    except ScaffoldError as exc:
        print(f"devnode: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for path in created.files:
        print(f"created {_shown(path)}")
    print(f"\nclass {created.class_name} is ready in {_shown(created.plugin)}. Next:")
    print(f"  devnode run {_shown(created.plugin.parent)}      # edit the plugin and watch it reload")
    print(f"  pytest {_shown(created.test)}")
    return EXIT_OK


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
