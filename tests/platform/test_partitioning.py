"""Kafka's default partitioner, computed for many keys at once."""

from __future__ import annotations

import random
import uuid

from aiokafka.partitioner import DefaultPartitioner, murmur2

from appeals_platform import partitioning


def test_murmur2_equals_the_java_clients_for_keys_of_every_length() -> None:
    rng = random.Random(7)
    keys = [rng.randbytes(rng.randint(0, 70)) for _ in range(3000)]
    keys += [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(500)]
    keys += [b"", b"a", b"ab", b"abc", b"abcd", "Қарағанды".encode(), b"\xff" * 9]
    assert partitioning.murmur2(keys) == [murmur2(k) for k in keys]


def test_partitions_are_the_default_partitioners() -> None:
    keys = [str(uuid.uuid4()).encode() for _ in range(1000)] + [b"x", b"appeal-1"]
    for count in (1, 3, 6, 12):
        every = list(range(count))
        expected = [DefaultPartitioner()(k, every, every) for k in keys]
        hashes = partitioning.murmur2(keys)
        assert [partitioning.partition_of(h, count) for h in hashes] == expected


def test_no_keys_no_hashes() -> None:
    assert partitioning.murmur2([]) == []
