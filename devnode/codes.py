"""The names of devnode's record stream: every record ``kind`` and every warning ``code`` it emits.

Records are a public interface (``--ui json``, the test kit, recordings), so these values are part
of it: docs/json-records.md has a section per kind, docs/troubleshooting.md a table row per code.
tests/test_codes.py parses the package and fails when an emit site uses a kind or code missing
here, when a name here is emitted nowhere, or when the docs and this list disagree. Adding a kind
or code means: the member here, the emit site, the docs entry.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NewType


class RecordKind(StrEnum):
    """The ``kind`` of each record a Reporter emits (docs/json-records.md)."""

    # node lifecycle
    NODE_READY = "node.ready"
    NODE_STOPPED = "node.stopped"
    NODE_RESTARTING = "node.restarting"
    CONFIG_CHANGED = "config.changed"
    # plugins
    PLUGIN_LOADED = "plugin.loaded"
    PLUGIN_RELOADED = "plugin.reloaded"
    PLUGIN_FAILED = "plugin.failed"
    PLUGIN_ERROR = "plugin.error"
    PLUGIN_UNLOADED = "plugin.unloaded"
    WARNING = "warning"
    # events and logs
    EVENT = "event"
    LOG = "log"
    # commands
    HELP = "help"
    STATUS = "status"
    COMMAND_RESULT = "command.result"
    COMMAND_ERROR = "command.error"
    PEERS = "peers"
    # tests on save (devnode run --test)
    TESTS_FINISHED = "tests.finished"
    # scenarios and replays
    SCENARIO_STARTED = "scenario.started"
    SCENARIO_STEP = "scenario.step"
    SCENARIO_FINISHED = "scenario.finished"
    SCENARIO_ERROR = "scenario.error"
    REPLAY_STARTED = "replay.started"
    REPLAY_FINISHED = "replay.finished"
    REPLAY_ERROR = "replay.error"
    # the editor's debugger (--debug-adapter)
    DEBUGGER_LISTENING = "debugger.listening"
    DEBUGGER_WAITING = "debugger.waiting"
    DEBUGGER_ATTACHED = "debugger.attached"
    DEBUGGER_DETACHED = "debugger.detached"
    DEBUGGER_STOPPED = "debugger.stopped"
    DEBUGGER_RESUMED = "debugger.resumed"


class WarningCode(StrEnum):
    """The ``code`` of each ``warning`` record (docs/troubleshooting.md#warnings)."""

    # what a plugin left behind at shutdown or unload (host/sweep.py, host/host.py)
    CLEANUP = "cleanup"
    THREAD_LEFT_RUNNING = "thread-left-running"
    PATCH_OVERWRITTEN = "patch-overwritten"
    LEAK = "leak"
    # a reload that could not be carried out in full (host/swap.py, host/host.py, reload/)
    RESTORE_FAILED = "restore-failed"
    RESTACK_FAILED = "restack-failed"
    SAVE_STATE_FAILED = "save-state-failed"
    NOT_A_FILE = "not-a-file"
    OUTSIDE_SCOPE_CHANGED = "outside-scope-changed"
    RELOAD_ERROR = "reload-error"
    # production parity: works here, would differ in the node (host/parity.py, contract.py, dependencies.py, links.py)
    HELPER_LOADED_AS_PLUGIN = "helper-loaded-as-plugin"
    PLUGIN_DIR_NAME = "plugin-dir-name"
    MISSING_INITIALIZE = "missing-initialize"
    MISSING_SHUTDOWN = "missing-shutdown"
    ASYNC_INITIALIZE = "async-initialize"
    ASYNC_SHUTDOWN = "async-shutdown"
    SHUTDOWN_RAISES = "shutdown-raises"
    LIFECYCLE_TYPO = "lifecycle-typo"
    UNDECLARED_IMPORT = "undeclared-import"
    SYMLINK_OUTSIDE = "symlink-outside"
    LOAD_ORDER = "load-order"  # devnode check only
    # the event loop blocked (watchdog.py)
    STALL = "stall"
    STALL_ENDED = "stall-ended"
    # the node and the session (session.py, production/, authoring.py, debug_adapter.py)
    KEY_PERMISSIONS = "key-permissions"
    PRODUCTION_AUTHORIZATION = "production-authorization"
    PRODUCTION_CHAIN = "production-chain"
    ENV_INVALID = "env-invalid"
    DEBUG_ADAPTER_EXPOSED = "debug-adapter-exposed"
    # the stand-in does what production intends or deliberately differs (bus/, node/, host/parity.py)
    INITIALIZE_RAISES = "initialize-raises"
    HANDLER_EXIT = "handler-exit"
    DISPATCH_ORDER = "dispatch-order"
    SIGNED_BY_NODE = "signed-by-node"
    SHARE_AUTHORIZATION = "share-authorization"
    DATA_RECEIVED_NEVER_PUBLISHED = "data-received-never-published"
    COMPLIANCE_HISTORY_WEB3 = "compliance-history-web3"
    ERC20_NO_BYTECODE = "erc20-no-bytecode"
    STANDIN_LIMIT = "standin-limit"
    SIMULATED_PEERS = "simulated-peers"
    RESOLVED_PATH = "resolved-path"
    RECEIPT_NOT_AWAITED = "receipt-not-awaited"
    SUBSCRIBE_NOT_EVENT_TYPE = "subscribe-not-event-type"
    # a plugin hostile to devnode's boundaries (process_ownership.py, process_state.py, reload/, runtime.py, cli.py)
    ABANDONED = "abandoned"
    MODULE_REPLACED = "module-replaced"
    PROCESS_CHANGE_REFUSED = "process-change-refused"
    PROCESS_CHANGE_LEFT = "process-change-left"
    RESTORE_STATE_FAILED = "restore-state-failed"
    PLUGIN_DIR_GONE = "plugin-dir-gone"
    PLUGIN_DIR_BACK = "plugin-dir-back"
    WATCHER_ERROR = "watcher-error"
    DATA_DIR_REPLACED = "data-dir-replaced"


class NoteCode(StrEnum):
    """The ``code`` of an INFO ``log`` record that is a hint, not a warning (also in the troubleshooting table)."""

    UNSUBSCRIBED_HANDLER = "unsubscribed-handler"


# Codes built per subject (``config-initial-peers``, ``never-published-peer_connected``): registered as patterns.
CODE_FAMILIES: frozenset[str] = frozenset({"config-*", "never-published-*", "event-not-json-*"})

RECORD_KINDS: frozenset[str] = frozenset(RecordKind)
WARNING_CODES: frozenset[str] = frozenset(WarningCode)
NOTE_CODES: frozenset[str] = frozenset(NoteCode)

FamilyCode = NewType("FamilyCode", str)  # a code of one of CODE_FAMILIES, e.g. ``config-initial-peers``


def warning_code(text: str) -> WarningCode | FamilyCode:
    """``text`` as the registered warning code it is (what a warning record's ``code`` holds).

    Parity warnings and notices carry their code as text (a family's is built per subject);
    this gives it the record's type, and refuses a code the registry does not know.
    """
    if text in WARNING_CODES:
        return WarningCode(text)
    if any(text.startswith(family.removesuffix("*")) for family in CODE_FAMILIES):
        return FamilyCode(text)
    raise ValueError(f"unregistered warning code {text!r}: add it to devnode/codes.py and docs/troubleshooting.md")
