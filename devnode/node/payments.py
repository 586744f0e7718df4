"""``node.payment_processor``: production's PaymentProcessor (services/payment_processor.py)."""

from __future__ import annotations

from devnode.node.chain import LocalChain
from devnode.node.tokens import TokenManager
from devnode.node.tracked import Tracked


class PaymentProcessor(Tracked):
    """``process_payment(from, to, amount, token)`` -> ``(ok, tx_hash)``; refusals raise ValueError."""

    tracked_name = "node.payment_processor"

    def __init__(self, blockchain_interface: LocalChain, token_manager: TokenManager) -> None:
        self.blockchain = blockchain_interface
        self.token_manager = token_manager

    def update_blockchain_interface(self, new_blockchain_interface: LocalChain) -> None:
        self.blockchain = new_blockchain_interface

    def process_payment(
        self, from_address: str, to_address: str, amount: int, token_address: str
    ) -> tuple[bool, str]:
        """Pay ``amount`` of ``token_address`` from ``from_address`` to ``to_address``."""
        if not self.token_manager.is_supported_token(token_address):
            raise ValueError("Unsupported token")
        if self.token_manager.get_balance(from_address, token_address) < amount:
            raise ValueError("Insufficient balance")
        tx_hash = self.token_manager.transfer_tokens(token_address, from_address, to_address, amount)
        receipt = self.blockchain.wait_for_receipt(tx_hash)
        return receipt["status"] == 1, tx_hash

    def get_transaction_history(self, address: str) -> int:
        """What production returns: the address's transaction count (its nonce), not a list."""
        return self.blockchain.transaction_count(address)
