"""Scenarios: hand-written TOML files of timed steps and expectations, played against live plugins."""

from __future__ import annotations

from devnode.scenarios.model import Scenario, Step
from devnode.scenarios.parse import ScenarioError, load_scenario, parse_scenario
from devnode.scenarios.player import ScenarioPlayer, ScenarioResult, StepOutcome

__all__ = [
    "Scenario", "ScenarioError", "ScenarioPlayer", "ScenarioResult", "Step", "StepOutcome",
    "load_scenario", "parse_scenario",
]
