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

from contract_compare import BACKED_HEADING, BACKED_PENDING, Difference, read_table, write_table  # noqa: E402
from contract_session import PARITY, RUNS, ContractRun, run_both  # noqa: E402


@pytest.fixture(scope="session")
def contract_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractRun]:
    run = run_both(tmp_path_factory.mktemp("contract"))
    if os.environ.get("CONTRACT_WRITE_TABLE"):  # docs/parity.md: "Refreshing the tables"
        write_table(PARITY, run.differences)
        write_table(PARITY, run.backed_differences, BACKED_HEADING, BACKED_PENDING)
        run.table, run.backed_table = read_table(PARITY), read_table(PARITY, BACKED_HEADING)
    RUNS.append(run)
    yield run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The differences from production that remain, documented or not, for each devnode node."""
    if not RUNS:
        return
    run = RUNS[0]
    write = terminalreporter.write_line
    terminalreporter.section("contract suite: production vs devnode")
    probes = len([k for k in run.production if not k.startswith(("_", "runner."))])
    took = ", ".join(f"{obs['_seconds']:.1f} s ({name})" for name, obs in
                     (("production", run.production), ("stand-in", run.standin), ("production-backed", run.backed)) if obs)
    write(f"{probes} probes on {run.chain}; the sides took {took}, in parallel")
    _summary(write, "the stand-in", run.differences, run.documented())
    if run.backed:
        _summary(write, "the production-backed node", run.backed_differences, run.backed_documented())


def _summary(write: Any, what: str, found: list[Difference], documented: set[tuple[str, str]]) -> None:
    keys = {d.key for d in found}
    write(f"{what}: {len(found)} differences ({len(keys & documented)} documented in docs/parity.md, "
          f"{len(keys - documented)} not); {len(documented - keys)} table rows no longer differ")
    for diff in found:
        mark = "  " if diff.key in documented else "! "
        write(mark + diff.render(110).replace("\n", "\n  "))
    for key in sorted(documented - keys):
        write(f"- {key[0]} [{key[1]}]: documented but no longer differs (remove the row)")
