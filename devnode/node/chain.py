"""``node.blockchain_interface``: a local chain with real balances, kept in the Store.

Production's EVMBlockchainInterface (blockchain/evm_blockchain_interface.py)
talks to an EVM node through web3. This stand-in keeps its public surface
(``account``, ``connect``, ``get_balance``, ``send_transaction``,
``wait_for_receipt``, ``deploy_contract``, ``call_contract_function``,
``get_contract_artifacts``, ``get_contract_abi``): every transaction moves
value for real, gets a hash and its own block (like an auto-mining dev
chain), and survives restarts. Transaction hashes are 64 hex digits without
``0x``, as production's ``HexBytes.hex()`` gives them under web3 7. ``w3``
(a web3 object) cannot be offered honestly: reading it raises an error that
says so.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from devnode.node.chain_values import (
    ZERO_ADDRESS,
    InsufficientFunds,
    StandInLimit,
    TransactionNotMined,
    address_for,
    check_address,
    check_amount,
    intrinsic_gas,
    is_address,
    spelled,
    tx_key,
)
from devnode.node.checksum import to_checksum_address
from devnode.node.notices import Notices
from devnode.node.storage import Store, canonical_json
from devnode.node.tracked import Tracked

NATIVE = "native"  # the asset key of the chain's own currency in the balances table
ERC20 = "ERC20Token"  # the one contract production ships (contracts/ERC20Token.json)

# The ERC-20 interface of production's token contract, written out by hand (names and types only).
ERC20_ABI: list[dict[str, Any]] = [
    {"type": "constructor", "stateMutability": "nonpayable",
     "inputs": [{"name": "name", "type": "string"}, {"name": "symbol", "type": "string"},
                {"name": "initialSupply", "type": "uint256"}]},
    *({"type": "function", "name": n, "inputs": [{"name": a, "type": t} for a, t in ins],
       "outputs": [{"name": "", "type": o} for o in outs], "stateMutability": m}
      for n, ins, outs, m in [
          ("balanceOf", [("account", "address")], ["uint256"], "view"),
          ("transfer", [("to", "address"), ("amount", "uint256")], ["bool"], "nonpayable"),
          ("mint", [("to", "address"), ("amount", "uint256")], [], "nonpayable"),
          ("allowance", [("owner", "address"), ("spender", "address")], ["uint256"], "view"),
          ("approve", [("spender", "address"), ("amount", "uint256")], ["bool"], "nonpayable"),
          ("transferFrom", [("from", "address"), ("to", "address"), ("amount", "uint256")], ["bool"], "nonpayable"),
          ("name", [], ["string"], "view"),
          ("symbol", [], ["string"], "view"),
          ("decimals", [], ["uint8"], "view"),
          ("totalSupply", [], ["uint256"], "view"),
      ]),
]



# The chain's answer to a native transfer over the balance, as production sees it from anvil (web3 Web3RPCError).
_RPC_INSUFFICIENT = "{'code': -32003, 'message': 'Insufficient funds for gas * price + value'}"
RECEIPT_TIMEOUT = 120  # seconds: web3's wait_for_transaction_receipt default, which production uses
GAS_PRICE = 2_000_000_000  # wei: what a fresh anvil reports as eth_gasPrice



class LocalAccount:
    """The node's own account (production: an eth_account LocalAccount)."""

    def __init__(self, address: str) -> None:
        self.address = address

    def __repr__(self) -> str:
        return f"LocalAccount({self.address})"


class _Call:
    """``contract.functions.NAME(*args)``: ``call()`` answers like an eth_call (no state change)."""

    def __init__(self, contract: LocalContract, name: str, args: tuple[Any, ...]) -> None:
        self._contract, self._name, self._args = contract, name, args

    def call(self, *_: Any, **__: Any) -> Any:
        return self._contract.chain.read_contract(self._contract.address, self._name, list(self._args))

    def build_transaction(self, *_: Any, **__: Any) -> Any:
        raise StandInLimit(
            f"{self._name}(...).build_transaction() builds a web3 transaction, which the stand-in node cannot; "
            "use node.token_manager (transfer_tokens, mint_tokens) here, or run with --node production"
        )


