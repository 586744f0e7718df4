"""``node.blockchain_interface``: a local chain with real balances, kept in the Store.

Every transaction moves value for real, gets a hash and its own block (like
an auto-mining dev chain), and survives restarts. Token contracts are
ERC-20-like records that answer ``call_contract`` with the usual functions.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devnode.node.storage import Store, canonical_json
from devnode.node.tracked import Tracked

ZERO_ADDRESS = "0x" + "0" * 40
NATIVE = "native"  # the asset key of the chain's own currency in the balances table
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class InsufficientFunds(ValueError):
    """An account cannot cover the amount it is asked to send."""


def address_for(name: str) -> str:
    """The deterministic local address of a name (node id, peer id, token)."""
    return "0x" + hashlib.sha256(name.encode()).hexdigest()[:40]


def is_address(value: object) -> bool:
    return isinstance(value, str) and _ADDRESS.fullmatch(value) is not None


def check_address(value: object, role: str = "address") -> str:
    """``value`` in lower case, or a ValueError saying what an address looks like."""
    if not is_address(value):
        hint = f'; for a name use address_for("{value}")' if isinstance(value, str) else ""
        raise ValueError(f"{role} {value!r} must be 0x followed by 40 hex digits{hint}")
    return str(value).lower()


def check_amount(value: object, role: str = "amount") -> int:
    """``value`` as a non-negative int of base units, or a ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{role} must be a non-negative integer of base units, got {value!r}")
    return value


@dataclass(frozen=True)
class LocalAccount:
    """The node's own account (production: ``blockchain_interface.account``)."""

    address: str


