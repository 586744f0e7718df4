"""Run tests/production_source/plugins on production's own Node (from the snapshot) against a local anvil chain.

Usage: python run_production.py UPSTREAM_DIR RPC_URL DATA_DIR. Prints nothing; the plugin writes
DATA_DIR/surface.json. Production's HTTP APIs are not started and its DHT listens on 127.0.0.1 only.
"""

import asyncio
import json
import os
import sys
import time
from pathlib import Path

upstream, rpc_url, data_dir = sys.argv[1:4]
here = Path(__file__).resolve().parent
sys.path[:0] = [str(Path(upstream) / "datamgmtnode"), upstream, str(here)]

from kademlia.network import Server  # noqa: E402
from services.node import Node, NodeConfig  # noqa: E402

_listen = Server.listen


def loopback_listen(self, port, interface="127.0.0.1"):  # never beyond loopback
    return _listen(self, port, "127.0.0.1")


Server.listen = loopback_listen
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil's first dev account


async def main() -> None:
    os.makedirs(data_dir, exist_ok=True)
    config = NodeConfig("evm", rpc_url, ANVIL_KEY, "0x" + "0" * 40, os.path.join(data_dir, "nodedb"),
                        os.path.join(data_dir, "sqlite.db"), int(sys.argv[4]), str(here / "plugins"), "node1", "",
                        [], data_dir)
    node = Node(config, enable_dashboard=False)
    # What devnode's production-backed node does by default: grant the authorization production refuses as shipped.
    node.authorization_module.authorize_transfer = lambda *args: True
    assert node.blockchain_interface.connect()
    await node.p2p_network.start()
    node.plugin_manager.load_plugins()
    deadline = time.monotonic() + 60
    out = Path(data_dir) / "surface.json"
    while not out.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    node.plugin_manager.shutdown_plugins()
    await node.p2p_network.stop()
    node.data_manager.close()
    json.loads(out.read_text())


asyncio.run(main())
