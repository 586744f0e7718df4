"""Production's node and devnode's stand-in, probe for probe: every difference is in docs/parity.md.

A difference missing from the table fails its probe's test; a row that no longer
describes a difference fails too, so the table stays true. The probes are in
contract_probes.py; docs/parity.md says how to read and refresh the table.
"""

from __future__ import annotations

import re

import pytest
from contract_session import PARITY, SIDES, ContractRun, unavailable
from contract_compare import ASPECTS, BACKED_HEADING, TABLE_HEADING, Difference, TableRow, read_table
from contract_probes import PROBES

REASON = unavailable()
if REASON:
    pytest.skip(REASON, allow_module_level=True)

STOP_PROBES = ["stop.events", "stop.raising_shutdowns_called", "stop.after_first_raiser_shut_down", "stop.logs"]
NAMES = [name for name, _ in PROBES] + STOP_PROBES


@pytest.mark.parametrize("probe", NAMES)
def test_stand_in_matches_production_or_is_documented(contract_run: ContractRun, probe: str) -> None:
    _check(probe, contract_run.differences, contract_run.table, "the stand-in")


@pytest.mark.parametrize("probe", NAMES)
def test_production_backed_node_matches_production_or_is_documented(contract_run: ContractRun, probe: str) -> None:
    """A plugin behaves the same under `devnode run --node production` as in a plain production Node."""
    if "production-backed" not in SIDES:
        pytest.skip("the production-backed node is not compared yet (contract_session.SIDES)")
    _check(probe, contract_run.backed_differences, contract_run.backed_table, "the production-backed node")


def _check(probe: str, differences: list[Difference], table: list[TableRow], node: str) -> None:
    found = {d.aspect: d for d in differences if d.probe == probe}
    documented = {row.aspect for row in table if row.probe == probe}
    undocumented = [found[a].render(400) for a in sorted(set(found) - documented)]
    stale = sorted(documented - set(found))
    assert not undocumented, f"{node} differs from production and docs/parity.md does not say so:\n" + "\n".join(undocumented)
    assert not stale, f"docs/parity.md lists {probe} {stale} for {node}, which now matches production: remove the row"


def test_production_ran_every_probe(contract_run: ContractRun) -> None:
    """A probe that breaks on production's own node is a broken probe, not an observation."""
    missing = [name for name in NAMES if name not in contract_run.production]
    broken = [name for name, obs in contract_run.production.items()
              if isinstance(obs, dict) and isinstance(obs.get("result"), dict) and "probe_failed" in obs["result"]]
    assert not missing and not broken, f"missing: {missing}; broken on production: {broken}"


@pytest.mark.parametrize("heading", [TABLE_HEADING, BACKED_HEADING])
def test_table_rows_name_real_probes_and_aspects(heading: str) -> None:
    rows = read_table(PARITY, heading)
    wrong = [f"line {r.line}: {r.probe} [{r.aspect}]" for r in rows if r.probe not in NAMES or r.aspect not in ASPECTS]
    assert not wrong, f"rows that name no probe or aspect: {wrong}"
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys)), "a probe/aspect pair is listed twice"


@pytest.mark.parametrize("heading", [TABLE_HEADING, BACKED_HEADING])
def test_every_row_has_a_reason_and_a_warning_cell(heading: str) -> None:
    rows = read_table(PARITY, heading)
    bad = [f"line {r.line}" for r in rows if len(r.cells) < 2 or not all(c.strip() for c in r.cells)]
    assert not bad, f"rows with an empty reason or warning cell: {bad}"


DEVNODE_SIDES = ["standin", "backed"] if "production-backed" in SIDES else ["standin"]


@pytest.mark.parametrize("node", DEVNODE_SIDES)
def test_warning_codes_are_emitted_by_devnode(contract_run: ContractRun, node: str) -> None:
    """A row's warning code is one devnode really emitted while that probe ran (or once, at start-up).

    devnode says a thing once per plugin: a row may instead name, in backticks in its reason, the
    earlier probe during which the warning was given (e.g. "as at `compliance.history`").
    """
    wrong = []
    observations = contract_run.standin if node == "standin" else contract_run.backed
    for row in contract_run.table if node == "standin" else contract_run.backed_table:
        if row.warning == "none":
            continue
        named = [name for name in re.findall(r"`([a-z0-9_]+\.[a-z0-9_.]+)`", row.cells[-2]) if name in NAMES]
        emitted = observations.get(row.probe, {}).get("warnings", []) + observations["runner.startup_warnings"]["result"]
        for earlier in named:
            emitted = emitted + observations.get(earlier, {}).get("warnings", [])
        if row.warning not in emitted:
            wrong.append(f"line {row.line}: {row.probe} says `{row.warning}`, the stand-in emitted {emitted or 'none'}")
    assert not wrong, "\n".join(wrong)


def test_production_ran_without_devnode(contract_run: ContractRun) -> None:
    assert contract_run.production["runner.devnode_modules"]["result"] == []


@pytest.mark.parametrize("node", DEVNODE_SIDES)
def test_devnode_side_ran_cleanly(contract_run: ContractRun, node: str) -> None:
    observations = contract_run.standin if node == "standin" else contract_run.backed
    assert "runner" not in observations, observations["runner"]
    assert observations["runner.exit_code"]["result"] == 0, "devnode run exited with a problem"


def test_the_page_keeps_both_table_headings() -> None:
    text = PARITY.read_text()
    for heading in (TABLE_HEADING, BACKED_HEADING):
        assert re.search(f"^{re.escape(heading)}$", text, re.M), f"docs/parity.md lost its heading {heading!r}"
