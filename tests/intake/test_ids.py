"""Appeal ids are UUIDv7: time-ordered, so the indexes keyed by them grow at one end."""

from __future__ import annotations

import time
import uuid

from intake.ids import new_appeal_id


def test_an_appeal_id_is_a_version_7_uuid_carrying_the_millisecond_it_was_minted() -> None:
    before = time.time_ns() // 1_000_000
    ident = new_appeal_id()
    after = time.time_ns() // 1_000_000
    assert ident.version == 7
    assert ident.variant == uuid.RFC_4122
    assert before <= ident.int >> 80 <= after
    assert uuid.UUID(str(ident)) == ident


def test_ids_of_later_milliseconds_sort_after_earlier_ones_and_none_repeats() -> None:
    ids = []
    for _ in range(5):
        ids.extend(new_appeal_id() for _ in range(2_000))
        time.sleep(0.002)
    assert len(set(ids)) == len(ids)
    by_millisecond = [i.int >> 80 for i in ids]
    assert by_millisecond == sorted(by_millisecond)
    # PostgreSQL orders uuid by its bytes: the same order as the first 48 bits.
    assert sorted(ids, key=lambda i: i.bytes)[0].int >> 80 == min(by_millisecond)
    assert sorted(ids, key=lambda i: i.bytes)[-1].int >> 80 == max(by_millisecond)
    # Within a millisecond the rest is random: not a counter an outsider could step through.
    assert len({i.int & ((1 << 62) - 1) for i in ids}) == len(ids)
