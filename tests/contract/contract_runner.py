"""Run every probe against one node in this process and write the observations as JSON.

Started by the contract suite once per side, each in its own process:

    python -c "import contract_runner; contract_runner.main()" SIDE WORKDIR OUT [SOURCE]

- ``production``: production's own ``Node`` from the checkout SOURCE (its package
  dirs on sys.path, nothing of devnode imported, no compat alias), configured by
  production's ``main.load_config()`` from WORKDIR/.env, on the chain that .env names.
  Run from ``-c`` so that python-dotenv looks for .env in the working directory.
- ``standin``: devnode's default node, and ``production-backed``: devnode's
  ``--node production`` on the checkout SOURCE; both run through devnode's CLI
  (``devnode run plugins --ui json --no-watch``), as an author runs them.

WORKDIR holds ``plugins/`` (the probe plugins) and ``.env``; the process runs there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import contract_kit
from contract_kit import EventLog, LogCapture, settle, wait_for
from contract_probes import CONFIG_FIELDS, run_all

ENV_NAMES = [f.upper() for f in CONFIG_FIELDS]
PERIODIC_WAIT = 14.0  # seconds after NODE_STARTED; production's first status update comes 10 s after start


class Context:
    """What a probe gets: the node plugins see, a recorder, and the few things a side must provide."""

    def __init__(self, side: str, node: Any, workdir: Path, peer_url: str) -> None:
        self.side = side
        self.node = node
        self.workdir = workdir
        self.peer_url = peer_url
        self.receiver = os.environ["CONTRACT_RECEIVER"]  # per side: two sides may share one chain
        self.events = EventLog()
        self.logs = LogCapture()
        self.state: dict[str, Any] = {}
        self.startup_logs: list[list[str]] = []
        self.startup_warnings: list[str] = []  # devnode's warnings while the plugins loaded
        self.started_at = time.monotonic()
        self.warning_records: list[dict[str, Any]] = []
        self.authorize: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
        self.defaults: Callable[[], dict[str, Any]] = dict

    def journal(self) -> list[dict[str, Any]]:
        path = self.workdir / "journal.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def authorized(self) -> contextlib.AbstractContextManager[None]:
        return self.authorize()

    def default_config(self) -> dict[str, Any]:
        if "defaults" not in self.state:
            self.state["defaults"] = self.defaults()
        return self.state["defaults"]  # type: ignore[no-any-return]

    def periodic_deadline(self) -> float:
        return PERIODIC_WAIT - (time.monotonic() - self.started_at)

    def warnings_mark(self) -> int:
        return len(self.warning_records)

    def warnings_since(self, mark: int) -> list[str]:
        return sorted({str(r.get("code")) for r in self.warning_records[mark:]})


def main() -> None:
    side, workdir, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    os.chdir(workdir)
    if side == "production":
        result = run_production(workdir, Path(sys.argv[4]))
    elif side == "production-backed":
        result = run_devnode(workdir, "production", Path(sys.argv[4]))
    else:
        result = run_devnode(workdir, "standin", None)
    out.write_text(json.dumps(result, indent=1, sort_keys=True))


# -- shared by every side --------------------------------------------------------------------------------
def empty_dir() -> Path:
    """A fresh dir outside the work dir (python-dotenv looks for .env in every parent dir)."""
    return Path(tempfile.mkdtemp(prefix="contract-empty-"))


@contextlib.contextmanager
def bare_environment(cwd: Path) -> Iterator[None]:
    """No node variable in the environment and ``cwd`` as working dir, for reading defaults."""
    saved, here = dict(os.environ), os.getcwd()
    for name in ENV_NAMES:
        os.environ.pop(name, None)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)


def config_fields(config: Any, cwd: Path) -> dict[str, Any]:
    return {f: _portable(getattr(config, f, "missing"), cwd) for f in CONFIG_FIELDS}


def _portable(value: Any, cwd: Path) -> Any:
    return value.replace(str(cwd), "<cwd>") if isinstance(value, str) else value


async def probe_node(ctx: Context) -> dict[str, Any]:
    """The probes, after the node announced it started (NODE_STARTED)."""
    own = str(ctx.node.blockchain_interface.account.address)
    contract_kit.REDACT.update({ctx.receiver: "<receiver>", ctx.receiver.lower(): "<receiver>", own: "<own>",
                                own.lower(): "<own>"})
    await wait_for(lambda: "system.node_started" in ctx.events.types(), timeout=10)
    ctx.started_at = time.monotonic()
    await settle()
    return await run_all(ctx)


def stop_observations(ctx: Context, marks: dict[str, int], warnings: list[str]) -> dict[str, Any]:
    """What stopping the node did: events, shutdown calls (journal), log lines and devnode's warnings."""
    shutdowns = [e["plugin"] for e in ctx.journal()[marks["journal"]:] if e["what"] == "shutdown"]
    order: list[str] = ctx.state.get("order", [])
    raisers = [name for name in order if name.startswith("stopboom")]  # every stopboom shutdown() raises
    after = order[order.index(raisers[0]) + 1:] if raisers else []
    called_after = [name for name in after if name in shutdowns]
    results = {
        "stop.events": [e["type"] for e in ctx.events.since(marks["events"])],
        # Production's shutdown_plugins stops at the first raise (UPSTREAM.md): in load order, the
        # plugins after the first raising one are never shut down, whatever the order is.
        "stop.raising_shutdowns_called": len([name for name in shutdowns if name in raisers]),
        "stop.after_first_raiser_shut_down": "none" if not called_after else "all" if called_after == after else "some",
        "stop.logs": sorted({tuple(line) for line in ctx.logs.since(marks["logs"])}),
    }
    return {name: {"result": value, "events": [], "logs": [], "warnings": warnings} for name, value in results.items()}


