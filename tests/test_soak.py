"""The soak script: a short run passes all its checks, and its fault variants are what they claim."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT, HostHarness, clean_env

SCRIPT = ROOT / "scripts" / "soak.py"


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("devnode_soak_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_short_soak_passes_every_check(tmp_path: Path) -> None:
    """About 12 s of edits and faults while events flow, on a plugin author's machine (bytecode on)."""
    proc = subprocess.run([sys.executable, str(SCRIPT), "--minutes", "0.2", "--seed", "7", "--keep", str(tmp_path / "w")],
                          env=clean_env(bytecode=True), capture_output=True, text=True, timeout=240)
    summary = proc.stdout
    assert proc.returncode == 0, summary + proc.stderr
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in summary.splitlines()[2:] if not line.startswith(" "))
    assert rows["result"] == "PASS"
    assert "missed 0, duplicated 0" in rows["events delivered"]
    assert rows["leaks"].startswith("0 ")
    assert "torn" in rows["audit log"] and rows["audit log"].endswith(", 0 torn")
    edits = int(rows["edits"].split()[0])
    assert edits >= 15, summary
    assert not (tmp_path / "w" / "plugins" / "__pycache__").exists()


SOAK = load_soak()


@pytest.mark.parametrize("variant", SOAK.VARIANTS)
def test_soak_variant_loads_or_fails_as_labelled(
    variant: str, harness: Callable[..., HostHarness], plugin_dir: Path
) -> None:
    """The soak's expectations are only as good as its labels: check each one for real."""
    kind, slots = SOAK.VARIANTS[variant]
    (plugin_dir / f"{SOAK.HELPER}.py").write_text(SOAK.HELPER_VARIANTS["valid"].format(n=1))
    source = SOAK.render("soak_a", "5", variant)
    path = plugin_dir / "soak_a.py"
    path.write_bytes(source if isinstance(source, bytes) else source.encode())
    h = harness(timeout=1.0).start()
    state = h.host.status()[0]["state"] if h.host.status() else "no slot"
    if kind == "load":
        assert state == "failed", h.kinds("plugin.failed")
    else:
        assert state == "active", h.kinds("plugin.failed")
        assert h.host.get_plugin("soak_a").version == "5"
        assert h.host.slot_for_tests("soak_a").ledger.counts()["subscriptions"] == 2