class LocalChain(Tracked):
    """A persistent local chain standing in for the production EVM interface."""

    tracked_name = "node.blockchain_interface"

    def __init__(self, store: Store, node_address: str, initial_balance: int = 1_000_000) -> None:
        self.store = store
        self.account = LocalAccount(check_address(node_address, "node address"))
        self._state = {"connected": False}
        with store.atomic():
            if not store.has_account(self.account.address, NATIVE):
                self._mint(NATIVE, self.account.address, check_amount(initial_balance, "initial_balance"))

    # -- connection ----------------------------------------------------------
    def connect(self) -> bool:
        self._state["connected"] = True
        return True

    def disconnect(self) -> None:
        self._state["connected"] = False

    def is_connected(self) -> bool:
        return self._state["connected"]

    # -- native currency -----------------------------------------------------
    def get_balance(self, address: str) -> int:
        """Native balance; 0 for an address the chain has never seen."""
        return self.store.balance(check_address(address), NATIVE)

    def fund(self, address: str, amount: int) -> str:
        """Dev faucet: create ``amount`` of native currency at ``address``."""
        return self._mint(NATIVE, check_address(address), check_amount(amount))

    def send_transaction(self, tx: dict[str, Any]) -> str:
        """Move ``tx['value']`` from ``tx['from']`` (default: the node) to ``tx['to']``; returns the hash."""
        if not isinstance(tx, dict) or "to" not in tx:
            raise ValueError(f"transaction must be a dict with 'to' (and 'from', 'value'), got {tx!r}")
        sender = check_address(tx.get("from", self.account.address), "from")
        to = check_address(tx["to"], "to")
        value = check_amount(tx.get("value", 0), "value")
        with self.store.atomic():
            self._move(NATIVE, sender, to, value)
            return self._record({**tx, "from": sender, "to": to, "value": value, "kind": "transfer"})

    def get_transaction(self, tx_hash: str) -> dict[str, Any] | None:
        return self.store.get_transaction(str(tx_hash).lower())

    def wait_for_receipt(self, tx_hash: str) -> dict[str, Any]:
        """Production-style receipt; local transactions are mined at once."""
        tx = self.get_transaction(tx_hash)
        if tx is None:
            raise ValueError(f"unknown transaction {tx_hash!r}")
        return {"transactionHash": tx["hash"], "blockNumber": tx["blockNumber"], "status": tx["status"]}

    def block_number(self) -> int:
        return self.store.block_number()

    # -- token contracts -----------------------------------------------------
    def deploy_token(
        self, symbol: str, name: str, supply: int, owner: str, decimals: int = 18, address: str | None = None
    ) -> str:
        """Create an ERC-20-like contract holding ``supply`` at ``owner``; returns its address."""
        owner = check_address(owner, "owner")
        supply = check_amount(supply, "supply")
        with self.store.atomic():
            contracts = self.store.contracts()
            addr = check_address(address, "contract address") if address else (
                address_for(f"contract:{len(contracts)}:{symbol}")
            )
            if addr in contracts:
                raise ValueError(f"a contract already exists at {addr} ({contracts[addr]['symbol']})")
            info = {"symbol": symbol, "name": name, "decimals": decimals, "totalSupply": 0}
            self.store.put_contract(addr, info)
            self._record({"from": owner, "to": None, "contractAddress": addr, "kind": "deploy"})
            if supply:
                self._mint(addr, owner, supply)
        return addr

    def tokens(self) -> dict[str, dict[str, Any]]:
        """Deployed token contracts: address -> {symbol, name, decimals, totalSupply}."""
        return self.store.contracts()

    def is_contract(self, address: str) -> bool:
        return is_address(address) and address.lower() in self.store.contracts()

    def token_balance(self, token: str, owner: str) -> int:
        return self.store.balance(check_address(owner, "owner"), self._contract(token)[0])

    def mint_token(self, token: str, to: str, amount: int) -> str:
        """Dev faucet for tokens: create ``amount`` at ``to``."""
        return self._mint(self._contract(token)[0], check_address(to, "to"), check_amount(amount))

    def transfer_token(self, token: str, sender: str, to: str, amount: int) -> str:
        """Move ``amount`` of ``token`` from ``sender`` to ``to``; returns the hash."""
        addr, _ = self._contract(token)
        sender, to = check_address(sender, "from"), check_address(to, "to")
        amount = check_amount(amount)
        with self.store.atomic():
            self._move(addr, sender, to, amount)
            return self._record({"from": sender, "to": to, "value": amount, "token": addr, "kind": "token_transfer"})

    def call_contract(self, contract_address: str, function_name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a token contract function: balanceOf, transfer (from the node), name, symbol, totalSupply, decimals."""
        addr, info = self._contract(contract_address)
        functions: dict[str, Callable[..., Any]] = {
            "balanceOf": lambda owner: self.token_balance(addr, owner),
            "transfer": lambda to, amount: self.transfer_token(addr, self.account.address, to, amount),
            "name": lambda: info["name"],
            "symbol": lambda: info["symbol"],
            "decimals": lambda: info["decimals"],
            "totalSupply": lambda: info["totalSupply"],
        }
        fn = functions.get(function_name)
        if fn is None:
            raise ValueError(
                f'token contract {addr} ({info["symbol"]}) has no function "{function_name}"; '
                f"available: {', '.join(sorted(functions))}"
            )
        sig = inspect.signature(fn)
        try:
            sig.bind(*args, **kwargs)
        except TypeError:
            raise ValueError(f"{function_name}{sig} cannot take arguments {args!r} {kwargs!r}") from None
        return fn(*args, **kwargs)

    def call_contract_function(self, contract_address: str, function_name: str, args: list[Any]) -> Any:
        """Production's spelling: arguments as one list."""
        return self.call_contract(contract_address, function_name, *args)

    # -- internals -----------------------------------------------------------
    def _contract(self, address: str) -> tuple[str, dict[str, Any]]:
        contracts = self.store.contracts()
        key = address.lower() if isinstance(address, str) else address
        if key not in contracts:
            deployed = ", ".join(f"{a} ({i['symbol']})" for a, i in contracts.items()) or "none"
            raise ValueError(f"no contract at {address!r}; deployed contracts: {deployed}")
        return key, contracts[key]

    def _move(self, asset: str, sender: str, to: str, amount: int) -> None:
        balance = self.store.balance(sender, asset)
        if balance < amount:
            symbol = "native" if asset == NATIVE else self.store.contracts()[asset]["symbol"]
            raise InsufficientFunds(f"insufficient {symbol} balance: {sender} has {balance}, needs {amount}")
        self.store.set_balance(sender, asset, balance - amount)
        # Read after the debit so a self-transfer nets to zero.
        self.store.set_balance(to, asset, self.store.balance(to, asset) + amount)

    def _mint(self, asset: str, to: str, amount: int) -> str:
        with self.store.atomic():
            self.store.set_balance(to, asset, self.store.balance(to, asset) + amount)
            if asset != NATIVE:
                info = self.store.contracts()[asset]
                self.store.put_contract(asset, {**info, "totalSupply": info["totalSupply"] + amount})
            token = {} if asset == NATIVE else {"token": asset}
            return self._record({"from": ZERO_ADDRESS, "to": to, "value": amount, "kind": "mint", **token})

    def _record(self, body: dict[str, Any]) -> str:
        nonce = self.store.block_number()
        tx_hash = "0x" + hashlib.sha256(canonical_json({"tx": body, "nonce": nonce}).encode()).hexdigest()
        self.store.add_transaction(tx_hash, {**body, "hash": tx_hash, "nonce": nonce, "status": 1,
                                             "timestamp": time.time()})
        return tx_hash
