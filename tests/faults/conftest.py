"""Fixtures of the fault catalogue (the bench itself lives in faultkit)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import HostHarness

from faults.faultkit import FAULTY, WITNESS, Bench


@pytest.fixture
def bench(harness: Callable[..., HostHarness], plugin_dir: Path) -> Iterator[Callable[..., Bench]]:
    """``bench(faulty_source=..., **host_options)``: witness + faulty v1 loaded, started."""
    made: list[Bench] = []

    def make(faulty: str | None = None, *, timeout: float = 2.0, **options: Any) -> Bench:
        (plugin_dir / "witness_plugin.py").write_text(WITNESS.lstrip())
        if faulty is not None:
            (plugin_dir / f"{FAULTY}.py").write_text(faulty)
        b = Bench(harness(timeout=timeout), **options)
        made.append(b)
        return b.start()

    yield make
    for b in made:
        b.close()
