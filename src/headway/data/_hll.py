"""HyperLogLog distinct counting, vectorised with NumPy, mergeable by register-wise max.

Flajolet, Fusy, Gandouet, Meunier (2007), "HyperLogLog: the analysis of a near-optimal
cardinality estimation algorithm", with the small-range (linear counting) correction of
Heule, Nunkesser, Hall (2013). With ``P = 10`` (1,024 registers) the standard error is
about 3%, and a sketch stores in well under a kilobyte.

Examples
--------
>>> import numpy as np
>>> registers = update(empty(), hash64(np.arange(50_000, dtype=np.float64)))
>>> abs(estimate(registers) - 50_000) / 50_000 < 0.05
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["P", "empty", "estimate", "hash64", "merge", "update"]

P = 10
M = 1 << P
_RANKS = 33  # ranks 1..32 from 32 hash bits, 33 when they are all zero


def empty() -> np.ndarray:
    return np.zeros(M, dtype=np.uint8)


def hash64(values: np.ndarray) -> np.ndarray:
    """A well-mixed 64-bit hash of fixed-width values (the splitmix64 finaliser)."""
    if values.dtype.kind == "f":
        values = values + 0.0  # one bit pattern for 0.0 and -0.0
    z = (
        np.ascontiguousarray(values).view(np.uint64)
        if values.dtype.itemsize == 8
        else (values.astype(np.int64).view(np.uint64))
    )
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def update(registers: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Registers after adding ``hashes`` (uint64); the input is not modified."""
    if hashes.size == 0:
        return registers.copy()
    index = (hashes >> np.uint64(64 - P)).astype(np.int32)
    # rank = leading zeros of the low 32 bits + 1 (33 when all are zero), read off the
    # exponent of the value as a float64 (exact for 32-bit integers)
    low = hashes.astype(np.uint32).astype(np.float64)
    rank = 1055 - (low.view(np.int64) >> 52).astype(np.int32)
    rank[low == 0] = _RANKS
    flat = np.zeros(M * (_RANKS + 1), dtype=bool)
    flat[index * (_RANKS + 1) + rank] = True
    seen = flat.reshape(M, _RANKS + 1)
    found = _RANKS - np.argmax(seen[:, ::-1], axis=1)
    found[~seen.any(axis=1)] = 0
    return np.maximum(registers, found.astype(np.uint8))


def merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(a, b)


def estimate(registers: np.ndarray) -> int:
    alpha = 0.7213 / (1 + 1.079 / M)
    raw = alpha * M * M / np.sum(np.exp2(-registers.astype(np.float64)))
    zeros = int(np.count_nonzero(registers == 0))
    if raw <= 2.5 * M and zeros:
        return round(M * np.log(M / zeros))
    return round(raw)
