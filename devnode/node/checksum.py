"""EIP-55 checksummed addresses, as web3 7 insists on (production refuses any other spelling).

Keccak-256 is not in hashlib (its sha3_256 pads differently), so it is computed
here in plain Python: addresses are short, and only spellings are checked.
"""

from __future__ import annotations

from functools import lru_cache

_MASK = (1 << 64) - 1
_RATE = 136  # bytes, for a 256-bit output


def _round_constants() -> list[int]:
    state, constants = 1, []
    for _ in range(24):
        rc = 0
        for j in range(7):
            if state & 1:
                rc |= 1 << ((1 << j) - 1)
            state = ((state << 1) ^ (0x71 if state & 0x80 else 0)) & 0xFF
        constants.append(rc)
    return constants


def _rotations() -> list[list[int]]:
    offsets = [[0] * 5 for _ in range(5)]
    x, y = 1, 0
    for t in range(24):
        offsets[x][y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return offsets


_RC = _round_constants()
_ROT = _rotations()


# Keccak-f[1600] on a flat state of 25 lanes, lane (x, y) at x + 5 * y. Per lane: its column, where
# rho-and-pi move it and by how much it rotates; and the two lanes chi combines it with.
_LANES = [(i, i % 5, i // 5 + 5 * ((2 * (i % 5) + 3 * (i // 5)) % 5), _ROT[i % 5][i // 5]) for i in range(25)]
_CHI = [(i, i - i % 5 + (i + 1) % 5, i - i % 5 + (i + 2) % 5) for i in range(25)]


def _permute(a: list[int]) -> list[int]:
    # Flat lists and precomputed indices: four addresses are checksummed at every start (node, peers).
    mask = _MASK
    b = [0] * 25
    for rc in _RC:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[x - 1] ^ (((c[(x + 1) % 5] << 1) | (c[(x + 1) % 5] >> 63)) & mask) for x in range(5)]
        for i, x, to, shift in _LANES:
            v = a[i] ^ d[x]
            b[to] = ((v << shift) | (v >> (64 - shift))) & mask if shift else v
        a = [b[i] ^ (~b[j] & b[k]) for i, j, k in _CHI]
        a[0] ^= rc
    return a


def keccak256(data: bytes) -> bytes:
    """Ethereum's Keccak-256 of ``data``."""
    padded = bytearray(data) + b"\x01" + b"\x00" * ((-len(data) - 1) % _RATE)
    padded[-1] |= 0x80
    state = [0] * 25
    for start in range(0, len(padded), _RATE):
        block = padded[start:start + _RATE]
        for i in range(_RATE // 8):
            state[i] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        state = _permute(state)
    return b"".join(state[i].to_bytes(8, "little") for i in range(4))


@lru_cache(maxsize=4096)
def to_checksum_address(address: str) -> str:
    """``0x`` + 40 hex digits in EIP-55 case (any case in)."""
    digits = address[2:].lower()
    digest = keccak256(digits.encode()).hex()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(digits, digest))


def is_checksum_address(address: str) -> bool:
    return address == to_checksum_address(address)
