"""Decision ids (uuid7): RFC 9562 layout, unique, time-ordered, and not repeated by a forked child."""

from __future__ import annotations

import os
import time

from paulp.api.routing_wiring import uuid7

RANDOM_BITS = (0xFFF << 64) | ((1 << 62) - 1)  # rand_a and rand_b: everything but time, version and variant


def test_uuid7_when_generated_then_version_variant_and_millisecond_time_prefix() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.int >> 62 & 0b11 == 0b10
    assert before <= value.int >> 80 <= after


def test_uuid7_when_many_generated_then_unique_and_ordered_by_millisecond() -> None:
    ids = [uuid7() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    stamps = [u.int >> 80 for u in ids]
    assert stamps == sorted(stamps)
    assert len({u.int & RANDOM_BITS for u in ids}) == len(ids)


def test_uuid7_when_process_forks_then_child_draws_other_random_bits() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next ids and leave at once
        os.write(write, b"".join(uuid7().bytes for _ in range(4)))
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    data = os.read(read, 64)
    os.close(read)
    child = {int.from_bytes(data[i:i + 16], "big") & RANDOM_BITS for i in range(0, 64, 16)}
    parent = {uuid7().int & RANDOM_BITS for _ in range(4)}
    assert len(child) == 4
    assert not child & parent
