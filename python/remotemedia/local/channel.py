"""`Channel`: the bounded queue between the threads and the event loop of a local run.

The standard library has no queue that fits: `queue.Queue` cannot be closed (before Python 3.13)
and cannot be awaited, `asyncio.Queue` is not thread-safe. A run needs both sides — node threads
block on a channel; the event loop awaits one without blocking — and it needs `close()`: when the
run stops, every thread blocked on a full or an empty channel must wake up at once and leave,
instead of polling for a stop flag.

- `put` blocks while the channel is full (backpressure); `take` blocks while it is empty and then
  returns everything waiting, so a busy consumer pays one lock round per batch, not per item.
  A reader may therefore hold one batch in hand besides what waits in the channel.
- `put_async` / `take_async` are the same for code running on an event loop: they await instead
  of blocking, woken by the other side through `call_soon_threadsafe`. A channel has one reader
  (a node's thread, or the run's consumer), so it keeps a single event-loop reader.
- After `close()`, every waiting and every later `put` / `take` raises `ChannelClosed`; items still
  in the channel are dropped, as closing means "stop now", not "end of stream".
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


class ChannelClosed(Exception):
    """The channel was closed: the run is stopping, so whoever used it should leave."""


class Channel:
    """A bounded FIFO shared by threads and at most one event loop; see the module docstring."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a channel needs room for at least one item, got capacity {capacity}")
        self.capacity = capacity
        self.closed = False
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._writable = threading.Condition(self._lock)
        # Counted so the hot path skips notify() (pure Python, not free) when nobody waits.
        self._threads_reading = 0
        self._threads_writing = 0
        self._loop_reader: asyncio.Future[None] | None = None
        self._loop_writers: list[asyncio.Future[None]] = []

    def put(self, item: Any) -> None:
        """Append `item`, blocking while the channel is full."""
        with self._lock:
            while len(self._items) >= self.capacity and not self.closed:
                self._threads_writing += 1
                self._writable.wait()
                self._threads_writing -= 1
            if self.closed:
                raise ChannelClosed
            self._items.append(item)
            self._wake_readers()

    def take(self) -> deque[Any]:
        """Remove and return every waiting item (at least one), blocking while there is none."""
        with self._lock:
            while not self._items and not self.closed:
                self._threads_reading += 1
                self._readable.wait()
                self._threads_reading -= 1
            return self._take_all()

    async def put_async(self, item: Any) -> None:
        """`put` for a coroutine: awaits room instead of blocking its event loop."""
        import asyncio

        while True:
            with self._lock:
                if self.closed:
                    raise ChannelClosed
                if len(self._items) < self.capacity:
                    self._items.append(item)
                    self._wake_readers()
                    return
                room = asyncio.get_running_loop().create_future()
                self._loop_writers.append(room)
            await room

    async def take_async(self) -> deque[Any]:
        """`take` for a coroutine: awaits items instead of blocking its event loop."""
        import asyncio

        while True:
            with self._lock:
                if self._items or self.closed:
                    return self._take_all()
                self._loop_reader = asyncio.get_running_loop().create_future()
                arrival = self._loop_reader
            await arrival

    def close(self) -> None:
        """Wake everyone waiting; from now on every use raises ChannelClosed."""
        with self._lock:
            self.closed = True
            self._items.clear()
            self._readable.notify_all()
            self._writable.notify_all()
            self._wake_loop_reader()
            self._wake_loop_writers()

    def _take_all(self) -> deque[Any]:
        if self.closed:
            raise ChannelClosed
        items, self._items = self._items, deque()
        if self._threads_writing:
            self._writable.notify_all()
        if self._loop_writers:
            self._wake_loop_writers()
        return items

    def _wake_readers(self) -> None:
        if self._threads_reading:
            self._readable.notify()
        if self._loop_reader is not None:
            self._wake_loop_reader()

    def _wake_loop_reader(self) -> None:
        if self._loop_reader is not None:
            _wake(self._loop_reader)
            self._loop_reader = None

    def _wake_loop_writers(self) -> None:
        for room in self._loop_writers:
            _wake(room)
        self._loop_writers.clear()


def _wake(waiter: asyncio.Future[None]) -> None:
    """Resolve `waiter` on its own loop, from whichever thread we are on."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to wake
        waiter.get_loop().call_soon_threadsafe(_resolve, waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # a cancelled waiter stays cancelled
        waiter.set_result(None)
