"""One contract session: a work dir per side, both sides run at once, observations read back."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract_compare import BACKED_HEADING, Difference, TableRow, differences, read_table

HERE = Path(__file__).resolve().parent
PROBE_PLUGINS = HERE / "probe_plugins"
SIDE_TIMEOUT = 90.0
ROOT = HERE.parent.parent
CHECKOUT = ROOT.parent / "shared" / "upstream" / "datamgmtnode"
PARITY = ROOT / "docs" / "parity.md"


RECEIVERS = {  # each side pays its own receiver: two sides share one chain
    "production": "0xc0FfEeC0FFeEC0fFEEc0fFEEc0FFeec0FFeEc0Ff",
    "standin": "0xc0FfEeC0FFeEC0fFEEc0fFEEc0FFeec0FFeEc0Ff",
    "production-backed": "0xca11ab1EcA11aB1Eca11Ab1Eca11AB1ECa11AB1e",
}
SIDES: tuple[str, ...] = ("production", "standin", "production-backed")
ACCOUNT = {"production": 0, "standin": 1, "production-backed": 2}  # and signs with its own account (nonces)
# The production-backed node reads its settings as the stand-in does (compared there), so defaults and
# paths are not compared.
BACKED_NOT_COMPARED = ("config.default.", "config.paths")


@dataclass
class ContractRun:
    """The sides' observations, their differences and the documented tables."""

    production: dict[str, Any]
    standin: dict[str, Any]
    backed: dict[str, Any]
    table: list[TableRow]
    backed_table: list[TableRow]
    chain: str
    differences: list[Difference] = field(default_factory=list)
    backed_differences: list[Difference] = field(default_factory=list)

    def documented(self) -> set[tuple[str, str]]:
        return {row.key for row in self.table}

    def backed_documented(self) -> set[tuple[str, str]]:
        return {row.key for row in self.backed_table}


RUNS: list[ContractRun] = []  # the session's run, for the terminal summary


def unavailable() -> str | None:
    """Why the contract suite cannot run here (one line), or None."""
    if not (CHECKOUT / "datamgmtnode" / "services" / "node.py").is_file():
        return f"contract suite: no production checkout at {CHECKOUT} (CI has one there)"
    from devnode.production.requirements import INSTALL, missing_packages

    missing = missing_packages()
    if missing:
        return f"contract suite: production needs {', '.join(missing)}; install with {INSTALL}"
    if not os.environ.get("BLOCKCHAIN_URL"):
        from devnode.production.anvil import AnvilNotFound, find_anvil

        try:
            find_anvil()
        except AnvilNotFound as exc:
            return f"contract suite: {exc}"
    return None



def run_both(base: Path) -> ContractRun:
    """One chain; production's node and the stand-in probed at the same time; their differences."""
    from devnode.production.chain import start_chain

    chain = start_chain(base / "chain", os.environ.get("BLOCKCHAIN_URL"))
    try:
        runs = []
        for side in SIDES:
            source = None if side == "standin" else CHECKOUT
            key = chain.accounts[ACCOUNT[side]].private_key
            prepare(base / side, chain.url, key, source if side == "production" else None)
            runs.append(start(side, base / side, source))
        production, standin, *rest = (run.wait() for run in runs)
        backed = rest[0] if rest else {}
    finally:
        chain.stop()
    run = ContractRun(production, standin, backed, read_table(PARITY), read_table(PARITY, BACKED_HEADING),
                      chain.describe())
    run.differences = differences(production, standin)
    run.backed_differences = [d for d in differences(production, backed) if not d.probe.startswith(BACKED_NOT_COMPARED)]
    return run



@dataclass
class SideRun:
    """One side's process and where it writes."""

    side: str
    workdir: Path
    out: Path
    proc: subprocess.Popen[bytes]
    started: float

    def wait(self) -> dict[str, Any]:
        try:
            self.proc.wait(SIDE_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        stderr = (self.workdir / "stderr.txt").read_text(errors="replace")
        if self.proc.returncode != 0 or not self.out.exists():
            tail = "\n".join(stderr.splitlines()[-30:])
            raise RuntimeError(f"the {self.side} side exited with {self.proc.returncode}:\n{tail}")
        data: dict[str, Any] = json.loads(self.out.read_text())
        data["_seconds"] = time.monotonic() - self.started
        return data


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(workdir: Path, chain_url: str, private_key: str, source: Path | None) -> None:
    """The author's project: plugins/ and a .env with the node's variables and a plugin setting."""
    plugins = workdir / "plugins"
    plugins.mkdir(parents=True)
    for path in PROBE_PLUGINS.glob("*.py"):
        shutil.copy(path, plugins / path.name)
    env_lines = [
        f"BLOCKCHAIN_URL={chain_url}",
        f"PRIVATE_KEY={private_key}",
        f"P2P_PORT={free_port()}",
        "DATA_DIR=./data",
        "DB_PATH=./data/nodedb",
        "SQLITE_DB_PATH=./data/sqlite.db",
        "PROBE_SETTING=from-dotenv",
        "PROBE_OVERRIDDEN=from-dotenv",
    ]
    (workdir / ".env").write_text("\n".join(env_lines) + "\n")
    if source is not None:  # production reads contracts/<name>.json relative to where it runs
        (workdir / "contracts").symlink_to(source / "contracts")


def start(side: str, workdir: Path, source: Path | None) -> SideRun:
    out = workdir / "observations.json"
    env = {k: v for k, v in os.environ.items() if k not in _NODE_VARIABLES and not k.startswith("PROBE_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        CONTRACT_JOURNAL=str(workdir / "journal.jsonl"),
        PROBE_OVERRIDDEN="from-environment",
        CONTRACT_RECEIVER=RECEIVERS[side],
    )
    argv = [sys.executable, "-c", "import contract_runner; contract_runner.main()", side, str(workdir), str(out)]
    if source is not None:
        argv.append(str(source))
    stderr = open(workdir / "stderr.txt", "wb")
    with stderr:
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    return SideRun(side, workdir, out, proc, time.monotonic())


_NODE_VARIABLES = {"BLOCKCHAIN_TYPE", "BLOCKCHAIN_URL", "PRIVATE_KEY", "NATIVE_TOKEN_ADDRESS", "DB_PATH",
                   "SQLITE_DB_PATH", "P2P_PORT", "PLUGIN_DIR", "NODE_ID", "NODE_SIGNATURE", "INITIAL_PEERS",
                   "DATA_DIR", "KEY_MASTER_PASSWORD", "LEDGER_FEE"}
