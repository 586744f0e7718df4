"""Production's node and devnode's stand-in, probe for probe: every difference is in docs/parity.md.

A difference missing from the table fails its probe's test; a row that no longer
describes a difference fails too, so the table stays true. The probes are in
contract_probes.py; docs/parity.md says how to read and refresh the table.
"""

from __future__ import annotations

import re

import pytest
from contract_session import PARITY, ContractRun, unavailable
from contract_compare import ASPECTS, read_table
from contract_probes import PROBES

REASON = unavailable()
if REASON:
    pytest.skip(REASON, allow_module_level=True)

STOP_PROBES = ["stop.events", "stop.raising_shutdowns_called", "stop.after_first_raiser_shut_down", "stop.logs"]
NAMES = [name for name, _ in PROBES] + STOP_PROBES


@pytest.mark.parametrize("probe", NAMES)
def test_probe_matches_production_or_is_documented(contract_run: ContractRun, probe: str) -> None:
    found = {d.aspect: d for d in contract_run.differences if d.probe == probe}
    documented = {row.aspect for row in contract_run.table if row.probe == probe}
    undocumented = [found[a].render(400) for a in sorted(set(found) - documented)]
    stale = sorted(documented - set(found))
    assert not undocumented, "differs from production and is not in docs/parity.md:\n" + "\n".join(undocumented)
    assert not stale, f"docs/parity.md lists {probe} {stale} but the stand-in now matches production: remove the row"


def test_production_ran_every_probe(contract_run: ContractRun) -> None:
    """A probe that breaks on production's own node is a broken probe, not an observation."""
    missing = [name for name in NAMES if name not in contract_run.production]
    broken = [name for name, obs in contract_run.production.items()
              if isinstance(obs, dict) and isinstance(obs.get("result"), dict) and "probe_failed" in obs["result"]]
    assert not missing and not broken, f"missing: {missing}; broken on production: {broken}"


def test_table_rows_name_real_probes_and_aspects() -> None:
    rows = read_table(PARITY)
    assert rows, f"no table rows found in {PARITY}"
    wrong = [f"line {r.line}: {r.probe} [{r.aspect}]" for r in rows if r.probe not in NAMES or r.aspect not in ASPECTS]
    assert not wrong, f"rows that name no probe or aspect: {wrong}"
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys)), "a probe/aspect pair is listed twice"


def test_every_row_has_a_reason_and_a_warning_cell() -> None:
    bad = [f"line {r.line}" for r in read_table(PARITY) if len(r.cells) < 2 or not all(c.strip() for c in r.cells)]
    assert not bad, f"rows with an empty reason or warning cell: {bad}"


def test_warning_codes_are_emitted_by_the_stand_in(contract_run: ContractRun) -> None:
    """A row's warning code is one devnode really emitted while that probe ran."""
    wrong = []
    for row in contract_run.table:
        if row.warning == "none":
            continue
        emitted = contract_run.standin.get(row.probe, {}).get("warnings", [])
        if row.warning not in emitted:
            wrong.append(f"line {row.line}: {row.probe} says `{row.warning}`, the stand-in emitted {emitted or 'none'}")
    assert not wrong, "\n".join(wrong)


def test_production_ran_without_devnode(contract_run: ContractRun) -> None:
    assert contract_run.production["runner.devnode_modules"]["result"] == []


def test_stand_in_side_ran_cleanly(contract_run: ContractRun) -> None:
    exit_code = contract_run.standin.get("runner.exit_code", {}).get("result")
    assert exit_code == "int", contract_run.standin.get("runner")
    assert "runner" not in contract_run.standin, contract_run.standin["runner"]


def test_summary_names_the_table() -> None:
    text = PARITY.read_text()
    assert re.search(r"^## Remaining differences$", text, re.M), "docs/parity.md lost its table heading"
