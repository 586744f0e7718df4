"""``devnode run`` reaches node.ready without importing what it only uses later (issue 14, start-up time).

Each of these imports was measured on the way to node.ready and made lazy; a test keeps an
innocent-looking top-level import from bringing one back unnoticed. The probe runs the real
command line on a copy of the bundled plugins, watching, in JSON mode, as bench_startup.py does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import BUNDLED_PLUGINS, clean_env

# Modules (and their submodules) devnode run must not have imported when node.ready is written.
NOT_BEFORE_READY = [
    "cryptography",  # the node's Fernet is made on first use of node.cipher_suite
    "devnode.commands",  # the stdin commands load with the first command
    "devnode.production.node",  # the production-backed node only
    "devnode.records",  # the record TypedDicts are annotations only
    "devnode.ui.plain", "rich",  # --ui json uses neither
    "devnode.recording", "devnode.scenarios", "devnode.debug_adapter",
    "importlib.abc", "tempfile",  # importlib.abc brings importlib.resources and tempfile
    "shutil",  # argparse sizes its help with it; devnode's formatter does not need it
    "platform",
    "urllib.request", "http.client", "email",
]

PROBE = """
import json, os, sys
from devnode import reporting
emit = reporting.Reporter.emit
def ready(self, kind, **fields):
    record = emit(self, kind, **fields)
    if kind == "node.ready":
        with open(sys.argv[3], "w") as out:  # stdout holds the records (a print would become one)
            json.dump({"modules": sorted(sys.modules), "plugins": record["plugins"]}, out)
        os._exit(0)
    return record
reporting.Reporter.emit = ready
from devnode.cli import main
main(["run", sys.argv[1], "--ui", "json", "--data-dir", sys.argv[2]])
"""


def _imported(modules: list[str], name: str) -> list[str]:
    return [m for m in modules if m == name or m.startswith(name + ".")]


def test_devnode_run_is_ready_without_the_modules_it_uses_later(tmp_path: Path) -> None:
    import json

    plugins = tmp_path / "plugins"
    shutil.copytree(BUNDLED_PLUGINS, plugins, ignore=shutil.ignore_patterns("__pycache__"))
    found = tmp_path / "at-ready.json"
    proc = subprocess.run([sys.executable, "-c", PROBE, str(plugins), str(tmp_path / "data"), str(found)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=tmp_path,
                          env=clean_env())
    assert found.exists(), proc.stdout + proc.stderr
    at_ready = json.loads(found.read_text())
    modules = at_ready["modules"]
    # The check means something only if the start really happened: every bundled plugin loaded, the node made.
    assert at_ready["plugins"] == sorted(p.stem for p in BUNDLED_PLUGINS.glob("*_plugin.py"))
    assert "devnode.node.node" in modules and "devnode.reload.reloader" in modules
    early = {name: _imported(modules, name) for name in NOT_BEFORE_READY if _imported(modules, name)}
    assert early == {}, f"imported before node.ready: {early}"


def test_the_node_cipher_is_made_on_first_use_as_production_makes_it_at_start(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet, InvalidToken

    from devnode.config import NodeConfig
    from devnode.node.crypto import KEY_FILENAME
    from devnode.node.node import DevNode

    node = DevNode(NodeConfig(data_dir=str(tmp_path / "data"), plugin_dir=str(tmp_path / "plugins")))
    assert (tmp_path / "data" / KEY_FILENAME).exists()  # the key file is made with the node, as before
    # Production's cipher_suite is the Fernet of the version current at start, even once a plugin rotates.
    node.key_manager.rotate_key()
    cipher = node.cipher_suite
    assert isinstance(cipher, Fernet) and cipher is node.key_manager.get_cipher(1) is node.cipher_suite
    assert node.decrypt_data(node.encrypt_data({"a": 1})) == "{'a': 1}"
    assert node.key_manager.decrypt(node.key_manager.encrypt("x")) == "x"
    try:
        node.decrypt_data("not a token")
    except InvalidToken as exc:
        assert "not a Fernet token made with this node's key" in str(exc)
    else:
        raise AssertionError("decrypt_data accepted a bad token")
    node.cipher_suite = "replaced"  # type: ignore[assignment]  # a plain attribute, as production's
    assert node.cipher_suite == "replaced"
    node.db_connection.close()
    node.data_manager.close()
    node.store.close()