def stop_marks(ctx: Context) -> dict[str, int]:
    """Where stopping starts, in every record; also the plugins' order, which shutdown follows."""
    ctx.state["order"] = list(ctx.node.plugin_manager.plugins)
    return {"events": ctx.events.mark(), "journal": len(ctx.journal()), "logs": ctx.logs.mark(),
            "warnings": ctx.warnings_mark()}


# -- production ------------------------------------------------------------------------------------------
def run_production(workdir: Path, source: Path) -> dict[str, Any]:
    sys.path[:0] = [str(source / "datamgmtnode"), str(source)]
    capture = LogCapture()
    capture.install()
    _loopback_kademlia()
    import main as production_main  # production's entry module: logging set-up and load_config()
    from services.node import Node

    config = production_main.load_config()
    config.validate()
    node = Node(config, enable_dashboard=False)
    _no_api_servers(node)
    ctx = Context("production", node, workdir, peer_url="")
    ctx.logs = capture
    ctx.authorize = lambda: _granted(node)
    ctx.defaults = lambda: _production_defaults(production_main, empty_dir())
    node.event_bus.subscribe_all(ctx.events)
    return asyncio.run(_production_session(ctx, node))


async def dht_peer(ctx: Context) -> Any:
    """A second DHT node on loopback, so production's connect_to_peer has someone to reach."""
    from kademlia.network import Server

    peer = Server()
    await peer.listen(0, interface="127.0.0.1")
    ctx.peer_url = f"http://127.0.0.1:{peer.transport.get_extra_info('sockname')[1]}"
    return peer


async def _production_session(ctx: Context, node: Any) -> dict[str, Any]:
    peer = await dht_peer(ctx)
    log_mark = ctx.logs.mark()
    await node.start()
    ctx.startup_logs = ctx.logs.since(log_mark)
    try:
        observations = await probe_node(ctx)
    finally:
        marks = stop_marks(ctx)
        await node.stop()
        peer.stop()
    observations.update(stop_observations(ctx, marks, []))
    # Production ran exactly as shipped: no devnode module and no compat alias in this process.
    imported = sorted(m for m in sys.modules if m == "devnode" or m.startswith("devnode."))
    observations["runner.devnode_modules"] = {"result": imported, "events": [], "logs": [], "warnings": []}
    return observations


def _loopback_kademlia() -> None:
    """Production's DHT listens on 0.0.0.0; the suite keeps every socket on loopback."""
    from kademlia.network import Server

    listen = Server.listen

    async def loopback(self: Any, port: int, interface: str = "127.0.0.1") -> Any:
        return await listen(self, port, interface="127.0.0.1")

    Server.listen = loopback


def _no_api_servers(node: Any) -> None:
    """Production's HTTP APIs (fixed ports 8080/8081) are no part of the plugin surface: not started."""

    async def nothing() -> None:
        return None

    for api in (node.internal_api, node.external_api):
        api.start = nothing
        api.stop = nothing


