"""``devnode check``: load, initialize and shut down every plugin in a throwaway node; report problems."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devnode.config import NodeConfig
from devnode.host import dependencies
from devnode.host.api_calls import old_api_calls
from devnode.host.naming import candidate_modules, module_path
from devnode.reporting import Record, Reporter
from devnode.session import NodeChoice, NodeSession
from devnode.watchdog import Watchdog

PROBLEM_KINDS = {"plugin.failed"}


@dataclass
class CheckReport:
    """Everything a check found: load/shutdown failures and production-parity warnings."""

    plugin_dir: str
    plugins: list[str] = field(default_factory=list)
    failures: list[Record] = field(default_factory=list)
    warnings: list[Record] = field(default_factory=list)
    notes: list[Record] = field(default_factory=list)  # info-level contract notes (never a problem)

    def clean(self, strict: bool) -> bool:
        return not self.failures and not (strict and self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "plugin_dir": self.plugin_dir,
            "plugins": self.plugins,
            "failures": self.failures,
            "warnings": self.warnings,
            "notes": self.notes,
        }


async def check_plugins(config: NodeConfig, timeout: float = 5.0, node: NodeChoice | None = None) -> CheckReport:
    """Run the plugin dir through a full lifecycle twice (forward and reverse order)."""
    report = CheckReport(plugin_dir=config.plugin_dir)
    node = node or NodeChoice()
    forward = await _lifecycle(config, reverse=False, timeout=timeout, node=node)
    backward = await _lifecycle(config, reverse=True, timeout=timeout, node=node)
    report.plugins = forward["loaded"]
    report.failures = forward["failures"] + _old_api_failures(Path(config.plugin_dir))
    report.notes = forward["notes"]
    # Helpers' imports count too: production needs them installed just the same.
    tree = [{"kind": "warning", **found.to_record()} for found in dependencies.check_tree(Path(config.plugin_dir))]
    seen: set[tuple[Any, ...]] = set()
    for warning in forward["warnings"] + backward["warnings"] + tree:
        key = (warning.get("code"), warning.get("plugin"), warning.get("message"))
        if key not in seen:
            seen.add(key)
            report.warnings.append(warning)
    failed_forward = {f["plugin"] for f in forward["failures"]}
    failed_backward = {f["plugin"] for f in backward["failures"]}
    for plugin in sorted(failed_forward ^ failed_backward):
        report.warnings.append(
            {"kind": "warning", "code": "load-order", "plugin": plugin, "file": None,
             "message": f"{plugin} loads in one order and fails in another; production loads plugins in "
                        "whatever order the filesystem lists them, so do not rely on another plugin being loaded first"}
        )
    return report


def _old_api_failures(plugin_dir: Path) -> list[Record]:
    """Calls to signatures production does not have, in every module of the plugin dir (run or not)."""
    failures: list[Record] = []
    for name in candidate_modules(plugin_dir):
        path = module_path(plugin_dir, name)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # the load itself reports an unreadable file
        for problem in old_api_calls(name, source, path):
            failures.append({"kind": "plugin.failed", "running": "none", **problem.to_record()})
    return failures


async def _lifecycle(config: NodeConfig, reverse: bool, timeout: float, node: NodeChoice) -> dict[str, Any]:
    records: list[Record] = []
    reporter = Reporter()
    reporter.add_sink(records.append)
    with tempfile.TemporaryDirectory(prefix="devnode-check-") as tmp:
        throwaway = NodeConfig(**{**vars(config), "data_dir": tmp, "sqlite_db_path": str(Path(tmp) / "devnode.sqlite3"),
                                  "db_path": str(Path(tmp) / "devnode.sqlite3"), "sources": dict(config.sources),
                                  "production_paths": {}})  # the throwaway dir is not the author's: no path notice
        session = NodeSession(throwaway, reporter, kind=node.kind, production=node.production, timeout=timeout)
        # A plugin stuck in an endless loop is interrupted after ``timeout`` instead of hanging the check.
        watchdog = Watchdog(reporter, Path(config.plugin_dir), interrupt_after=timeout)
        watchdog.start(asyncio.get_running_loop())
        try:
            async with session:
                assert session.host is not None
                await session.start(reverse=reverse)
                loaded = sorted(session.host.plugins)
                await session.stop()
        finally:
            watchdog.stop()
    return {
        "loaded": loaded,
        "failures": [r for r in records if r["kind"] in PROBLEM_KINDS],
        "warnings": [r for r in records if r["kind"] == "warning"],
        "notes": [r for r in records if r["kind"] == "log" and r.get("logger") == "devnode.contract"],
    }
