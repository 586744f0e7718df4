"""The stand-in's remaining differences from production: removed where possible, said once where not."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devnode.config import load_config
from devnode.node.chain_values import StandInLimit, TransactionNotMined
from devnode.node.crypto import KeyFileError
from devnode.node.keys import VERSIONS_FILENAME
from devnode.node.node import DevNode

HERE = str(Path(__file__).resolve())


def codes(node: DevNode) -> list[str]:
    return [n.code for n in node.parity_notices.pending]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "plugins").mkdir(parents=True)
    (root / ".env").write_text("DATA_DIR=./state\n")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def nodes() -> Iterator[list[DevNode]]:
    made: list[DevNode] = []
    yield made
    for node in made:
        node.store.close()
        node.db_connection.close()


def node_for(nodes: list[DevNode], project: Path, **flags: Any) -> DevNode:
    node = DevNode(load_config(flags, cwd=project, environ={}))
    nodes.append(node)
    return node


def test_plugins_read_paths_as_production_gives_them_where_they_name_the_same_place(
    project: Path, nodes: list[DevNode]
) -> None:
    node = node_for(nodes, project)
    # Read from this file (not devnode's): what production hands a plugin, relative to where it runs.
    assert node.config.data_dir == "./state"
    assert node.config.plugin_dir == "./plugins"
    assert Path(node.config.data_dir).resolve() == project / "state"
    # devnode's own code reads the absolute path (the network was given it by the node).
    assert node.p2p_network.data_dir == str(project / "state")
    assert "resolved-path" not in codes(node)
    # Production's DB_PATH default does not follow DATA_DIR (./data/nodedb): devnode's is elsewhere, and says so.
    assert node.config.db_path == str(project / "state" / "nodedb")
    [notice] = [n for n in node.parity_notices.pending if n.code == "resolved-path"]
    assert "'./data/nodedb'" in notice.message


def test_a_path_production_would_resolve_elsewhere_stays_absolute_and_says_so_once(
    project: Path, nodes: list[DevNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_for(nodes, project)
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # production started here would use ./state of this dir
    assert node.config.data_dir == str(project / "state")
    assert node.config.data_dir == str(project / "state")
    [notice] = [n for n in node.parity_notices.pending if n.code == "resolved-path"]
    assert notice.file == HERE and notice.line is not None
    assert "'./state'" in notice.message and "main.py:32-39" in notice.message


def test_simulated_peers_are_said_once_to_a_plugin_and_peers_0_starts_with_none(
    project: Path, nodes: list[DevNode]
) -> None:
    import asyncio

    node = node_for(nodes, project)
    asyncio.run(node.publish_status())  # devnode's own periodic update lists peers: no warning for that
    assert "simulated-peers" not in codes(node)
    assert len(node.p2p_network.get_connected_peers()) == 3
    node.p2p_network.get_network_stats()
    [notice] = [n for n in node.parity_notices.pending if n.code == "simulated-peers"]
    assert "--peers 0" in notice.message and "network/p2p_network.py:57" in notice.message and notice.file == HERE

    bare = node_for(nodes, project, initial_peers=[], data_dir=str(project / "bare"))  # devnode run --peers 0
    assert bare.p2p_network.get_connected_peers() == [] and bare.p2p_network.get_network_stats()["total_peers"] == 0
    assert "simulated-peers" not in codes(bare)


def test_reading_w3_raises_and_warns_even_when_hasattr_swallows_it(project: Path, nodes: list[DevNode]) -> None:
    node = node_for(nodes, project)
    assert not hasattr(node.blockchain_interface, "w3")
    assert codes(node).count("standin-limit") == 1
    with pytest.raises(StandInLimit, match="--node production"):
        node.blockchain_interface.w3  # noqa: B018 - the read is the test
    assert codes(node).count("standin-limit") == 1  # once per plugin


def test_wait_for_receipt_on_an_unknown_hash_raises_webs_timeout_at_once(project: Path, nodes: list[DevNode]) -> None:
    chain = node_for(nodes, project).blockchain_interface
    with pytest.raises(TransactionNotMined) as info:
        chain.wait_for_receipt("ab" * 32)
    assert not isinstance(info.value, ValueError)  # web3's TimeExhausted is not one either
    assert str(info.value).startswith(f"Transaction HexBytes('0x{'ab' * 32}') is not in the chain after 120 seconds")
    assert any(n.code == "receipt-not-awaited" and "120 s" in n.message for n in chain.notices.pending)


def test_send_transaction_fills_the_callers_dict_as_production(project: Path, nodes: list[DevNode]) -> None:
    chain = node_for(nodes, project).blockchain_interface
    me = chain.account.address
    first = {"to": "0xc0FfEeC0FFeEC0fFEEc0fFEEc0FFeec0FFeEc0Ff", "value": 1}
    chain.send_transaction(first)
    second = {"to": first["to"], "value": 1, "data": "x"}
    chain.send_transaction(second)
    assert first["nonce"] == 0 and second["nonce"] == 1 and first["gas"] == 21_000 < second["gas"]
    assert isinstance(first["gasPrice"], int) and chain.transaction_count(me) == 2
    kept = {"to": first["to"], "value": 1, "nonce": 99, "gas": 30_000, "maxFeePerGas": 5}
    chain.send_transaction(kept)
    assert kept["nonce"] == 99 and kept["gas"] == 30_000 and "gasPrice" not in kept


def test_a_rotated_key_lasts_across_restarts_as_in_production(project: Path, nodes: list[DevNode]) -> None:
    node = node_for(nodes, project)
    old_token = node.encrypt_data("before")
    assert node.key_manager.rotate_key() == 2
    sealed = node.key_manager.encrypt("secret")
    versions = project / "state" / VERSIONS_FILENAME
    assert stat.S_IMODE(os.stat(versions).st_mode) == 0o600
    node.store.close()
    node.db_connection.close()
    nodes.remove(node)

    again = node_for(nodes, project)
    assert again.key_manager.current_version == 2
    assert again.key_manager.decrypt(sealed) == "secret"
    assert again.key_manager.decrypt({"version": 1, "data": old_token}) == "before"
    # Production's node encrypts with the newest version after a restart (services/node.py:136-137).
    assert again.key_manager.decrypt({"version": 2, "data": again.encrypt_data("after")}) == "after"


def test_a_damaged_key_versions_file_is_refused_with_the_fix(project: Path, nodes: list[DevNode]) -> None:
    (project / "state").mkdir()
    (project / "state" / VERSIONS_FILENAME).write_text('{"keys": {"2": "not a key"}}')
    with pytest.raises(KeyFileError, match="move it aside"):
        node_for(nodes, project)


def test_a_data_dir_chosen_on_the_command_line_is_devnodes_own_and_says_nothing(
    project: Path, nodes: list[DevNode]
) -> None:
    node = node_for(nodes, project, data_dir=str(project.parent / "scratch"))  # devnode run --data-dir ...
    assert node.config.data_dir == str(project.parent / "scratch")
    assert node.config.db_path == str(project.parent / "scratch" / "nodedb")
    assert "resolved-path" not in codes(node)
