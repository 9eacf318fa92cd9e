"""Kafka's default partition of a keyed record, for many keys at once.

The outbox relay fills record batches per partition itself (see outbox.py), so it must put
each key where every Kafka client would: `(murmur2(key) & 0x7fffffff) % partitions`, the Java
client's `Utils.murmur2`. aiokafka computes it in pure Python, a few microseconds per key;
keys of one length (appeal ids are all 36 bytes) are hashed here as columns of one array.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF

UInts = np.ndarray[Any, np.dtype[np.uint64]]


def murmur2(keys: Sequence[bytes]) -> list[int]:
    """The Java client's murmur2 of every key (unsigned 32-bit), in order."""
    result = [0] * len(keys)
    by_length: defaultdict[int, list[int]] = defaultdict(list)
    for n, key in enumerate(keys):
        by_length[len(key)].append(n)
    for length, positions in by_length.items():
        data = np.frombuffer(b"".join(keys[n] for n in positions), dtype=np.uint8)
        hashes = _murmur2_same_length(data.reshape(len(positions), length))
        for n, value in zip(positions, hashes.tolist(), strict=True):
            result[n] = value
    return result


def partition_of(hashed: int, count: int) -> int:
    """The partition of a key whose murmur2 is `hashed`, among `count` partitions."""
    return (hashed & 0x7FFFFFFF) % count


def _mul(a: UInts, b: int) -> UInts:
    # 32-bit × 32-bit fits in 64 bits; keep the low 32 as Java's int arithmetic does.
    return (a * np.uint64(b)) & np.uint64(_MASK)


def _murmur2_same_length(data: np.ndarray[Any, np.dtype[np.uint8]]) -> UInts:
    rows, length = data.shape
    h = np.full(rows, (_SEED ^ length) & _MASK, dtype=np.uint64)
    wide = data.astype(np.uint64)
    for start in range(0, length - length % 4, 4):
        k = (
            wide[:, start]
            | (wide[:, start + 1] << np.uint64(8))
            | (wide[:, start + 2] << np.uint64(16))
            | (wide[:, start + 3] << np.uint64(24))
        )
        k = _mul(k, _M)
        k ^= k >> np.uint64(24)
        k = _mul(k, _M)
        h = _mul(h, _M) ^ k
    tail = length & ~3
    extra = length % 4
    if extra >= 3:
        h ^= wide[:, tail + 2] << np.uint64(16)
    if extra >= 2:
        h ^= wide[:, tail + 1] << np.uint64(8)
    if extra >= 1:
        h ^= wide[:, tail]
        h = _mul(h, _M)
    h ^= h >> np.uint64(13)
    h = _mul(h, _M)
    h ^= h >> np.uint64(15)
    return h
