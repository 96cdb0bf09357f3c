"""The channel between the threads and the event loop of a local run."""

from __future__ import annotations

import asyncio
import threading

import pytest
from remotemedia.local.channel import Channel, ChannelClosed

HANG_GUARD_S = 60
"""Only turns a would-be hang into a failure; nothing here is timed."""


def in_thread(action) -> tuple[threading.Thread, list]:
    """Start `action` on a thread; the list receives its result or the exception it raised."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(action())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def finished(thread: threading.Thread) -> bool:
    thread.join(HANG_GUARD_S)
    return not thread.is_alive()


def test_take_returns_every_waiting_item_in_order():
    channel = Channel(4)
    for item in "abc":
        channel.put(item)
    assert list(channel.take()) == ["a", "b", "c"]


def test_a_full_channel_blocks_its_writer_until_the_reader_takes():
    channel = Channel(1)
    channel.put("first")
    writer, _ = in_thread(lambda: channel.put("second"))
    assert list(channel.take()) == ["first"]
    assert finished(writer)
    assert list(channel.take()) == ["second"]


@pytest.mark.parametrize("blocked", ["writer on a full channel", "reader on an empty channel"])
def test_closing_wakes_a_blocked_thread_with_channel_closed(blocked):
    channel = Channel(1)
    if blocked.startswith("writer"):
        channel.put("fills it")
        thread, outcome = in_thread(lambda: channel.put("waits"))
    else:
        thread, outcome = in_thread(channel.take)
    channel.close()
    assert finished(thread)
    assert isinstance(outcome[0], ChannelClosed)


def test_a_closed_channel_refuses_everything_and_drops_what_it_held():
    channel = Channel(2)
    channel.put("left behind")
    channel.close()
    with pytest.raises(ChannelClosed):
        channel.take()
    with pytest.raises(ChannelClosed):
        channel.put("late")


def test_the_event_loop_side_awaits_instead_of_blocking():
    channel = Channel(1)

    async def scenario():
        producer, _ = in_thread(lambda: [channel.put(item) for item in range(5)])
        received = []
        while len(received) < 5:
            received.extend(await channel.take_async())
        assert finished(producer)
        await channel.put_async("to a thread")
        reader, outcome = in_thread(channel.take)
        assert finished(reader)
        return received, list(outcome[0])

    assert asyncio.run(scenario()) == ([0, 1, 2, 3, 4], ["to a thread"])


def test_closing_wakes_a_waiting_coroutine():
    channel = Channel(1)

    async def scenario():
        waiting = asyncio.ensure_future(channel.take_async())
        await asyncio.sleep(0)  # let it start waiting
        closer, _ = in_thread(channel.close)
        with pytest.raises(ChannelClosed):
            await asyncio.wait_for(waiting, HANG_GUARD_S)
        assert finished(closer)

    asyncio.run(scenario())


def test_a_channel_needs_room_for_one_item():
    with pytest.raises(ValueError, match="at least one item"):
        Channel(0)
