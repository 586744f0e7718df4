"""The production-backed node: production's own Node and services from the checkout, on a real anvil chain.

These run production's code from ``../shared/upstream/datamgmtnode`` with real LevelDB and a real
local chain; without the checkout, the [production] extra or anvil they skip with the reason
(README's test command sets all three up, so CI runs them).
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import (BUNDLED_PLUGINS, WATCH_DEADLINE, DevnodeProcess, atomic_write, clean_env,
                      production_unavailable, wait_until, write_plugin)
from conftest import UPSTREAM_CHECKOUT as UPSTREAM
from devnode import cli
from devnode.bus import api as events
from devnode.config import NodeConfig
from devnode.production import requirements
from devnode.production.chain import rpc
from devnode.testing.kit import DevNodeKit

RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's second dev account




needs_production = pytest.mark.skipif(production_unavailable() is not None, reason=str(production_unavailable()))

SHARER = """
    from dashboard.event_bus import EventType


    class Sharer_pluginPlugin:
        def __init__(self, node):
            self.node = node
            self.shared = []

        def initialize(self):
            self.node.event_bus.subscribe(EventType.DATA_SHARED, self.on_shared)

        def shutdown(self):
            self.node.event_bus.unsubscribe(EventType.DATA_SHARED, self.on_shared)

        def on_shared(self, event):
            self.shared.append(event.data)
"""


def _sockets_of(pid: int) -> list[tuple[str, str]]:
    """(protocol, local address) of every TCP listener and bound UDP socket the process holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if inode in inodes and (proto.startswith("udp") or state == "0A"):  # 0A: LISTEN
                found.append((proto, _address(local)))
    return found


