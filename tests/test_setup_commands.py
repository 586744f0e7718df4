"""README's first two commands are the whole set-up, and CI runs exactly the test command."""

from __future__ import annotations

import re

from conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL)][:2]


def test_readme_starts_with_the_run_command_and_the_test_command() -> None:
    run, tests = _readme_commands()
    assert run.startswith("python3 -m venv .venv && ") and run.endswith("devnode run plugins")
    # The tests include the production-backed node: its extra and the chain are part of the set-up.
    assert "'.[test,production]'" in tests and "devnode setup-chain" in tests
    assert tests.startswith("python3 -m venv .venv && ") and tests.endswith(".venv/bin/python -m pytest")


def test_ci_runs_exactly_readmes_test_command() -> None:
    _, tests = _readme_commands()
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[-1] == tests
