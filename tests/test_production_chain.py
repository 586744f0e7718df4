"""The production-backed node's foundations: finding the checkout, the extra, and a real local chain (anvil)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, wait_until
from devnode.production import anvil, requirements
from devnode.production.chain import ChainHandle, rpc, start_chain
from devnode.production.checkout import CheckoutNotFound, find_checkout, install_paths, remove_paths

UPSTREAM = ROOT.parent / "shared" / "upstream" / "datamgmtnode"


def _fake_checkout(root: Path) -> Path:
    (root / "datamgmtnode" / "services").mkdir(parents=True)
    (root / "datamgmtnode" / "services" / "node.py").write_text("class Node: pass\n")
    return root


# -- the checkout ---------------------------------------------------------------------------
def test_node_src_may_name_the_repository_root_or_its_inner_package(tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path / "datamgmtnode")
    for given in (root, root / "datamgmtnode"):
        found = find_checkout(node_src=given, environ={})
        assert (found.root, found.package, found.found_by) == (root, root / "datamgmtnode", "--node-src")
        assert found.contracts_dir == root / "contracts"


def test_environment_variable_is_used_when_no_flag(tmp_path: Path) -> None:
    root = _fake_checkout(tmp_path / "src")
    found = find_checkout(environ={"DATAMGMTNODE_SRC": str(root)}, plugin_dir=tmp_path / "elsewhere" / "plugins")
    assert found.root == root and found.found_by == "DATAMGMTNODE_SRC"


def test_checkout_is_found_above_the_plugin_dir_or_next_to_it(tmp_path: Path) -> None:
    inside = _fake_checkout(tmp_path / "a")
    assert find_checkout(plugin_dir=inside / "my-plugins" / "plugins", environ={}).root == inside
    beside = _fake_checkout(tmp_path / "b" / "datamgmtnode")
    assert find_checkout(plugin_dir=tmp_path / "b" / "project" / "plugins", environ={}).root == beside


def test_no_checkout_names_everything_searched(tmp_path: Path) -> None:
    with pytest.raises(CheckoutNotFound) as caught:
        find_checkout(plugin_dir=tmp_path / "project" / "plugins", environ={})
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "project") in message and str(tmp_path / "project" / "datamgmtnode") in message
    assert "--node-src" in message and "DATAMGMTNODE_SRC" in message
    with pytest.raises(CheckoutNotFound, match="--node-src .* is not a DataMgmt Node checkout"):
        find_checkout(node_src=tmp_path, environ={})
    with pytest.raises(CheckoutNotFound, match='DATAMGMTNODE_SRC=".*" is not a DataMgmt Node checkout'):
        find_checkout(environ={"DATAMGMTNODE_SRC": str(tmp_path)})


def test_both_import_roots_go_on_sys_path_and_come_off_again(tmp_path: Path) -> None:
    checkout = find_checkout(node_src=_fake_checkout(tmp_path / "r"), environ={})
    added = install_paths(checkout)
    try:
        assert sys.path[:2] == [str(checkout.package), str(checkout.root)]
    finally:
        remove_paths(added)
    assert str(checkout.package) not in sys.path and str(checkout.root) not in sys.path


# -- the extra and the anvil binary ------------------------------------------------------------
def test_missing_extra_is_one_line_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = requirements.importlib.util.find_spec
    monkeypatch.setattr(requirements.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("plyvel", "kademlia") else real(name, *a))
    with pytest.raises(requirements.MissingExtra) as caught:
        requirements.require_production_extra()
    assert str(caught.value).startswith("--node production needs plyvel, kademlia (not installed)")
    assert "pip install 'devnode[production]'" in str(caught.value) and "\n" not in str(caught.value)


def test_anvil_not_found_says_where_it_looked_and_the_fix(tmp_path: Path) -> None:
    environ = {"PATH": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with pytest.raises(anvil.AnvilNotFound, match=r"devnode setup-chain") as caught:
        anvil.find_anvil(environ)
    assert str(tmp_path / "cache" / "devnode") in str(caught.value)
    with pytest.raises(anvil.AnvilNotFound, match='DEVNODE_ANVIL=".*nope" is not an executable file'):
        anvil.find_anvil({**environ, "DEVNODE_ANVIL": str(tmp_path / "nope")})


# -- the chain ---------------------------------------------------------------------------------
@pytest.fixture
def anvil_binary() -> Path:
    try:
        return anvil.find_anvil()
    except anvil.AnvilNotFound as exc:
        pytest.skip(f"no anvil: {exc}")


def _started(data_dir: Path, url: str | None = None) -> ChainHandle:
    return start_chain(data_dir, url)


def test_anvil_runs_on_loopback_with_funded_accounts_and_persists_its_state(anvil_binary: Path, tmp_path: Path) -> None:
    chain = _started(tmp_path / "data")
    try:
        assert chain.kind == "anvil" and chain.url.startswith("http://127.0.0.1:") and chain.chain_id == 31337
        assert len(chain.accounts) == 10 and chain.accounts[0].address.startswith("0x")
        assert int(rpc(chain.url, "eth_getBalance", [chain.accounts[0].address, "latest"]), 16) > 10**21
        tx = rpc(chain.url, "eth_sendTransaction",
                 [{"from": chain.accounts[0].address, "to": chain.accounts[1].address, "value": hex(12345)}])
        # anvil mines each transaction at once, but asynchronously: wait for its receipt.
        receipt = wait_until(lambda: rpc(chain.url, "eth_getTransactionReceipt", [tx]), timeout=20, what="receipt")
        height = int(receipt["blockNumber"], 16)
        assert height >= 1 and "anvil" in chain.describe()
    finally:
        chain.stop()
    assert not chain.running
    again = _started(tmp_path / "data")
    try:
        assert again.url != "" and int(rpc(again.url, "eth_blockNumber"), 16) == height
    finally:
        again.stop()


def test_a_local_chain_that_answers_is_used_and_a_remote_one_never(anvil_binary: Path, tmp_path: Path) -> None:
    own = _started(tmp_path / "own")
    try:
        external = _started(tmp_path / "ext", url=own.url)
        assert external.kind == "external" and external.url == own.url and external.accounts
        external.stop()  # leaves the author's chain alone
        assert int(rpc(own.url, "eth_chainId"), 16) == 31337
    finally:
        own.stop()
    remote = _started(tmp_path / "remote", url="https://mainnet.example.org/v3/KEY")
    try:
        assert remote.kind == "anvil" and "not on this machine" in remote.notes[0]
    finally:
        remote.stop()


def test_anvil_stops_when_devnode_is_killed(anvil_binary: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from devnode.production.chain import start_chain
        chain = start_chain({str(tmp_path / "data")!r})
        print(chain._process.pid, chain.url, flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    lifeline_pid, url = proc.stdout.readline().split()
    assert int(rpc(url, "eth_chainId"), 16) == 31337
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()

    def gone() -> bool:
        try:
            rpc(url, "eth_chainId", timeout=0.5)
        except OSError:
            return True
        return False

    wait_until(gone, timeout=20, what="anvil to stop after its parent was killed")
    wait_until(lambda: not Path(f"/proc/{lifeline_pid}").exists() or _zombie(lifeline_pid), timeout=20,
               what="the lifeline to exit")
    assert (tmp_path / "data" / "chain" / "anvil-state.json").is_file()


def _zombie(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