def _address(hex_address: str) -> str:
    host, _, port = hex_address.partition(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        return f"{socket.inet_ntop(socket.AF_INET, raw[::-1])}:{int(port, 16)}"
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return f"[{socket.inet_ntop(socket.AF_INET6, words)}]:{int(port, 16)}"


# -- a real devnode process ---------------------------------------------------------------
@needs_production
def test_devnode_run_hosts_the_bundled_plugins_in_production_and_reloads_on_save(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    shutil.copytree(BUNDLED_PLUGINS, plugins, ignore=shutil.ignore_patterns("__pycache__", "*.log"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        p2p_port = probe.getsockname()[1]
    proc = DevnodeProcess([str(plugins), "--data-dir", str(tmp_path / "data"), "--node", "production",
                           "--node-src", str(UPSTREAM), "--p2p-port", str(p2p_port)], cwd=tmp_path, env=clean_env())
    try:
        ready = proc.wait_for("node.ready", timeout=90)
        assert ready["node"] == "production" and ready["chain_kind"] == "anvil"
        assert ready["plugins"] == ["audit_plugin", "configurable_plugin", "example_plugin", "metrics_plugin",
                                    "validation_plugin"]
        assert "anvil" in ready["chain"] and ready["checkout"] == str(UPSTREAM.resolve())
        chain_url = ready["chain"].split(" at ")[1].split(" ")[0]
        granted = proc.find("warning", code="production-authorization")
        assert len(granted) == 1 and "services/authorisation.py:" in granted[0]["message"]

        # Nothing of the node listens beyond loopback (production's APIs and dashboard are not started).
        bound = _sockets_of(proc.proc.pid)
        assert bound and all(addr.startswith(("127.0.0.1:", "[::1]:")) for _, addr in bound), bound
        assert ("udp", f"127.0.0.1:{p2p_port}") in bound  # --p2p-port: production's DHT, on loopback only

        mark = proc.mark()
        proc.send("status")
        status = proc.wait_for("status", after=mark)
        assert {p["plugin"] for p in status["plugins"] if p["state"] == "active"} == set(ready["plugins"])

        # A share goes through production's share_data: LevelDB, DHT, a compliance transaction on anvil.
        mark = proc.mark()
        proc.send(f'share {RECIPIENT} "weekly report"')
        result = proc.wait_for("command.result", after=mark)
        tx_hash = result["result"]["compliance_tx_hash"]
        receipt = wait_until(lambda: rpc(chain_url, "eth_getTransactionReceipt", ["0x" + tx_hash.removeprefix("0x")]),
                             timeout=20, what="the compliance transaction's receipt")
        assert int(receipt["status"], 16) == 1
        shared = proc.wait_for("event", after=mark, type="data.shared")
        assert {h["plugin"] for h in shared["handlers"]} >= {"audit_plugin", "example_plugin", "metrics_plugin"}

        # receive, transfer and peer go through production's own calls: its incoming-data path (decrypt,
        # hash check, LevelDB, on_data_received), transfer_tokens on anvil, get_connected_peers.
        mark = proc.mark()
        proc.send('receive peer1 {"reading": 1}')
        received = proc.wait_for("command.result", after=mark, command="receive")
        assert received["result"]["data_hash"] == hashlib.sha256(b"{'reading': 1}").hexdigest()
        heard = proc.wait_for("event", after=mark, type="data.received")
        assert set(heard["data"]) == {"data_hash", "timestamp"} and "metrics_plugin" in {h["plugin"] for h in heard["handlers"]}
        proc.send(f"transfer native {RECIPIENT} 5")
        sent = proc.wait_for("command.result", after=mark, command="transfer")["result"]["tx_hash"]
        receipt = wait_until(lambda: rpc(chain_url, "eth_getTransactionReceipt", ["0x" + sent.removeprefix("0x")]),
                             timeout=20, what="the transfer's receipt")
        assert int(receipt["status"], 16) == 1 and receipt["to"].lower() == RECIPIENT.lower()
        proc.send("peer list")
        assert isinstance(proc.wait_for("command.result", after=mark, command="peer")["result"]["peers"], list)
        # What only the simulation can do says why, and the node carries on; a scenario step too.
        proc.send("peer disconnect peer1")
        refused = proc.wait_for("command.error", after=mark)
        assert "simulated peers" in refused["error"] and "--node production" in refused["error"]
        scenario = tmp_path / "on_production.toml"
        scenario.write_text(f'[[step]]\nreceive = "peer2"\ndata = {{ reading = 2 }}\n\n[[step]]\ntransfer = "native"\n'
                            f'to = "{RECIPIENT}"\namount = 1\n\n[[step]]\npeer_down = "peer3"\nfails = "simulated peers"\n'
                            '\n[[step]]\nstatus = true\n\n[[step]]\nexpect = "network.stats_update"\n'
                            'handled_by = "metrics_plugin"\n')
        proc.send(f"scenario {scenario}")
        finished = proc.wait_for("scenario.finished", after=mark, timeout=60)
        assert finished["ok"] and finished["failed"] == 0, finished

        # Editing a plugin reloads it through the real watcher, inside production's node.
        example = plugins / "example_plugin.py"
        mark = proc.mark()
        atomic_write(example, example.read_text().replace('self.version = "1.0.0"', 'self.version = "1.0.1"'))
        reloaded = proc.wait_for("plugin.reloaded", timeout=WATCH_DEADLINE, after=mark, plugin="example_plugin")
        assert reloaded["version"] == "1.0.1" and reloaded["timings"]["total"] < 1000
    finally:
        code = proc.stop(timeout=60)
    assert code == 0, "".join(proc.stderr_lines)
    with pytest.raises(OSError):  # devnode's anvil went with it
        rpc(chain_url, "eth_chainId", timeout=2)


def test_no_checkout_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAMGMTNODE_SRC", raising=False)
    if requirements.missing_packages():
        pytest.skip("the [production] extra is not installed: the extra's error comes first")
    (tmp_path / "project" / "plugins").mkdir(parents=True)
    code = cli.main(["run", str(tmp_path / "project" / "plugins"), "--data-dir", str(tmp_path / "data"),
                     "--ui", "json", "--node", "production"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err
    assert err.startswith("devnode: error: --node production needs a DataMgmt Node checkout and none was found")
    assert str(tmp_path / "project") in err and "--node-src" in err


def test_missing_extra_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(requirements.importlib.util, "find_spec",
                        lambda name, *a: None if name == "plyvel" else real(name, *a))
    (tmp_path / "plugins").mkdir()
    code = cli.main(["check", str(tmp_path / "plugins"), "--node", "production", "--node-src", str(UPSTREAM)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err
    assert err == ("devnode: error: --node production needs plyvel (not installed); install with: "
                   "pip install 'devnode[production]' (from a devnode checkout: pip install -e '.[production]')")


def test_production_flags_need_the_production_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plugins").mkdir()
    code = cli.main(["check", str(tmp_path / "plugins"), "--authorize", "production"])
    assert code == 2 and "--authorize only applies to the production-backed node" in capsys.readouterr().err


# -- the testing kit and the pytest marker ------------------------------------------------------
@needs_production
@pytest.mark.devnode(node="production", node_src=str(UPSTREAM))
def test_the_pytest_marker_hosts_plugins_in_production(devnode: DevNodeKit, tmp_path: Path) -> None:
    write_plugin(tmp_path, "sharer_plugin", SHARER)
    plugin = devnode.load(tmp_path / "sharer_plugin.py")
    node: Any = devnode.node
    assert type(node).__name__ == "Node" and type(node).__module__ == "services.node"
    assert node.plugin_manager is devnode.host and node.event_bus is devnode.bus
    # dashboard.event_bus is devnode's bus for production's own code as for the plugins: the same classes.
    assert type(node.event_bus) is events.EventBus
    assert sys.modules["services.node"].EventType is events.EventType is sys.modules["dashboard.event_bus"].EventType
    assert type(node.data_manager.db).__module__.startswith("plyvel")
    assert node.p2p_network.server.transport.get_extra_info("sockname")[0] == "127.0.0.1"
    assert (Path(node.config.data_dir) / "encryption_keys.json").is_file()

    tx_hash = devnode.share("hello production", RECIPIENT)
    assert plugin.shared[-1]["compliance_tx_hash"] == tx_hash and plugin.shared[-1]["recipient"] == RECIPIENT
    data_hash = plugin.shared[-1]["data_hash"]
    assert node.data_manager.get_data(data_hash) == "hello production"  # production's LevelDB, as a str
    # devnode.receive works on production's node too: through its own _handle_incoming_data.
    received = devnode.receive("peer1", {"reading": 1})
    assert node.data_manager.get_data(received) == "{'reading': 1}"
    assert devnode.events.of_type(events.EventType.DATA_RECEIVED)[-1].data["data_hash"] == received

    # Production's contracts/ERC20Token.json is found (not ./contracts of wherever devnode runs) and deployed
    # on anvil; as shipped its bytecode is "0x", so the new token has no code, exactly as in production.
    token = node.token_manager.issue_new_token("Dev Token", "DEV", 10**6)
    assert node.token_manager.node_tokens["DEV"] == token and token.startswith("0x") and len(token) == 42
    assert node.blockchain_interface.w3.eth.get_code(token) == b""

    reloaded = devnode.reload("sharer_plugin")
    assert reloaded is not plugin and reloaded.shared == []


@needs_production
@pytest.mark.devnode(node="production", node_src=str(UPSTREAM), authorize="production")
def test_authorize_production_keeps_productions_refusal(devnode: DevNodeKit) -> None:
    with pytest.raises(ValueError, match="^Unauthorized data transfer$"):
        devnode.share("hello production", RECIPIENT)
    assert not devnode.kinds("warning")  # nothing granted, nothing to say


@needs_production
def test_check_runs_the_plugins_through_productions_node(tmp_path: Path) -> None:
    import asyncio

    from devnode.check import check_plugins
    from devnode.production.node import ProductionOptions
    from devnode.session import NodeChoice

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_plugin(plugins, "sharer_plugin", SHARER)
    config = NodeConfig(plugin_dir=str(plugins), data_dir=str(tmp_path / "data"))
    report = asyncio.run(check_plugins(config, node=NodeChoice("production", ProductionOptions(str(UPSTREAM)))))
    assert report.plugins == ["sharer_plugin"] and not report.failures


def test_a_node_env_private_key_signs_only_on_the_authors_own_chain(tmp_path: Path) -> None:
    from devnode.config import load_config
    from devnode.production.chain import DEFAULT_ACCOUNTS, ChainHandle
    from devnode.production.node import ProductionBackend

    (tmp_path / "plugins").mkdir()
    real_key = "0x" + "ab" * 32
    (tmp_path / ".env").write_text(f"PRIVATE_KEY={real_key}\n")
    config = load_config(cwd=tmp_path, environ={})
    ours = ChainHandle(url="http://127.0.0.1:1", kind="anvil", accounts=DEFAULT_ACCOUNTS, chain_id=31337)
    theirs = ChainHandle(url="http://127.0.0.1:2", kind="external", accounts=DEFAULT_ACCOUNTS, chain_id=31337)

    backend = ProductionBackend(config)
    assert backend._signing_key(ours) == DEFAULT_ACCOUNTS[0].private_key
    assert backend.notices[0][0] == "production-chain" and "PRIVATE_KEY (from .env" in backend.notices[0][1]
    assert backend._signing_key(theirs) == real_key
    assert ProductionBackend(NodeConfig())._signing_key(ours) == DEFAULT_ACCOUNTS[0].private_key


@needs_production
def test_a_second_node_on_the_same_data_dir_is_refused_with_the_fix(tmp_path: Path) -> None:
    from devnode.production.node import ProductionNodeError

    (tmp_path / "plugins").mkdir()
    write_plugin(tmp_path / "plugins", "sharer_plugin", SHARER)
    first = DevNodeKit(tmp_path / "plugins", tmp_path / "data", node="production", node_src=UPSTREAM)
    try:
        with pytest.raises(ProductionNodeError, match="another node .* is using .*nodedb: stop it, or give this one"):
            DevNodeKit(tmp_path / "plugins", tmp_path / "data", node="production", node_src=UPSTREAM)
        # The first node is unharmed: its import aliases and production's modules are still there.
        first.load("sharer_plugin")
        first.share("still here", RECIPIENT)
        assert first.plugin("sharer_plugin").shared
    finally:
        first.close()
    assert "services.node" not in sys.modules and str(UPSTREAM.resolve() / "datamgmtnode") not in sys.path


@needs_production
def test_the_authors_own_local_chain_is_used_and_left_running(tmp_path: Path) -> None:
    import asyncio

    from devnode.config import load_config
    from devnode.production.chain import start_chain
    from devnode.production.node import ProductionOptions
    from devnode.session import NodeSession

    theirs = start_chain(tmp_path / "their-chain")  # stands for the author's own anvil/hardhat
    try:
        (tmp_path / "plugins").mkdir()
        config = load_config({"plugin_dir": str(tmp_path / "plugins"), "data_dir": str(tmp_path / "data")},
                             environ={"BLOCKCHAIN_URL": theirs.url}, cwd=tmp_path)

        async def run() -> dict[str, Any]:
            async with NodeSession(config, kind="production", production=ProductionOptions(str(UPSTREAM))) as s:
                await s.start()
                await s.node.share_data("on their chain", RECIPIENT)
                return s.ready_fields()

        ready = asyncio.run(run())
        assert ready["chain_kind"] == "external" and theirs.url in ready["chain"]
        # The compliance transaction went to their chain, which devnode leaves running.
        wait_until(lambda: int(rpc(theirs.url, "eth_blockNumber"), 16) >= 1, timeout=20, what="a block on their chain")
    finally:
        theirs.stop()


@needs_production
def test_a_scenario_plays_against_productions_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugins = tmp_path / "plugins"
    shutil.copytree(BUNDLED_PLUGINS, plugins, ignore=shutil.ignore_patterns("__pycache__", "*.log"))
    scenario = tmp_path / "production.toml"
    scenario.write_text(f'''
name = "production"
[[step]]
share = "{RECIPIENT}"
data = "weekly report"
[[step]]
expect = "data.shared"
handled_by = ["example_plugin", "audit_plugin", "metrics_plugin"]
[[step]]
share = "{RECIPIENT}"
data = "password: hunter2"
fails = "blocked pattern"
''')
    code = cli.main(["scenario", str(scenario), str(plugins), "--node", "production", "--node-src", str(UPSTREAM),
                     "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "scenario production passed: 3 step(s)" in out
