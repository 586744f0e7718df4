"""Production's own ``Node`` and services, built from the author's checkout, as devnode's node.

What runs is production's code: its DataManager on LevelDB, its KeyManager (key
file in the data dir), its token, payment, compliance and authorization modules,
its P2P network (kademlia), on a real local chain. What devnode changes, and why:

- nothing listens beyond loopback: the API servers and the dashboard are never
  started, and the DHT binds 127.0.0.1 (a free port unless ``--p2p-port``);
- the plugins are devnode's (``node.plugin_manager`` is the host), and
  ``node.event_bus`` is devnode's bus (``dashboard.event_bus`` is aliased to it
  before production's modules are imported, so both sides share its classes);
- ``authorize_transfer`` is granted unless ``--authorize production``: as shipped it
  refuses every share (see ``AUTHORIZE_NOTE``);
- the node and its services record plugins' attribute patches, as the stand-in's do.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import types
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devnode.config import NodeConfig
from devnode.errors import DevnodeError
from devnode.node.notices import Notices
from devnode.node.tracked import Tracked
from devnode.ownership import current_ledger
from devnode.production.chain import ChainError, ChainHandle, start_chain
from devnode.production.checkout import Checkout, find_checkout, install_paths, remove_paths
from devnode.production.options import Authorize, ProductionOptions
from devnode.production.requirements import require_production_extra

if TYPE_CHECKING:  # the record TypedDicts are annotations only (start-up time)
    from devnode.records import NodeKindFields

# Production's top-level import names (its datamgmtnode/ folder is on sys.path).
PRODUCTION_PACKAGES = ("services", "blockchain", "network", "api", "dashboard", "datamgmtnode")
SERVICES = ("blockchain_interface", "data_manager", "token_manager", "payment_processor", "compliance_manager",
            "authorization_module", "p2p_network", "key_manager")
LOOPBACK = "127.0.0.1"
# checkout package -> (production nodes built from it and not yet stopped, sys.path entries the first added)
_running: dict[Path, tuple[int, list[str]]] = {}


class ProductionNodeError(DevnodeError):
    """Production's node could not be built from the checkout; the message says what and the fix."""


