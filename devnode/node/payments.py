"""``node.payment_processor``: pays for shared data through the token manager."""

from __future__ import annotations

from devnode.node.tokens import TokenManager, TransferError
from devnode.node.tracked import Tracked


class PaymentProcessor(Tracked):
    """Production's ``process_payment`` contract: ``(success, tx_hash)``, never raising for a failed payment."""

    tracked_name = "node.payment_processor"

    def __init__(self, token_manager: TokenManager) -> None:
        self.token_manager = token_manager

    def process_payment(self, recipient: str, sender: str, amount: int, token: str) -> tuple[bool, str | None]:
        """Pay ``amount`` of ``token`` from ``sender`` to ``recipient``.

        Argument order is the one production ``share_data`` passes. A failure
        returns ``(False, None)``; the token manager has already published
        TRANSFER_FAILED with the reason.
        """
        try:
            return True, self.token_manager.transfer_tokens(sender, recipient, amount, token)
        except TransferError:
            return False, None
