"""The projector's batch pull reader against real JetStream: order, partial batches, expiry, a deleted consumer,
no consumer at all."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from paulp.adapters.pull import ConsumerGone, PullReader, stream_sequence

pytestmark = pytest.mark.integration


async def _setup(url: str, namespace: str, count: int):  # type: ignore[no-untyped-def]
    nc = await nats.connect(url)
    js = nc.jetstream()
    stream = f"{namespace.upper()}_PULL"
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{namespace}pull.>"], storage=StorageType.MEMORY))
    for i in range(count):
        await js.publish(f"{namespace}pull.x", f"m{i + 1}".encode(), headers={"Paulp-Ev": str(i + 1)})
    await js.add_consumer(stream, config=ConsumerConfig(durable_name="reader", ack_policy=AckPolicy.ALL,
                                                        max_ack_pending=1000))
    return nc, js, stream


def test_fetch_when_more_available_than_batch_then_exact_batches_in_stream_order(nats_url, namespace):
    async def run() -> list[list[tuple[int, bytes]]]:
        nc, js, stream = await _setup(nats_url, namespace, 10)
        try:
            reader = await PullReader(nc, stream, "reader").start()
            batches = []
            for _ in range(3):
                msgs = await reader.fetch(4, expires=0.3)
                batches.append([(stream_sequence(m), m.data) for m in msgs])
                if msgs:
                    await msgs[-1].ack()
            await reader.close()
            return batches
        finally:
            await js.delete_stream(stream)
            await nc.close()

    batches = asyncio.run(run())
    assert [len(b) for b in batches] == [4, 4, 2]  # the last request ends by expiry with what there was
    flat = [seq for b in batches for seq, _ in b]
    assert flat == list(range(1, 11))
    assert [d for b in batches for _, d in b] == [f"m{i}".encode() for i in range(1, 11)]


def test_fetch_when_nothing_to_deliver_then_empty_after_expiry_not_before(nats_url, namespace):
    async def run() -> tuple[list[object], float]:
        nc, js, stream = await _setup(nats_url, namespace, 0)
        try:
            reader = await PullReader(nc, stream, "reader").start()
            t0 = time.monotonic()
            msgs = await reader.fetch(50, expires=0.3)
            elapsed = time.monotonic() - t0
            await reader.close()
            return list(msgs), elapsed
        finally:
            await js.delete_stream(stream)
            await nc.close()

    msgs, elapsed = asyncio.run(run())
    assert msgs == []
    assert 0.25 <= elapsed < 2.0  # the server's 408 ends the request, not the client's safety margin


def test_fetch_when_consumer_deleted_while_waiting_then_consumer_gone(nats_url, namespace):
    async def run() -> None:
        nc, js, stream = await _setup(nats_url, namespace, 0)
        try:
            reader = await PullReader(nc, stream, "reader").start()
            pending = asyncio.create_task(reader.fetch(10, expires=5.0))
            await asyncio.sleep(0.2)
            await js.delete_consumer(stream, "reader")
            with pytest.raises(ConsumerGone):
                await asyncio.wait_for(pending, timeout=4.0)
            await reader.close()
        finally:
            await js.delete_stream(stream)
            await nc.close()

    asyncio.run(run())


def test_fetch_when_the_stream_and_consumer_are_gone_then_consumer_gone_once_the_answer_is_overdue(
        nats_url, namespace):
    """As after a NATS restart without its store: JetStream answers nothing at all for a consumer it does not know
    (no 404, no 408), so a reader that waited for an answer would wait for good (ADR 0511)."""
    async def run() -> float:
        nc, js, stream = await _setup(nats_url, namespace, 0)
        try:
            await js.delete_stream(stream)
            reader = await PullReader(nc, stream, "reader").start()
            t0 = time.monotonic()
            with pytest.raises(ConsumerGone, match="no answer to a pull request"):
                await asyncio.wait_for(reader.fetch(10, expires=0.2), timeout=5.0)
            elapsed = time.monotonic() - t0
            await reader.close()
            return elapsed
        finally:
            await nc.close()

    assert 2.0 <= asyncio.run(run()) < 5.0  # expiry plus the margin for a lost connection, then given up


@pytest.mark.parametrize(
    ("reply", "seq"),
    [
        ("$JS.ACK.PAULP.paulp_breaker_state.1.42.40.1732550000000000000.7", 42),
        ("$JS.ACK.hub.ACCHASH.PAULP.paulp_breaker_state.1.42.40.1732550000000000000.7.tok", 42),
        ("$JS.ACK._.ACCHASH.PAULP.c.2.9.3.1732550000000000000.0", 9),
    ],
)
def test_stream_sequence_when_v1_or_v2_ack_subject_then_stream_seq(reply, seq):
    assert stream_sequence(SimpleNamespace(reply=reply)) == seq  # type: ignore[arg-type]


@pytest.mark.parametrize("reply", [None, "", "_INBOX.abc", "$JS.API.CONSUMER.X"])
def test_stream_sequence_when_not_a_jetstream_delivery_then_refused(reply):
    with pytest.raises(ValueError, match="not a JetStream delivery"):
        stream_sequence(SimpleNamespace(reply=reply))  # type: ignore[arg-type]