@dataclass
class ProductionBackend:
    """Production's Node on a local chain: built, started and stopped by devnode (see module doc)."""

    config: NodeConfig
    options: ProductionOptions = field(default_factory=ProductionOptions)
    checkout: Checkout | None = None
    chain: ChainHandle | None = None
    node: Any = None
    notices: list[tuple[str, str]] = field(default_factory=list)  # (warning code, message) to report once
    _status_task: asyncio.Task[Any] | None = None

    # -- building ----------------------------------------------------------------------
    async def build(self) -> Any:
        """Find the checkout, start the chain and import production meanwhile, then construct its Node."""
        require_production_extra()
        self.checkout = find_checkout(self.options.node_src, self.config.plugin_dir)
        _claim(self.checkout)
        loop = asyncio.get_running_loop()
        # anvil starts while production's modules import (web3 takes seconds); neither blocks the loop.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="devnode-production") as pool:
            chain = loop.run_in_executor(pool, start_chain, self.config.data_dir, self._author_chain_url())
            modules = loop.run_in_executor(pool, _import_production)
            results = await asyncio.gather(chain, modules, return_exceptions=True)
        if isinstance(results[0], ChainHandle):
            self.chain = results[0]
        for result in results:
            if isinstance(result, BaseException):
                raise result
        node_module = results[1]
        assert self.chain is not None and isinstance(node_module, types.ModuleType)
        self.notices += [("production-chain", note) for note in self.chain.notes]
        # On the loop's thread: production's SQLite connection may only be used by the thread that opened it.
        self.node = self._construct(node_module, self.chain)
        return self.node

    def _author_chain_url(self) -> str | None:
        return self.config.blockchain_url if self.config.source_of("blockchain_url") != "default" else None

    def _construct(self, node_module: types.ModuleType, chain: ChainHandle) -> Any:
        config = self.config
        data_dir = Path(config.data_dir)
        private_key = self._signing_key(chain)
        if not private_key:
            raise ChainError(f"no funded key for {chain.describe()}: set PRIVATE_KEY to one of its accounts' keys")
        peers = [p for p in config.initial_peers if p.startswith(("http://", "https://"))]
        prod_config = node_module.NodeConfig(
            blockchain_type="evm", blockchain_url=chain.url, private_key=private_key,
            native_token_address=config.native_token_address if self._given("native_token_address") else "0x" + "0" * 40,
            # Always under devnode's data dir: a node .env's DB_PATH may point at a real node's database.
            db_path=str(data_dir / "nodedb"), sqlite_db_path=str(data_dir / "sqlite.db"),
            p2p_port=config.p2p_port, plugin_dir=config.plugin_dir, node_id=config.node_id,
            node_signature=config.node_signature if self._given("node_signature") else "",
            initial_peers=peers, data_dir=str(data_dir),
        )
        try:
            prod_config.validate()
        except node_module.ConfigurationError as exc:
            raise ProductionNodeError(f"production's NodeConfig refused devnode's configuration: {exc}") from None
        if not self._given("p2p_port"):
            prod_config.p2p_port = 0  # a free loopback port, so several dev nodes can run side by side
        try:
            node = node_module.Node(prod_config, enable_dashboard=False)
        except Exception as exc:  # production's own errors (LevelDB, key file, SQLite) name no fix
            hint = (f"; another node (a devnode or production) is using {data_dir / 'nodedb'}: stop it, or give "
                    "this one its own --data-dir" if "lock" in str(exc).lower() else "")
            raise ProductionNodeError(f"production's Node could not start on {data_dir}: "
                                      f"{type(exc).__name__}: {exc}{hint}") from exc
        assert self.checkout is not None
        # Production looks for ERC20Token.json in ./contracts, relative to wherever it was started.
        node.blockchain_interface.contracts_dir = str(self.checkout.contracts_dir)
        if self.options.authorize == "devnode":
            _grant_authorization(node.authorization_module)
            self.notices.append(("production-authorization", AUTHORIZE_NOTE.format(
                where=self.checkout.source_line("services/authorisation.py", "def authorize_transfer"),
                call=self.checkout.source_line("services/node.py", "authorize_transfer("))))
        setattr(sys.modules[type(node.p2p_network).__module__], "Server", _loopback_server())
        # Where devnode's bus differs from production's (a handler's SystemExit, dispatch order, never-published
        # types) the author is told on this node too: the host reports these notices as on the stand-in.
        node.parity_notices = Notices()
        node.event_bus.parity = node.parity_notices
        for name in SERVICES:
            _track(getattr(node, name), f"node.{name}")
        _track(node, "node")
        return node

    def _signing_key(self, chain: ChainHandle) -> str:
        """The node's key: PRIVATE_KEY on the author's own chain, else the chain's first funded dev account."""
        dev_key = chain.accounts[0].private_key if chain.accounts else ""
        if not self._given("private_key") or not self.config.private_key:
            return dev_key
        if chain.kind == "external":
            return self.config.private_key
        # A node .env's PRIVATE_KEY is for a real chain: unfunded on a fresh anvil, and not devnode's to use.
        self.notices.append(("production-chain", f"PRIVATE_KEY (from {self.config.source_of('private_key')}) is not "
                             f"used on devnode's own chain; the node signs with anvil's dev account "
                             f"{chain.accounts[0].address}"))
        return dev_key

    def _given(self, name: str) -> bool:
        return self.config.source_of(name) != "default"

    # -- running -----------------------------------------------------------------------
    async def start(self) -> None:
        """Production's start, minus the API servers and the dashboard, and plugins loaded by devnode's host."""
        node = self.node
        if not node.blockchain_interface.connect():
            raise ChainError(f"production's blockchain_interface could not connect to {self.chain_description()}")
        await node.p2p_network.start()
        port = node.p2p_network.server.transport.get_extra_info("sockname")[1]
        node.p2p_network.port = node.config.p2p_port = port
        self._status_task = asyncio.get_running_loop().create_task(
            node._status_update_loop(), name="production-status-updates")
        node._status_update_task = self._status_task

    async def stop(self) -> None:
        """Stop what ``start`` started and close production's databases and the chain, each step on its own."""
        node = self.node
        try:
            if node is not None:
                await self._stop_node(node)
        finally:
            if self.chain is not None:
                self.chain.stop()
            if self.checkout is not None:
                _release(self.checkout)
                self.checkout = None

    async def _stop_node(self, node: Any) -> None:
        if self._status_task is not None:
            self._status_task.cancel()
            await asyncio.gather(self._status_task, return_exceptions=True)
            self._status_task = None
        steps = [node.p2p_network.stop, node.blockchain_interface.disconnect, node.db_connection.close,
                 node.data_manager.close]
        for step in steps:
            try:
                result = step()
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:  # noqa: BLE001 - like production's stop: log and carry on
                logging.getLogger("devnode.production").warning("stopping production's node: %s: %s",
                                                                 getattr(step, "__qualname__", step), exc)

    # -- what the UIs show ----------------------------------------------------------------
    def chain_description(self) -> str:
        return self.chain.describe() if self.chain is not None else "no chain"

    def ready_fields(self) -> NodeKindFields:
        assert self.checkout is not None
        return {"node": "production", "checkout": str(self.checkout.root),
                "chain": self.chain_description(), "chain_kind": self.chain.kind if self.chain else None,
                "authorize": self.options.authorize}