class _Functions:
    def __init__(self, contract: LocalContract) -> None:
        self._contract = contract

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._contract.function_names():
            raise ContractFunctionNotFound(
                f"The function '{name}' was not found in this contract's abi "
                f"(functions: {', '.join(self._contract.function_names())})"
            )
        return lambda *args: _Call(self._contract, name, args)


class ContractFunctionNotFound(AttributeError):
    """Like web3's ABIFunctionNotFound (an AttributeError): the ABI has no such function."""


class LocalContract:
    """A deployed token contract: ``address``, ``abi``, ``functions.NAME(*args).call()``."""

    def __init__(self, chain: LocalChain, address: str, abi: Any) -> None:
        self.chain, self.address, self.abi = chain, address, abi
        self.functions = _Functions(self)

    def function_names(self) -> list[str]:
        abi = self.abi if isinstance(self.abi, list) else ERC20_ABI
        return [f["name"] for f in abi if isinstance(f, dict) and f.get("type") == "function" and "name" in f]

    def __repr__(self) -> str:
        return f"LocalContract({self.address})"


class LocalChain(Tracked):
    """A persistent local chain standing in for production's EVMBlockchainInterface."""

    tracked_name = "node.blockchain_interface"

    def __init__(
        self, store: Store, node_address: str, initial_balance: int = 1_000_000, *, network_url: str = "",
        private_key: str = "", notices: Notices | None = None,
    ) -> None:
        self.store = store
        self.network_url = network_url
        self.private_key = private_key
        self.contracts_dir = "./contracts"
        self.account = LocalAccount(to_checksum_address(check_address(node_address, "node address", strict=False)))
        self.notices = notices or Notices()
        self._state = {"connected": False}
        self._contract_abis: dict[str, Any] = {}
        with store.atomic():
            key = self.account.address.lower()
            if not store.has_account(key, NATIVE):
                self._mint(NATIVE, key, check_amount(initial_balance, "initial_balance"))

    @property
    def w3(self) -> Any:
        # Also a warning: `hasattr(chain, "w3")` or `getattr(chain, "w3", None)` would swallow the error unseen.
        self.notices.note(
            "standin-limit",
            "read node.blockchain_interface.w3, which the stand-in node cannot offer (the read raised "
            "AttributeError; run devnode with --node production for a real web3)",
            "w3 is a web3.Web3 connected to BLOCKCHAIN_URL once connect() ran "
            "(blockchain/evm_blockchain_interface.py:17-20)",
        )
        raise StandInLimit(
            "node.blockchain_interface.w3 is a web3.Web3 object in production; the stand-in node has no web3 "
            "chain behind it. Use the interface's methods (get_balance, send_transaction, call_contract_function) "
            "or run devnode with --node production to get a real w3"
        )

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
        """devnode addition (tests, scenarios): create ``amount`` of native currency at ``address``."""
        return self._mint(NATIVE, check_address(address, strict=False), check_amount(amount))

    def send_transaction(self, transaction: dict[str, Any]) -> str:
        """Move ``value`` from ``from`` (default: the node) to ``to``; returns the transaction hash.

        As production does, fills in the caller's dict the ``nonce``, ``gas`` and ``gasPrice`` it lacks
        (blockchain/evm_blockchain_interface.py:29-41); the stand-in charges no gas.
        """
        tx = transaction
        if not isinstance(tx, dict) or "to" not in tx:
            raise ValueError(f"transaction must be a dict with 'to' (and 'from', 'value'), got {tx!r}")
        sender = check_address(tx.get("from", self.account.address), "from")
        self._signed_by_node(sender)
        to = check_address(tx["to"], "to")
        value = check_amount(tx.get("value", 0), "value")
        if "nonce" not in tx:
            tx["nonce"] = self.store.sent_count(self.account.address.lower())  # production: the node's own count
        if "gas" not in tx:
            tx["gas"] = intrinsic_gas(tx.get("data"))
        if "gasPrice" not in tx and "maxFeePerGas" not in tx:
            tx["gasPrice"] = GAS_PRICE
        with self.store.atomic():
            self._move(NATIVE, sender, to, value)
            return self._record({**tx, "from": sender, "to": to, "value": value, "kind": "transfer"})

    def get_transaction(self, tx_hash: str) -> dict[str, Any] | None:
        return self.store.get_transaction(tx_key(tx_hash))

    def wait_for_receipt(self, tx_hash: str) -> dict[str, Any]:
        """A receipt like production's; local transactions are mined at once.

        A hash the chain never saw raises what web3 raises after production's 120 s wait, at once: nothing
        could mine it later (every transaction here is mined as it is sent).
        """
        tx = self.get_transaction(tx_hash)
        if tx is None:
            self.notices.note(
                "receipt-not-awaited",
                "wait_for_receipt() got a hash this chain never saw and raised at once",
                f"wait_for_receipt is synchronous (blockchain/evm_blockchain_interface.py:43-45): web3 polls for "
                f"{RECEIPT_TIMEOUT} s, blocking the node's event loop, then raises TimeExhausted",
            )
            raise TransactionNotMined(
                f"Transaction HexBytes('0x{tx_key(tx_hash)}') is not in the chain after {RECEIPT_TIMEOUT} seconds "
                "(devnode: the stand-in mines every transaction as it is sent, so it answers at once; "
                "wait only for hashes send_transaction returned)"
            )
        gas = 21_000 if tx.get("kind") == "transfer" and not tx.get("data") else 50_000
        return {"transactionHash": tx["hash"], "blockNumber": tx["blockNumber"], "status": tx["status"],
                "from": spelled(tx.get("from")), "to": spelled(tx.get("to")),
                "contractAddress": spelled(tx.get("contractAddress")),
                "gasUsed": gas, "cumulativeGasUsed": gas, "logs": []}

    def block_number(self) -> int:
        return self.store.block_number()

    # -- contracts (production's names) ---------------------------------------
    def deploy_contract(self, contract_name: str, args: list[Any]) -> LocalContract:
        """Deploy production's ERC20Token with ``[name, symbol, initial_supply]``; the node owns the supply."""
        if contract_name != ERC20:
            raise ValueError(f"Contract artifacts not found for: {contract_name}")
        name, symbol, supply = args
        address = self.deploy_token(str(symbol), str(name), supply, self.account.address)
        self._contract_abis[address] = ERC20_ABI
        return LocalContract(self, address, ERC20_ABI)

    def call_contract_function(self, contract_address: str, function_name: str, args: list[Any]) -> Any:
        """Call a view function (an eth_call: ``transfer``/``mint`` answer without changing state)."""
        abi = self.get_contract_abi(contract_address)
        if abi is None:
            raise ValueError(f"ABI not found for contract: {contract_address}")
        contract = LocalContract(self, contract_address, abi)
        return getattr(contract.functions, function_name)(*args).call()

    def get_contract_artifacts(self, contract_name: str) -> tuple[Any, Any]:
        """(abi, bytecode); the stand-in has the ERC20Token interface and no bytecode to give."""
        return (ERC20_ABI, None) if contract_name == ERC20 else (None, None)

    def get_contract_abi(self, contract_address: str) -> Any:
        """The ABI of a contract deployed through this interface, else None (as production)."""
        return self._contract_abis.get(contract_address)

    def contract(self, address: str, abi: Any) -> LocalContract:
        """What production builds with ``w3.eth.contract(address=..., abi=...)``."""
        return LocalContract(self, address, abi)

    # -- token contracts (devnode's chain operations) ---------------------------
    def deploy_token(
        self, symbol: str, name: str, supply: int, owner: str, decimals: int = 18, address: str | None = None
    ) -> str:
        """Create an ERC-20-like contract holding ``supply`` at ``owner``; returns its address."""
        owner = check_address(owner, "owner", strict=False)
        supply = check_amount(supply, "supply")
        with self.store.atomic():
            contracts = self.store.contracts()
            addr = check_address(address, "contract address", strict=False) if address else (
                address_for(f"contract:{len(contracts)}:{symbol}").lower()
            )
            if addr in contracts:
                raise ValueError(f"a contract already exists at {addr} ({contracts[addr]['symbol']})")
            info = {"symbol": symbol, "name": name, "decimals": decimals, "totalSupply": 0}
            self.store.put_contract(addr, info)
            self._record({"from": owner, "to": None, "contractAddress": addr, "kind": "deploy"})
            if supply:
                self._mint(addr, owner, supply)
        return to_checksum_address(addr)

    def tokens(self) -> dict[str, dict[str, Any]]:
        """Deployed token contracts: address -> {symbol, name, decimals, totalSupply}."""
        return self.store.contracts()

    def is_contract(self, address: str) -> bool:
        return is_address(address) and address.lower() in self.store.contracts()

    def token_balance(self, token: str, owner: str) -> int:
        return self.store.balance(check_address(owner, "owner"), self._contract(token)[0])

    def mint_token(self, token: str, to: str, amount: int) -> str:
        """Create ``amount`` of ``token`` at ``to``."""
        return self._mint(self._contract(token)[0], check_address(to, "to", strict=False), check_amount(amount))

    def transfer_token(self, token: str, sender: str, to: str, amount: int) -> str:
        """Move ``amount`` of ``token`` from ``sender`` to ``to``; returns the hash."""
        addr, _ = self._contract(token)
        sender, to = check_address(sender, "from"), check_address(to, "to")
        self._signed_by_node(sender)
        amount = check_amount(amount)
        with self.store.atomic():
            self._move(addr, sender, to, amount)
            return self._record({"from": sender, "to": to, "value": amount, "token": addr, "kind": "token_transfer"})

    def read_contract(self, contract_address: str, function_name: str, args: list[Any]) -> Any:
        """The answer of an eth_call to a local token contract."""
        addr, info = self._contract(contract_address)
        if function_name == "balanceOf":
            return self.token_balance(addr, *args)
        if function_name in ("name", "symbol", "decimals", "totalSupply"):
            return info[function_name]
        if function_name == "transfer":
            to, amount = args
            check_address(to, "to")
            return self.token_balance(addr, self.account.address) >= check_amount(amount)
        if function_name == "mint":
            return None
        if function_name == "allowance":
            return 0  # the stand-in keeps no approvals
        if function_name in ("approve", "transferFrom"):
            return function_name == "approve"
        raise ContractFunctionNotFound(f"The function '{function_name}' was not found in this contract's abi")

    # -- internals -----------------------------------------------------------
    def _signed_by_node(self, sender: str) -> None:
        if sender.lower() != self.account.address.lower():
            self.notices.note(
                "signed-by-node",
                f"devnode moved value from {sender}, which is not the node's account",
                "every transaction is signed with the node's PRIVATE_KEY (blockchain/evm_blockchain_interface.py:"
                "604-616): a native transfer from another address is refused by eth_account, and a token transfer "
                "moves the node's own tokens (services/token_manager.py:42-68)",
            )

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
            detail = f"insufficient {symbol} balance: {spelled(sender)} has {balance}, needs {amount}"
            # A native transfer: production gets the chain's own refusal first; devnode's detail follows it.
            raise InsufficientFunds(f"{_RPC_INSUFFICIENT} (devnode: {detail})" if asset == NATIVE else detail)
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
        tx_hash = hashlib.sha256(canonical_json({"tx": body, "nonce": nonce}).encode()).hexdigest()
        self.store.add_transaction(tx_hash, {**body, "hash": tx_hash, "nonce": nonce, "status": 1,
                                             "timestamp": time.time()})
        return tx_hash

    def transactions_since(self, first_block: int) -> list[dict[str, Any]]:
        """Transactions in blocks ``first_block`` and later, newest first."""
        return self.store.transactions_since(first_block)

    def transaction_count(self, address: str) -> int:
        """How many transactions ``address`` has sent (production: its nonce)."""
        return self.store.sent_count(check_address(address))
