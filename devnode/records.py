"""The fields of each record kind: one TypedDict per kind, as docs/json-records.md documents them.

``Reporter.emit`` is typed with these (one overload per kind), so mypy checks the fields at
every emit site; tests/test_records.py checks them against docs/json-records.md both ways.
``kind`` and ``ts`` are added by the reporter and are not listed here. Values JSON cannot hold
(a ``Path``, an odd object in event data) are written as text by the JSON output.

The runtime required/optional split is not used: under ``from __future__ import annotations``
Python 3.11 counts every key as required at run time; mypy reads ``NotRequired`` correctly.
"""

from __future__ import annotations

from os import PathLike
from typing import Any, NotRequired, TypedDict

from devnode.codes import FamilyCode, RecordKind, WarningCode

PathText = str | PathLike[str]  # written as its text


# -- node lifecycle -------------------------------------------------------------------------------------

class NodeKindFields(TypedDict):
    """What ``node.ready`` says about the node (``NodeSession.ready_fields()``): its kind and its chain."""

    node: str
    chain: str
    checkout: NotRequired[str]
    chain_kind: NotRequired[str | None]
    authorize: NotRequired[str]


class RunExtrasFields(TypedDict):
    """What ``node.ready`` says about the run (``authoring.ready_fields()``): the watch scope, a restart, tests."""

    scope: NotRequired[dict[str, Any]]
    restarted: NotRequired[str]
    testing: NotRequired[bool]


class NodeReady(NodeKindFields, RunExtrasFields):
    """``node.ready``: every plugin is loaded (or failed) and the watcher runs."""

    node_id: str
    plugin_dir: PathText
    data_dir: PathText
    plugins: list[str]
    watching: bool


class NodeStopped(TypedDict):
    """``node.stopped``: the last record."""

    reason: str
    abandoned: NotRequired[list[str]]


class NodeRestarting(TypedDict):
    """``node.restarting``: a restart in place was asked for."""

    reason: str


class ConfigChanged(TypedDict):
    """``config.changed``: the ``.env`` in use changed and is valid."""

    file: str
    changed: list[dict[str, Any]]
    action: str
    message: str


# -- plugins ----------------------------------------------------------------------------------------------

class PluginCounts(TypedDict):
    """What a plugin registered (``Ledger.counts()``)."""

    subscriptions: int
    tasks: int
    patches: int
    threads: int


class PluginLoaded(PluginCounts):
    """``plugin.loaded``: imported, constructed and initialized."""

    plugin: str
    version: Any  # the plugin's own ``version`` attribute, whatever it is
    file: str
    timings: dict[str, float]


class PluginReloaded(PluginCounts):
    """``plugin.reloaded``: a new version replaced the running one."""

    plugin: str
    version: Any
    trigger: list[str]
    timings: dict[str, float]


class ProblemFields(TypedDict):
    """A plugin's failure explained (``PluginProblem.to_record()``): shared by ``plugin.failed`` and ``plugin.error``."""

    plugin: str
    phase: str
    error: str
    file: str | None
    line: int | None
    column: int | None
    hint: str | None
    code: str | None  # the source line
    traceback: str


class PluginFailed(ProblemFields):
    """``plugin.failed``: a plugin could not be loaded, reloaded, started or shut down."""

    running: str
    trigger: NotRequired[list[str]]


class FailureContext(TypedDict):
    """Where a serving plugin's code failed: its handler and the event, or its task."""

    handler: NotRequired[str]
    event: NotRequired[str]
    task: NotRequired[str]


class PluginError(ProblemFields, FailureContext):
    """``plugin.error``: a serving plugin's handler or task raised; it keeps serving."""

    running: str


class PluginUnloaded(TypedDict):
    """``plugin.unloaded``: a plugin was shut down."""

    plugin: str
    reason: str


class WarningRecord(TypedDict):
    """``warning``: works under devnode but is wrong, or would differ in production."""

    code: WarningCode | FamilyCode  # a family's (``config-*``) is built per subject: ``codes.warning_code``
    plugin: str | None
    message: str
    file: NotRequired[str | None]
    line: NotRequired[int | None]
    # added by some codes (docs/troubleshooting.md#warnings)
    cleaned: NotRequired[dict[str, list[str]]]
    left: NotRequired[list[str]]
    holders: NotRequired[list[str]]
    seconds: NotRequired[float]
    stack: NotRequired[str]
    tasks: NotRequired[list[str]]
    threads: NotRequired[list[str]]
    traceback: NotRequired[str]
    production: NotRequired[str]
    restart: NotRequired[bool]  # set by the restart offer (authoring.offer_restart)


# -- events and logs ----------------------------------------------------------------------------------------

class HandlerEntry(TypedDict):
    """One handler that ran for an ``event``."""

    plugin: str | None
    handler: str
    ok: bool
    ms: float
    error: str | None
    debugged: NotRequired[bool]


class EventRecord(TypedDict):
    """``event``: an event was dispatched on the bus."""

    type: str
    data: Any
    handlers: list[HandlerEntry]


class Log(TypedDict):
    """``log``: a plugin logged or printed (or devnode left a note with a ``code``)."""

    plugin: str | None
    level: str
    logger: str
    message: str
    file: NotRequired[str]
    line: NotRequired[int | None]  # a contract note on a method whose line is unknown: null
    code: NotRequired[str]  # a NoteCode: a hint, not a warning