@contextlib.contextmanager
def _granted(node: Any) -> Iterator[None]:
    """Production's authorize_transfer refuses every share as shipped (UPSTREAM.md); grant it here."""
    module = node.authorization_module
    module.authorize_transfer = lambda data_hash, signature, user_id: True
    try:
        yield
    finally:
        del module.authorize_transfer


def _production_defaults(production_main: Any, cwd: Path) -> dict[str, Any]:
    with bare_environment(cwd):
        config = production_main.load_config()
    return config_fields(config, cwd)


# -- devnode: the stand-in, or the production-backed node ----------------------------------------------------
def run_devnode(workdir: Path, kind: str, source: Path | None) -> dict[str, Any]:
    """``devnode run plugins --ui json --no-watch [--node production --node-src SOURCE]``, through devnode's CLI.

    The CLI builds everything as for an author (config from .env and the environment,
    the node, its host, the UI); the runner only adds a records sink and its probe
    task to the Runtime the CLI creates.
    """
    from devnode import cli
    from devnode.runtime import Runtime

    capture = LogCapture()
    box: dict[str, Any] = {}
    records: list[dict[str, Any]] = []

    def sink(record: dict[str, Any]) -> None:
        records.append(record)
        ctx = box.get("ctx")
        if ctx is not None and record.get("kind") == "warning":
            ctx.warning_records.append(record)
        if record.get("kind") == "node.ready":
            box["task"] = asyncio.get_running_loop().create_task(_devnode_probes(box))

    def on_start(runtime: Any) -> None:
        capture.install()
        ctx = Context(kind, runtime.node, workdir, peer_url="http://127.0.0.1:9")
        ctx.logs = capture
        ctx.defaults = lambda: _standin_defaults(empty_dir())
        ctx.warning_records.extend(r for r in records if r.get("kind") == "warning")
        runtime.node.event_bus.subscribe_all(ctx.events)
        box.update(ctx=ctx, runtime=runtime, log_mark=capture.mark())

    built = Runtime.__init__

    def observed(self: Any, *args: Any, **kwargs: Any) -> None:
        built(self, *args, **kwargs)
        self.reporter.add_sink(sink)
        previous = self.on_start

        def started(runtime: Any) -> None:
            if previous is not None:
                previous(runtime)
            on_start(runtime)

        self.on_start = started

    Runtime.__init__ = observed  # type: ignore[method-assign]
    argv = ["run", "plugins", "--ui", "json", "--no-watch", "--log-level", "WARNING"]
    if source is not None:
        argv += ["--node", "production", "--node-src", str(source)]
    exit_code = cli.main(argv)
    ctx = box["ctx"]
    observations = box.get("observations") or {"runner": {"result": {"failed": box.get("error")}}}
    marks = box["marks"]
    observations.update(stop_observations(ctx, marks, ctx.warnings_since(marks["warnings"])))
    observations["runner.exit_code"] = {"result": exit_code, "events": [], "logs": [], "warnings": []}
    # Said once while the node started and loaded its plugins (e.g. a helper module, granted authorization).
    observations["runner.startup_warnings"] = {"result": ctx.startup_warnings, "events": [], "logs": [], "warnings": []}
    return observations


async def _devnode_probes(box: dict[str, Any]) -> None:
    ctx, runtime = box["ctx"], box["runtime"]
    ctx.startup_logs = ctx.logs.since(box["log_mark"])
    ctx.startup_warnings = ctx.warnings_since(0)
    peer = await dht_peer(ctx) if ctx.side == "production" else None
    try:
        box["observations"] = await probe_node(ctx)
    except BaseException as exc:  # noqa: BLE001 - reported as the side's result
        box["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        box["marks"] = stop_marks(ctx)
        runtime.request_stop("probes done")
        if peer is not None:
            peer.stop()


def _standin_defaults(cwd: Path) -> dict[str, Any]:
    """The defaults as a plugin reads them from node.config (the stand-in shows production's path values)."""
    from devnode.config import load_config
    from devnode.node.config_paths import show_production_paths
    from devnode.node.notices import Notices

    with bare_environment(cwd):
        config = load_config(environ={}, cwd=cwd, require_plugin_dir=False)
        show_production_paths(config, Notices())
        return config_fields(config, cwd)
