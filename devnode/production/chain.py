"""A real local EVM chain for the production-backed node.

Contract (what ``devnode.production`` and the contract suite rely on)::

    handle = start_chain(data_dir, url=None)   # ChainError when no chain can be had
    handle.url        # "http://127.0.0.1:PORT": JSON-RPC, loopback only
    handle.kind       # "anvil" (started by devnode) or "external" (the author's own)
    handle.accounts   # [DevAccount(address=checksummed, private_key="0x...")], funded
    handle.chain_id   # int
    handle.notes      # why a given url was not used, etc. (for the node.ready record)
    handle.describe() # one line for people: "anvil 1.7.1 at http://127.0.0.1:PORT, state in ..."
    handle.stop()     # idempotent; an external chain is left running

``url`` is the author's BLOCKCHAIN_URL: used when it is an http(s) URL on
loopback and answers ``eth_chainId``. devnode never talks to a remote chain
(it would sign real transactions with real funds). Otherwise devnode starts
anvil on 127.0.0.1 (a free port) with ``--state data_dir/chain/anvil-state.json``,
so the chain (balances, contracts, blocks) persists between runs. anvil runs
under ``lifeline.py``: it stops when devnode exits, however devnode exits.
Where anvil comes from: see ``devnode.production.anvil``.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlparse

from devnode.errors import DevnodeError
from devnode.production.anvil import find_anvil

START_TIMEOUT = 20.0
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class ChainError(DevnodeError):
    """The local chain could not be started or reached; the message says why and what to do."""


@dataclass(frozen=True)
class DevAccount:
    """A funded dev account whose key devnode knows (anvil's deterministic accounts)."""

    address: str
    private_key: str


@dataclass
class ChainHandle:
    """A running local chain; ``stop()`` ends it if devnode started it."""

    url: str
    kind: Literal["anvil", "external"]
    accounts: list[DevAccount]
    chain_id: int
    state_file: Path | None = None
    version: str = ""
    notes: list[str] = field(default_factory=list)
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _lifeline: IO[bytes] | None = field(default=None, repr=False)

    def describe(self) -> str:
        if self.kind == "external":
            return f"your chain at {self.url} (chain id {self.chain_id})"
        state = f", state in {self.state_file}" if self.state_file else ""
        return f"{self.version or 'anvil'} at {self.url} (chain id {self.chain_id}){state}"

    @property
    def running(self) -> bool:
        return self.kind == "external" or (self._process is not None and self._process.poll() is None)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop devnode's anvil (it writes its state file first); leaves an external chain alone."""
        process, self._process = self._process, None
        if process is None:
            return
        if self._lifeline is not None:
            self._lifeline.close()  # the lifeline sends anvil SIGTERM and waits for it
            self._lifeline = None
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """One JSON-RPC call; raises OSError/ValueError when the endpoint does not answer properly."""
    import urllib.request  # here: with http.client and email it is a sizeable part of every start-up

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if not isinstance(answer, dict) or "result" not in answer:
        raise ValueError(f"{method} got no result from {url}: {answer!r}")
    return answer["result"]


def start_chain(data_dir: str | Path, url: str | None = None, *, anvil: str | Path | None = None,
                timeout: float = START_TIMEOUT) -> ChainHandle:
    """The author's loopback chain at ``url`` when it answers, else a new anvil persisting in ``data_dir``."""
    notes: list[str] = []
    if url and urlparse(url).scheme in ("http", "https"):
        host = (urlparse(url).hostname or "").lower()
        if host not in LOOPBACK_HOSTS and not host.startswith("127."):
            notes.append(f"BLOCKCHAIN_URL {url} is not on this machine; devnode only uses a local chain "
                         "(it would sign real transactions), so it started its own")
        else:
            external = _external(url, notes)
            if external is not None:
                return external
    return _start_anvil(Path(data_dir), notes, anvil, timeout)


def _external(url: str, notes: list[str]) -> ChainHandle | None:
    try:
        chain_id = int(rpc(url, "eth_chainId"), 16)
        unlocked = [str(a).lower() for a in rpc(url, "eth_accounts")]
    except (OSError, ValueError, TypeError) as exc:
        notes.append(f"BLOCKCHAIN_URL {url} does not answer JSON-RPC ({exc}); devnode started its own chain")
        return None
    # anvil and hardhat fund the same well-known test mnemonic; ganache's random keys devnode cannot know.
    known = [a for a in DEFAULT_ACCOUNTS if a.address.lower() in unlocked]
    if not known:
        notes.append(f"the chain at {url} has none of the default test accounts; set PRIVATE_KEY to a funded key")
    return ChainHandle(url=url, kind="external", accounts=known, chain_id=chain_id, notes=notes)


def _start_anvil(data_dir: Path, notes: list[str], anvil: str | Path | None, timeout: float) -> ChainHandle:
    binary = Path(anvil) if anvil is not None else find_anvil()
    chain_dir = data_dir / "chain"
    chain_dir.mkdir(parents=True, exist_ok=True)
    state_file = chain_dir / "anvil-state.json"
    accounts_file = chain_dir / "anvil-accounts.json"
    log_path = chain_dir / "anvil.log"
    accounts_file.unlink(missing_ok=True)
    command = [str(binary), "--host", "127.0.0.1", "--port", "0", "--state", str(state_file),
               "--config-out", str(accounts_file)]
    lifeline = str(Path(__file__).with_name("lifeline.py"))
    with open(log_path, "wb") as log:
        # Own session: a Ctrl-C in the terminal is devnode's to handle; anvil stops when devnode says so.
        process = subprocess.Popen([sys.executable, "-I", "-S", lifeline, *command], stdin=subprocess.PIPE,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    assert process.stdin is not None
    handle = ChainHandle(url="", kind="anvil", accounts=[], chain_id=0, state_file=state_file,
                         notes=notes, _process=process, _lifeline=process.stdin)
    try:
        handle.url = _wait_listening(process, log_path, state_file, timeout)
        handle.chain_id = int(rpc(handle.url, "eth_chainId"), 16)
        handle.version = str(rpc(handle.url, "web3_clientVersion")).replace("/v", " ").split("/")[0]
        handle.accounts = _read_accounts(accounts_file)
    except BaseException:
        handle.stop()
        raise
    return handle


def _wait_listening(process: subprocess.Popen[bytes], log_path: Path, state_file: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = log_path.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith("Listening on "):
                return "http://" + line.removeprefix("Listening on ").strip()
        if process.poll() is not None:
            tail = " | ".join(text.strip().splitlines()[-3:]) or "no output"
            hint = (f"; if the state file is damaged, move {state_file} away to start a fresh chain"
                    if state_file.exists() else "")
            raise ChainError(f"anvil exited ({process.returncode}) before listening: {tail} "
                             f"(full log: {log_path}){hint}")
        if time.monotonic() > deadline:
            raise ChainError(f"anvil did not listen within {timeout:g} s (log: {log_path})")
        time.sleep(0.01)


def _read_accounts(path: Path) -> list[DevAccount]:
    data = json.loads(path.read_text())
    return [DevAccount(address=_checksum(a), private_key=k)
            for a, k in zip(data["available_accounts"], data["private_keys"], strict=True)]


def _checksum(address: str) -> str:
    try:
        eth_utils = importlib.import_module("eth_utils")
    except ImportError:  # without the [production] extra: lower case is still a valid address
        return address
    return str(eth_utils.to_checksum_address(address))


# anvil's and hardhat's default accounts (mnemonic "test test ... junk"): public test keys, funded only on dev chains.
_DEFAULT_KEYS = [
    ("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
    ("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
    ("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"),
    ("0x90F79bf6EB2c4f870365E785982E1f101E93b906", "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"),
    ("0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"),
]
DEFAULT_ACCOUNTS = [DevAccount(address=a, private_key=k) for a, k in _DEFAULT_KEYS]