# -- commands ------------------------------------------------------------------------------------------------

class Help(TypedDict):
    """``help``: the commands."""

    commands: list[dict[str, str]]


class Status(TypedDict):
    """``status``: every plugin, the bus and the peers."""

    plugins: list[dict[str, Any]]
    subscriptions: int
    events: int
    peers: list[str]


class CommandResult(TypedDict):
    """``command.result``: a command succeeded with a result."""

    command: str
    result: Any


class CommandError(TypedDict):
    """``command.error``: a command could not run."""

    command: str
    error: str


class Peers(TypedDict):
    """``peers``: the simulated peers."""

    peers: list[dict[str, Any]]


# -- tests on save ---------------------------------------------------------------------------------------------

class PytestSummary(TypedDict):
    """What a test run came to (``TestRunner``'s summary): the ``tests.finished`` fields after its subject."""

    outcome: str
    passed: int
    failed: int
    errors: int
    skipped: int
    failures: list[str]
    seconds: float
    exit_code: int | None
    running: NotRequired[str | None]
    message: NotRequired[str]
    output: NotRequired[list[str]]


class TestsFinished(PytestSummary):
    """``tests.finished``: the tests covering the reloaded plugins ran."""

    plugins: list[str]
    files: list[str]


# -- scenarios and replays -------------------------------------------------------------------------------------

class ScenarioStarted(TypedDict):
    """``scenario.started``."""

    scenario: str
    file: str
    steps: int
    iteration: int
    description: str


class ScenarioStep(TypedDict):
    """``scenario.step``: one step played."""

    scenario: str
    index: int
    where: str
    line: int | None
    action: str
    step: str
    note: str | None
    ok: bool
    error: str | None
    tolerated: bool
    result: Any


class ScenarioFinished(TypedDict):
    """``scenario.finished``."""

    scenario: str
    file: str
    iteration: int
    ok: bool
    steps: int
    failed: int
    seconds: float
    failures: list[dict[str, Any]]


class PlaybackError(TypedDict):
    """``scenario.error`` and ``replay.error``: the file could not be played."""

    file: NotRequired[str]
    problems: NotRequired[list[str]]
    error: NotRequired[str]


class ReplayStarted(TypedDict):
    """``replay.started``."""

    file: str
    events: int
    skipped: int
    fast: bool


class ReplayFinished(TypedDict):
    """``replay.finished``."""

    file: str
    replayed: int
    skipped: int
    ok: bool
    seconds: float
    failures: list[dict[str, Any]]
    changed: list[dict[str, Any]]


# -- the editor's debugger ------------------------------------------------------------------------------------

class DebuggerEndpoint(TypedDict):
    """``debugger.listening``, ``.waiting``, ``.attached``, ``.detached``: where the adapter listens."""

    host: str
    port: int


class PluginPlace(TypedDict):
    """The innermost plugin frame: its plugin, file and line."""

    plugin: str
    file: str
    line: int


class DebuggerStop(PluginPlace):
    """``debugger.stopped`` and ``debugger.resumed``: a thread held (or let go) in plugin code."""

    on_loop: bool


FIELDS: dict[RecordKind, type] = {
    RecordKind.NODE_READY: NodeReady,
    RecordKind.NODE_STOPPED: NodeStopped,
    RecordKind.NODE_RESTARTING: NodeRestarting,
    RecordKind.CONFIG_CHANGED: ConfigChanged,
    RecordKind.PLUGIN_LOADED: PluginLoaded,
    RecordKind.PLUGIN_RELOADED: PluginReloaded,
    RecordKind.PLUGIN_FAILED: PluginFailed,
    RecordKind.PLUGIN_ERROR: PluginError,
    RecordKind.PLUGIN_UNLOADED: PluginUnloaded,
    RecordKind.WARNING: WarningRecord,
    RecordKind.EVENT: EventRecord,
    RecordKind.LOG: Log,
    RecordKind.HELP: Help,
    RecordKind.STATUS: Status,
    RecordKind.COMMAND_RESULT: CommandResult,
    RecordKind.COMMAND_ERROR: CommandError,
    RecordKind.PEERS: Peers,
    RecordKind.TESTS_FINISHED: TestsFinished,
    RecordKind.SCENARIO_STARTED: ScenarioStarted,
    RecordKind.SCENARIO_STEP: ScenarioStep,
    RecordKind.SCENARIO_FINISHED: ScenarioFinished,
    RecordKind.SCENARIO_ERROR: PlaybackError,
    RecordKind.REPLAY_STARTED: ReplayStarted,
    RecordKind.REPLAY_FINISHED: ReplayFinished,
    RecordKind.REPLAY_ERROR: PlaybackError,
    RecordKind.DEBUGGER_LISTENING: DebuggerEndpoint,
    RecordKind.DEBUGGER_WAITING: DebuggerEndpoint,
    RecordKind.DEBUGGER_ATTACHED: DebuggerEndpoint,
    RecordKind.DEBUGGER_DETACHED: DebuggerEndpoint,
    RecordKind.DEBUGGER_STOPPED: DebuggerStop,
    RecordKind.DEBUGGER_RESUMED: DebuggerStop,
}
"""The fields TypedDict of each kind (for tests and tools; mypy reads ``Reporter.emit``'s overloads)."""
