"""The authoring loop's glue on a running node: watch scope, ``.env`` changes, restart offers, tests on save.

The runtime calls these few functions; each feature lives in its own module
(reload/scope.py, reload/outside.py, testrun.py, restart.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnode.codes import WarningCode
from devnode.config import ConfigError
from devnode.envfile import env_values
from devnode.reload.scope import WatchScope
from devnode.reporting import Record

if TYPE_CHECKING:
    from devnode.records import RunExtrasFields
    from devnode.runtime import Runtime

RESTARTED_ENV = "DEVNODE_RESTARTED"  # set for the new process by a restart: its reason
# Warnings a reload cannot clean up after; their message offers a restart.
RESTART_CODES = {"thread-left-running", "restore-failed", "outside-scope-changed", "leak"}
RESTART_OFFER = "; to start afresh, restart devnode in place (type restart, or press R in the console)"
SECRET_WORDS = ("KEY", "SECRET", "PASSWORD", "TOKEN", "SIGNATURE")


def watch_scope(runtime: Runtime) -> WatchScope:
    options = runtime.options
    return WatchScope(Path(runtime.config.plugin_dir), options.watch_paths, options.ignore, options.env_file)


def install(runtime: Runtime) -> None:
    """Once the plugins are loaded, before watching starts: restart offers, the .env snapshot, the test runner."""
    runtime.reporter.enrichers.append(offer_restart)
    options = runtime.options
    runtime.env_values = _read_env(options.env_file)
    if options.watch:
        from devnode.reload.stale import OutsideScopeCheck

        OutsideScopeCheck(runtime).attach()
    if options.test_args is not None:
        from devnode.testrun import TestRunner

        runtime.test_runner = TestRunner(runtime)
        runtime.test_runner.attach()


def ready_fields(runtime: Runtime) -> RunExtrasFields:
    """Extra ``node.ready`` fields: what else is watched, and whether this start was a restart."""
    fields: RunExtrasFields = {}
    options = runtime.options
    if options.watch and (options.watch_paths or options.ignore or options.env_file):
        fields["scope"] = watch_scope(runtime).describe()
    reason = os.environ.pop(RESTARTED_ENV, None)
    if reason:
        fields["restarted"] = reason
    if options.test_args is not None:
        fields["testing"] = True
    return fields


def offer_restart(record: Record) -> None:
    """A warning a reload cannot clean up after says how to restart, in the message itself."""
    if record.get("kind") == "warning" and record.get("code") in RESTART_CODES and not record.get("restart"):
        record["message"] = str(record.get("message", "")) + RESTART_OFFER
        record["restart"] = True


def _read_env(path: Path | None) -> dict[str, str | None]:
    if path is None:
        return {}
    return env_values(path)


def _shown(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    return "***" if any(word in name.upper() for word in SECRET_WORDS) else value


async def env_changed(runtime: Runtime, path: Path) -> None:
    """The .env in use changed: check the new configuration, say what changed, restart with it."""
    before = runtime.env_values
    after = _read_env(path) if path.is_file() else {}
    changed = [
        {"name": name, "old": _shown(name, before.get(name)), "new": _shown(name, after.get(name))}
        for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)
    ]
    if not changed:
        return
    loader = runtime.options.config_loader
    try:
        if loader is not None:
            loader()
    except ConfigError as exc:
        runtime.reporter.emit("warning", code=WarningCode.ENV_INVALID, plugin="*", file=str(path),
                              message=f"{path.name} changed but cannot be used: {exc}; devnode keeps running with "
                                      "the configuration it started with")
        return
    names = ", ".join(str(c["name"]) for c in changed)
    runtime.env_values = after
    from devnode.restart import can_restart

    if not can_restart():
        runtime.reporter.emit("warning", code=WarningCode.ENV_INVALID, plugin="*", file=str(path),
                              message=f"{path.name} changed ({names}); devnode was not started as a program, so it "
                                      "cannot restart itself with it: stop and start it again")
        return
    runtime.reporter.emit("config.changed", file=str(path), changed=changed, action="restart",
                          message=f"{path.name} changed ({names}): restarting the node with it")
    runtime.request_restart(f"{path.name} changed: {names}")
