"""The contract session: one chain, production's node and the stand-in probed side by side, once per run.

The probes run in two processes at the same time (see contract_runner); the
tests compare their observations with docs/parity.md, and the terminal summary
lists every difference that remains, so the stand-in work can drive it to the
documented set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the probe modules, importable by the tests as by the side processes

from contract_compare import read_table, write_table  # noqa: E402
from contract_session import PARITY, RUNS, ContractRun, run_both  # noqa: E402


@pytest.fixture(scope="session")
def contract_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractRun]:
    run = run_both(tmp_path_factory.mktemp("contract"))
    if os.environ.get("CONTRACT_WRITE_TABLE"):  # docs/parity.md: "Refreshing the table"
        write_table(PARITY, run.differences)
        run.table = read_table(PARITY)
    RUNS.append(run)
    yield run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The differences from the stand-in that remain, documented or not."""
    if not RUNS:
        return
    run = RUNS[0]
    documented = run.documented()
    found = {d.key for d in run.differences}
    write = terminalreporter.write_line
    terminalreporter.section("contract suite: production vs the stand-in")
    probes = len([k for k in run.production if not k.startswith(("_", "runner."))])
    write(f"{probes} probes on {run.chain}; {len(run.differences)} differences "
          f"({len(found & documented)} documented in docs/parity.md, {len(found - documented)} not); "
          f"{len(documented - found)} table rows no longer differ")
    write(f"sides took {run.production['_seconds']:.1f} s (production) and {run.standin['_seconds']:.1f} s "
          "(stand-in), in parallel")
    for diff in run.differences:
        mark = "  " if diff.key in documented else "! "
        write(mark + diff.render(110).replace("\n", "\n  "))
    for key in sorted(documented - found):
        write(f"- {key[0]} [{key[1]}]: documented but no longer differs (remove the row)")
