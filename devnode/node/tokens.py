"""``node.token_manager``: production's TokenManager (services/token_manager.py) on the local chain.

Same attributes (``blockchain``, ``supported_tokens`` starting empty,
``node_tokens``, ``native_token_address``), same methods and errors. Like
production, nothing here publishes an event: TRANSFER_* events come only from
``node.share_data`` with a payment.
"""

from __future__ import annotations

from typing import Any

from devnode.node.chain import ERC20, LocalChain
from devnode.node.chain_values import check_address
from devnode.node.tracked import Tracked


class TokenManager(Tracked):
    """Supported tokens, balances, issuing, minting and transfers."""

    tracked_name = "node.token_manager"

    def __init__(self, blockchain_interface: LocalChain, native_token_address: str) -> None:
        self.blockchain = blockchain_interface
        self.supported_tokens: dict[str, Any] = {}
        self.node_tokens: dict[str, str] = {}
        self.native_token_address = native_token_address

    def update_blockchain_interface(self, new_blockchain_interface: LocalChain) -> None:
        self.blockchain = new_blockchain_interface

    def add_supported_token(self, token_address: str, token_abi: Any) -> None:
        """Support the token at ``token_address``; a contract new to the local chain starts with no supply."""
        key = check_address(token_address, "token address")  # web3's contract() refuses other spellings too
        if not self.blockchain.is_contract(key):
            self.blockchain.deploy_token("TOKEN", f"token {key}", 0, self.blockchain.account.address, address=key)
        self.supported_tokens[token_address] = {
            "address": token_address,
            "abi": token_abi,
            "contract": self.blockchain.contract(token_address, token_abi),
        }

    def is_supported_token(self, token_address: str) -> bool:
        return token_address in self.supported_tokens or token_address == self.native_token_address

    def _issued_token_used(self, token_address: str) -> None:
        if token_address in self.node_tokens.values():
            self.blockchain.notices.note(
                "erc20-no-bytecode",
                "devnode's token issued with issue_new_token answers like an ERC-20 contract",
                "contracts/ERC20Token.json ships an empty bytecode ('0x'): the token issue_new_token deploys has "
                "no code, so get_balance, mint_tokens and transfer_tokens on it fail with web3's BadFunctionCallOutput",
            )

    def get_balance(self, address: str, token_address: str) -> int:
        self._issued_token_used(token_address)
        if token_address == self.native_token_address:
            return self.blockchain.get_balance(address)
        if token_address in self.supported_tokens:
            return self.blockchain.token_balance(token_address, address)
        raise ValueError("Unsupported token")

    def issue_new_token(self, name: str, symbol: str, initial_supply: int) -> str:
        """Deploy production's ERC20Token held by the node; returns its address."""
        contract = self.blockchain.deploy_contract(ERC20, [name, symbol, initial_supply])
        self.node_tokens[symbol] = contract.address
        self.add_supported_token(contract.address, contract.abi)
        return contract.address

    def mint_tokens(self, token_address: str, recipient: str, amount: int) -> str:
        if token_address not in self.node_tokens.values():
            raise ValueError("Can only mint tokens issued by this node")
        self._issued_token_used(token_address)
        check_address(recipient, "recipient")
        return self.blockchain.mint_token(token_address, recipient, amount)

    def transfer_tokens(self, token_address: str, from_address: str, to_address: str, amount: int) -> str:
        """Move ``amount`` of ``token_address`` from ``from_address`` to ``to_address``; returns the tx hash."""
        self._issued_token_used(token_address)
        if token_address == self.native_token_address:
            return self.blockchain.send_transaction({"from": from_address, "to": to_address, "value": amount})
        if token_address in self.supported_tokens:
            return self.blockchain.transfer_token(token_address, from_address, to_address, amount)
        raise ValueError("Unsupported token")
