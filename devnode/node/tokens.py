"""``node.token_manager``: supported tokens, balances and transfers on the local chain."""

from __future__ import annotations

from typing import Any

from devnode.events import Event, EventBus, EventType
from devnode.node.chain import LocalChain, check_address
from devnode.node.tracked import Tracked

DEV_TOKEN_SYMBOL = "DEV"
DEV_TOKEN_SUPPLY = 1_000_000


class TransferError(ValueError):
    """A token transfer that did not happen; the message is the reason."""


class TokenManager(Tracked):
    """The production TokenManager API, moving real balances and publishing transfer events.

    The native currency is listed under ``native_token_address``. A "DEV" token
    is deployed, owned by the node, on the first run, so there is always a
    non-native token to play with.
    """

    tracked_name = "node.token_manager"

    def __init__(self, chain: LocalChain, bus: EventBus, native_token_address: str) -> None:
        self.chain = chain
        self.bus = bus
        self.native_token_address = native_token_address
        self.supported_tokens: dict[str, Any] = {
            native_token_address: {
                "address": native_token_address, "symbol": "NATIVE", "name": "native currency",
                "decimals": 18, "native": True, "abi": None,
            }
        }
        if not any(info["symbol"] == DEV_TOKEN_SYMBOL for info in chain.tokens().values()):
            chain.deploy_token(DEV_TOKEN_SYMBOL, "devnode token", DEV_TOKEN_SUPPLY, chain.account.address)
        for address, info in chain.tokens().items():
            self.supported_tokens[address] = _info(address, info, abi=None)

    def is_supported_token(self, token: str) -> bool:
        return self._find(token) is not None

    def get_balance(self, address: str, token: str) -> int:
        key = self._lookup(token)
        if self._is_native(key):
            return self.chain.get_balance(address)
        return self.chain.token_balance(key, address)

    def transfer_tokens(self, from_addr: str, to_addr: str, amount: int, token: str) -> str:
        """Move ``amount`` of ``token``; returns the tx hash or raises TransferError with the reason."""
        try:
            key = self._lookup(token)
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise ValueError(f"amount must be a positive integer of base units, got {amount!r}")
            if self._is_native(key):
                tx_hash = self.chain.send_transaction({"from": from_addr, "to": to_addr, "value": amount})
            else:
                tx_hash = self.chain.transfer_token(key, from_addr, to_addr, amount)
        except ValueError as exc:
            reason = str(exc)
            data = {"from": from_addr, "to": to_addr, "amount": amount, "token": token, "reason": reason}
            self.bus.publish_soon(Event(EventType.TRANSFER_FAILED, data))
            raise TransferError(reason) from exc
        data = {"tx_hash": tx_hash, "from": from_addr, "to": to_addr, "amount": amount, "token": token}
        self.bus.publish_soon(Event(EventType.TRANSFER_COMPLETED, data))
        for address in dict.fromkeys([from_addr, to_addr]):
            update = {"address": address, "token": token, "balance": self.get_balance(address, key)}
            self.bus.publish_soon(Event(EventType.BALANCE_UPDATE, update))
        return tx_hash

    def add_supported_token(self, address: str, abi: Any, symbol: str | None = None, name: str | None = None) -> None:
        """Support the token at ``address``; a contract new to the local chain starts with no supply."""
        existing = self._find(address)
        if existing is not None:
            info = self.supported_tokens[existing]
            if isinstance(info, dict):
                info["abi"] = abi
            return
        key = check_address(address, "token address")
        if not self.chain.is_contract(key):
            owner = self.chain.account.address
            self.chain.deploy_token(symbol or "TOKEN", name or f"token {key}", 0, owner, address=key)
        info = _info(address, self.chain.tokens()[key], abi)
        self.supported_tokens[address] = info
        data = {"token_address": address, "symbol": info["symbol"], "name": info["name"]}
        self.bus.publish_soon(Event(EventType.TOKEN_ADDED, data))

    # -- internals -----------------------------------------------------------
    def _find(self, token: object) -> str | None:
        if not isinstance(token, str):
            return None
        # Addresses are case-insensitive (EIP-55 checksums only change the case).
        wanted = token.lower()
        return next((k for k in self.supported_tokens if isinstance(k, str) and k.lower() == wanted), None)

    def _lookup(self, token: str) -> str:
        key = self._find(token)
        if key is None:
            listed = ", ".join(f"{k} ({_symbol(i)})" for k, i in self.supported_tokens.items())
            raise ValueError(f"Unsupported token {token}; supported: {listed}")
        return key

    def _is_native(self, key: str) -> bool:
        return key.lower() == str(self.native_token_address).lower()


def _info(address: str, chain_info: dict[str, Any], abi: Any) -> dict[str, Any]:
    return {
        "address": address, "symbol": chain_info["symbol"], "name": chain_info["name"],
        "decimals": chain_info["decimals"], "native": False, "abi": abi,
    }


def _symbol(info: object) -> str:
    # Plugins may put anything into supported_tokens, as production lets them.
    return str(info.get("symbol", "?")) if isinstance(info, dict) else "?"
