"""Deterministic, Qualtrics-looking identifiers.

Response ids are a keyed, reversible encoding of a response's slot number, so the simulator can map an id
back to its slot without keeping a per-response index in memory (surveys may hold a million responses).
"""

from __future__ import annotations

import hashlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


def digest(*parts: object, size: int = 32) -> bytes:
    """Stable hash of the parts; the single source of all pseudo-randomness."""
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=size).digest()


def alnum(data: bytes, length: int) -> str:
    """Map bytes to `length` alphanumeric characters (slight modulo bias is irrelevant here)."""
    return "".join(ALPHABET[b % 62] for b in data[:length])


def mix64(value: int) -> int:
    """splitmix64 finaliser: a cheap integer hash for hot paths where blake2b would be too slow."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def survey_id(seed: int, index: int) -> str:
    return "SV_" + alnum(digest("survey", seed, index), 15)


def user_id(seed: int) -> str:
    return "UR_" + alnum(digest("user", seed), 15)


def progress_id(seed: int, counter: int) -> str:
    return "ES_" + alnum(digest("export", seed, counter), 15)


_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]


def _to_base62(value: int, width: int) -> str:
    """Fixed-width base62, two digits per step (this is on the per-record hot path)."""
    parts = []
    for _ in range(width // 2):
        value, rem = divmod(value, 3844)
        parts.append(_PAIRS[rem])
    if width % 2:
        parts.append(ALPHABET[value % 62])
    return "".join(reversed(parts))


def _from_base62(text: str) -> int | None:
    value = 0
    for c in text:
        idx = _INDEX.get(c)
        if idx is None:
            return None
        value = value * 62 + idx
    return value


class ResponseIdCodec:
    """Encodes slot <-> `R_` + 15 alnum chars with a 4-round Feistel permutation keyed by survey."""

    def __init__(self, seed: int, survey: str) -> None:
        raw = digest("response-id-key", seed, survey)
        self._keys = [int.from_bytes(raw[i * 4 : i * 4 + 4], "big") for i in range(4)]
        self._check_key = int.from_bytes(raw[16:24], "big")

    def _round(self, half: int, key: int) -> int:
        return (mix64(half ^ key) >> 16) & _MASK32

    def _permute(self, value: int) -> int:
        left, right = value >> 32, value & _MASK32
        for key in self._keys:
            left, right = right, left ^ self._round(right, key)
        return (left << 32) | right

    def _unpermute(self, value: int) -> int:
        left, right = value >> 32, value & _MASK32
        for key in reversed(self._keys):
            left, right = right ^ self._round(left, key), left
        return (left << 32) | right

    def _check(self, value: int) -> str:
        return _to_base62(mix64(value ^ self._check_key) % (62**4), 4)

    def encode(self, slot: int) -> str:
        value = self._permute(slot & _MASK64)
        return "R_" + self._check(value) + _to_base62(value, 11)

    def decode(self, response_id: str) -> int | None:
        """Slot for an id this codec issued, else None (foreign or malformed ids)."""
        if len(response_id) != 17 or not response_id.startswith("R_"):
            return None
        value = _from_base62(response_id[6:])
        if value is None or value > _MASK64 or self._check(value) != response_id[2:6]:
            return None
        return self._unpermute(value)
