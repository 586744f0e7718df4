"""What the stand-in chain accepts and refuses: addresses, amounts, transaction hashes, and its errors.

web3 checks these before production's chain is ever asked (checksummed addresses, its error types
and wording), so the stand-in's services check them the same way (``node/chain.py``, ``tokens.py``).
"""

from __future__ import annotations

import hashlib
import re

from devnode.errors import DevnodeError
from devnode.node.checksum import is_checksum_address, to_checksum_address

ZERO_ADDRESS = "0x" + "0" * 40
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def spelled(address: object) -> object:
    """A stored (lower-case) address as web3 returns it: checksummed."""
    return to_checksum_address(address) if is_address(address) else address


class InsufficientFunds(DevnodeError):
    """An account cannot cover the amount it is asked to send.

    Not a ValueError: production's node gets the chain's JSON-RPC refusal, a web3 ``Web3RPCError``
    (an Exception, not a ValueError), so a plugin's ``except ValueError`` must not catch it here either.
    """


class TransactionNotMined(DevnodeError):
    """What web3's ``TimeExhausted`` says: no receipt for the hash (an Exception, not a ValueError)."""


class StandInLimit(DevnodeError, AttributeError):
    """Something production offers that the stand-in node cannot honestly provide."""


class InvalidAddress(DevnodeError):
    """What web3 raises for an address it refuses (web3.exceptions.InvalidAddress, not a ValueError)."""


# web3 7's own wording, which production's plugins see (web3/_utils/validation.py).
_NOT_CHECKSUM = ("web3.py only accepts checksum addresses. The software that gave you this non-checksum address "
                 "should be considered unsafe, please file it as a bug on their platform. Try using an ENS name "
                 "instead. Or, if you must accept lower safety, use Web3.to_checksum_address(lower_case_address).")
_BAD_CHECKSUM = ("Address has an invalid EIP-55 checksum. After looking up the address from the original source, "
                 "try again.")


def intrinsic_gas(data: object) -> int:
    """What eth_estimateGas gives a plain call: 21000, plus 16 per non-zero and 4 per zero byte of data."""
    raw = data.encode() if isinstance(data, str) else bytes(data) if isinstance(data, (bytes, bytearray)) else b""
    return 21_000 + sum(16 if byte else 4 for byte in raw)


def address_for(name: str) -> str:
    """The deterministic local address of a name (node id, peer id, token), checksummed."""
    return to_checksum_address("0x" + hashlib.sha256(name.encode()).hexdigest()[:40])


def is_address(value: object) -> bool:
    return isinstance(value, str) and _ADDRESS.fullmatch(value) is not None


def check_address(value: object, role: str = "address", strict: bool = True) -> str:
    """``value`` in lower case (the Store's key), refused as web3 refuses it unless ``strict`` is False.

    web3 takes only EIP-55 checksummed addresses (``to_checksum_address`` makes one).
    """
    if not is_address(value):
        hint = (f" (devnode: {role} must be 0x followed by 40 hex digits; a simulated peer's address is "
                f'node.p2p_network.find_peer("{value}").address)') if isinstance(value, str) else ""
        raise InvalidAddress(f"ENS name: {value!r} is invalid.{hint}")
    text = str(value)
    if strict and not is_checksum_address(text):
        raise InvalidAddress(_NOT_CHECKSUM if text == text.lower() else _BAD_CHECKSUM, text)
    return text.lower()


def check_amount(value: object, role: str = "amount") -> int:
    """``value`` as a non-negative int of base units, or a ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{role} must be a non-negative integer of base units, got {value!r}")
    return value


def tx_key(tx_hash: object) -> str:
    """The stored form of a transaction hash: lower case, no 0x (production's spelling under web3 7)."""
    text = tx_hash.hex() if isinstance(tx_hash, (bytes, bytearray)) else str(tx_hash)
    return text.lower().removeprefix("0x")
