"""Plays a scenario against a live node and its plugins, reporting each step as it goes."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from devnode.bus import Event, EventBus
from devnode.node import controls
from devnode.node.lookup import address_of, token_of
from devnode.reporting import Reporter
from devnode.scenarios.expect import EventLog, check_event, check_plugin
from devnode.scenarios.model import Scenario, Step

DEFAULT_WITHIN = 1.0  # seconds an expectation may wait for late events (latency, publish_soon)
POLL_SECONDS = 0.01


@dataclass
class StepOutcome:
    """How one step went: ``ok`` false makes the scenario fail, unless ``tolerated``."""

    step: Step
    ok: bool
    error: str | None = None
    result: Any = None
    tolerated: bool = False


@dataclass
class ScenarioResult:
    scenario: Scenario
    iteration: int
    outcomes: list[StepOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[StepOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failures


class ScenarioPlayer:
    """Runs steps on ``node`` (its bus, network and tokens); judges expectations with ``host``."""

    def __init__(self, node: Any, host: Any, reporter: Reporter) -> None:
        self.node = node
        self.host = host
        self.reporter = reporter

    @property
    def bus(self) -> EventBus:
        return self.node.event_bus  # type: ignore[no-any-return]

    async def play(self, scenario: Scenario, iteration: int = 1) -> ScenarioResult:
        result = ScenarioResult(scenario, iteration)
        log = EventLog()
        self.bus.add_observer(log)
        started = time.monotonic()
        self.reporter.emit("scenario.started", scenario=scenario.name, file=scenario.file,
                           steps=len(scenario.steps), iteration=iteration, description=scenario.description)
        try:
            await self._prepare(scenario)
            window = 0
            for step in scenario.steps:
                delay = step.get("at", 0.0) - (time.monotonic() - started)
                if delay > 0:
                    await asyncio.sleep(delay)
                if step.is_action:
                    window = len(log.seen)
                outcome = await self._play_step(step, log, 0 if step.get("scope") == "run" else window)
                result.outcomes.append(outcome)
                self._report(scenario, outcome)
        finally:
            self.bus.remove_observer(log)
        result.seconds = time.monotonic() - started
        self.reporter.emit(
            "scenario.finished", scenario=scenario.name, file=scenario.file, iteration=iteration, ok=result.ok,
            steps=len(result.outcomes), failed=len(result.failures), seconds=round(result.seconds, 3),
            failures=[{"index": o.step.index, "where": o.step.where, "step": o.step.describe(), "error": o.error}
                      for o in result.failures],
        )
        return result

    async def _prepare(self, scenario: Scenario) -> None:
        # The stand-in's simulated peers and their drops; production's node has neither (there a peer's name
        # is only the label of what it sends, and peer_down/peer_set steps fail saying why).
        if controls.is_simulated(self.node):
            network = self.node.p2p_network
            for peer in scenario.peers:
                if network.find_peer(peer) is None:
                    network.add_peer(peer)
            if scenario.seed is not None:
                network.reseed(scenario.seed)
        await self.bus.drain()

    def _report(self, scenario: Scenario, outcome: StepOutcome) -> None:
        step = outcome.step
        self.reporter.emit(
            "scenario.step", scenario=scenario.name, index=step.index, where=step.where, line=step.line,
            action=step.kind, step=step.describe(), note=step.get("note"), ok=outcome.ok, error=outcome.error,
            tolerated=outcome.tolerated, result=outcome.result,
        )

    # -- one step ----------------------------------------------------------------------------
    async def _play_step(self, step: Step, log: EventLog, window: int) -> StepOutcome:
        if step.kind == "expect":
            plugins = sorted(self.host.plugins)
            return await self._expect(step, lambda: check_event(step, log.since(window), plugins))
        if step.kind == "expect_plugin":
            return await self._expect(step, lambda: check_plugin(step, self.host))
        try:
            value = await _RUNNERS[step.kind](self, step)
        except Exception as exc:  # whatever the node or a plugin raised is the step's outcome
            await self.bus.drain()
            return _judge_failure(step, f"{type(exc).__name__}: {exc}")
        await self.bus.drain()
        fails = step.get("fails")
        if fails:
            expected = f' with "{fails}"' if isinstance(fails, str) else ""
            return StepOutcome(step, False, f"expected {step.kind} to fail{expected}, but it succeeded", value)
        return StepOutcome(step, True, result=value)

    async def _expect(self, step: Step, check: Callable[[], str | None]) -> StepOutcome:
        await self.bus.drain()
        deadline = time.monotonic() + step.get("within", DEFAULT_WITHIN)
        while (problem := check()) is not None and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
        return StepOutcome(step, problem is None, problem)

    # -- the actions -------------------------------------------------------------------------
    async def _emit(self, step: Step) -> Any:
        results = await self.bus.dispatch(Event(step.value, copy.deepcopy(step.get("data", {}))))
        return {"handlers": len(results)}

    async def _share(self, step: Step) -> Any:
        data = step.get("data")
        # Production's LevelDB store takes str or bytes: a table is shared as its JSON text.
        text = data if isinstance(data, str) else json.dumps(data)
        recipient = step.value
        payment: dict[str, Any] = {}
        if step.get("payment_token") is not None:
            # The recipient pays the node, from an address: a peer's name stands for the peer's address.
            recipient = address_of(self.node, recipient)
            payment = {"payment_token": token_of(self.node, step.get("payment_token")),
                       "payment_amount": step.get("payment_amount")}
        return {"compliance_tx_hash": await self.node.share_data(text, recipient, **payment)}

    async def _receive(self, step: Step) -> Any:
        return {"data_hash": await controls.receive(self.node, step.value, copy.deepcopy(step.get("data")))}

    async def _transfer(self, step: Step) -> Any:
        node = self.node
        source = address_of(node, step.get("from")) if step.get("from") else controls.own_address(node)
        to = address_of(node, step.get("to"))
        tx = node.token_manager.transfer_tokens(token_of(node, step.value), source, to, step.get("amount"))
        return {"tx_hash": tx}

    async def _status(self, step: Step) -> Any:
        if step.value:
            await controls.publish_status(self.node)
        return None

    async def _peer_up(self, step: Step) -> Any:
        return {"changed": await controls.connect(self.node, step.value)}  # on production: connect_to_peer(URL)

    async def _peer_down(self, step: Step) -> Any:
        return {"changed": await controls.require_simulation(self.node, "peer_down").disconnect_peer(step.value)}

    async def _peer_set(self, step: Step) -> Any:
        network = controls.require_simulation(self.node, "peer_set")
        peer = network.set_conditions(step.value, step.get("latency_ms"), step.get("drop"))
        return {"latency_ms": peer.latency_ms, "drop_rate": peer.drop_rate}

    async def _wait(self, step: Step) -> Any:
        await asyncio.sleep(step.value)
        return None


def _judge_failure(step: Step, error: str) -> StepOutcome:
    fails = step.get("fails")
    if fails is True or (isinstance(fails, str) and fails.lower() in error.lower()):
        return StepOutcome(step, True, result={"failed_as_expected": error})
    if isinstance(fails, str):
        return StepOutcome(step, False, f'expected an error containing "{fails}", got {error}')
    if step.get("may_fail"):
        return StepOutcome(step, True, error, tolerated=True)
    return StepOutcome(step, False, error)


_RUNNERS: dict[str, Callable[[ScenarioPlayer, Step], Awaitable[Any]]] = {
    "emit": ScenarioPlayer._emit,
    "share": ScenarioPlayer._share,
    "receive": ScenarioPlayer._receive,
    "transfer": ScenarioPlayer._transfer,
    "peer_up": ScenarioPlayer._peer_up,
    "peer_down": ScenarioPlayer._peer_down,
    "peer_set": ScenarioPlayer._peer_set,
    "wait": ScenarioPlayer._wait,
    "status": ScenarioPlayer._status,
}