AUTHORIZE_NOTE = (
    "share_data authorization is granted by devnode: production's AuthorizationModule.authorize_transfer "
    "({where}) refuses every transfer as shipped (share_data at {call} passes the str NODE_SIGNATURE where "
    "the signature check needs bytes, and no authorized user is registered); run with --authorize production "
    "to keep production's behaviour"
)


def _grant_authorization(module: Any) -> None:
    """Replace ``authorize_transfer`` on this instance only: every transfer is authorized."""

    def authorize_transfer(data_hash: Any, signature: Any, user_id: Any) -> bool:
        return True

    authorize_transfer.__qualname__ = "devnode_granted.authorize_transfer"
    module.authorize_transfer = authorize_transfer


def _claim(checkout: Checkout) -> None:
    """Put the checkout on sys.path for one more node (nodes may overlap, e.g. two kits in one test)."""
    count, added = _running.get(checkout.package, (0, []))
    _running[checkout.package] = (count + 1, added if count else install_paths(checkout))


def _release(checkout: Checkout) -> None:
    """One node fewer; the last one takes the checkout off sys.path and its modules out of sys.modules."""
    count, added = _running.pop(checkout.package, (1, []))
    if count > 1:
        _running[checkout.package] = (count - 1, added)
        return
    remove_paths(added)
    _forget_production_modules(checkout)


def _import_production() -> types.ModuleType:
    """Import production's ``services.node`` (on a worker thread), keeping its logging set-up inert."""
    root = logging.getLogger()
    # network/p2p_network.py calls logging.basicConfig(level=INFO) at import: with a handler present it
    # does nothing, so it cannot add a stderr handler or change the root level of devnode's process.
    guard = logging.NullHandler()
    root.addHandler(guard)
    try:
        with warnings.catch_warnings():
            # web3 imports websockets.legacy, which warns at import: the library's affair, not the author's
            # (and an error under a test suite's filterwarnings=error).
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module("services.node")
    except ImportError as exc:
        raise ProductionNodeError(f"production's services.node failed to import: {type(exc).__name__}: {exc}; "
                                  "install its dependencies with: pip install 'devnode[production]'") from exc
    finally:
        root.removeHandler(guard)


def _forget_production_modules(checkout: Checkout | None) -> None:
    """Drop the checkout's modules from sys.modules, so the next node (of either kind) imports afresh."""
    if checkout is None:
        return
    package = str(checkout.package)
    doomed = []
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in PRODUCTION_PACKAGES:
            continue
        # Most of production's folders have no __init__.py: namespace packages, known by their __path__ only
        # (reading it looks the parent up in sys.modules, hence deleting only once all are known).
        places = [getattr(module, "__file__", None) or "", *list(getattr(module, "__path__", None) or [])]
        if any(str(place).startswith(package) for place in places):
            doomed.append(name)
    for name in doomed:
        del sys.modules[name]


def _loopback_server() -> type:
    """kademlia's Server, listening on 127.0.0.1 only (production's default interface is 0.0.0.0)."""
    server: Any = importlib.import_module("kademlia.network").Server

    async def listen(self: Any, port: int, interface: str = LOOPBACK) -> None:
        await server.listen(self, port, interface=LOOPBACK)

    return type("Server", (server,), {"listen": listen, "__module__": server.__module__})


class _ProductionTracked(Tracked):
    """Tracked for production's classes: production's own code setting its attributes is not a plugin patch."""

    def __setattr__(self, name: str, value: Any) -> None:
        ledger = current_ledger()
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if ledger is not None and not caller.startswith("devnode.") and caller.split(".")[0] not in PRODUCTION_PACKAGES:
            if ledger.record_patch(self, name, value):
                return
        object.__setattr__(self, name, value)


def _track(obj: Any, name: str) -> None:
    """Make ``obj`` (a production service) record plugins' attribute patches; its class name stays."""
    cls = type(obj)
    # The mixin second: production's classes define no __setattr__, and an ABC-based layout allows only this order.
    obj.__class__ = type(cls.__name__, (cls, _ProductionTracked),
                         {"tracked_name": name, "__module__": cls.__module__, "__qualname__": cls.__qualname__})
