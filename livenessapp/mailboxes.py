"""The hand-overs between the live engine's threads (capture -> tracking -> inference).

:class:`LatestMailbox` (capture -> tracking) holds one frame, latest wins; :class:`TrackedMailbox`
(tracking -> inference) keeps the sampled frames in order and lets a newer frame replace one that only
moves the overlay. Both count what they drop and offer a wait for room, for sources that must not drop.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from livenessapp.results import EngineError

__all__ = ["LatestMailbox", "TrackedMailbox", "TrackingFailure"]


class LatestMailbox:
    """Single-slot, latest-wins hand-over between two threads. ``put`` replaces an unread item (counted in
    ``dropped``); ``get`` waits for an item."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self._has = False
        self.dropped = 0
        self.put_count = 0

    def put(self, item) -> bool:
        """Store ``item``; True if an unread item was dropped to make room."""
        with self._cond:
            dropped = self._has
            if dropped:
                self.dropped += 1
            self._item, self._has = item, True
            self.put_count += 1
            self._cond.notify()
            return dropped

    def get(self, timeout: float | None = None):
        """The item, or None after ``timeout`` seconds without one."""
        with self._cond:
            if not self._has and not self._cond.wait_for(lambda: self._has, timeout):
                return None
            item, self._item, self._has = self._item, None, False
            self._cond.notify_all()
            return item

    def wait_empty(self, timeout: float) -> bool:
        """Wait until the unread item is taken (back-pressure for sources that must not drop frames)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._has, timeout)

    def __len__(self) -> int:
        with self._cond:
            return int(self._has)


@dataclass
class TrackingFailure:
    """Stage 1 failed on a frame: reported by the inference thread (listeners are called there only)."""

    error: EngineError
    droppable: bool = False

    def absorb(self, dropped) -> None:  # a failure resets everything anyway
        pass


class TrackedMailbox:
    """Hand-over from the tracking thread to the inference thread of a live run.

    Frames with a sample (work for the network) wait in order; a frame without one (it only moves the
    overlay) is replaced by the next frame while it waits (latest wins). Past ``capacity`` waiting frames the
    oldest is dropped, so latency stays bounded when inference falls behind. A dropped frame's resets are
    handed on to the frame after it (:meth:`~livenessapp.pipeline.TrackedFrame.absorb`), so they still happen in order.
    ``dropped`` counts the dropped frames."""

    def __init__(self, capacity: int = 2):
        self._cond = threading.Condition()
        self._items: deque = deque()
        self.capacity = max(1, int(capacity))
        self.dropped = 0

    def put(self, item, keep_all: bool = False) -> int:
        """Queue ``item``; returns how many waiting frames were dropped to make room (none with
        ``keep_all``: the caller waits for room instead, see :meth:`wait_room`)."""
        with self._cond:
            dropped = 0
            if keep_all:
                self._items.append(item)
                self._cond.notify()
                return 0
            if self._items and self._items[-1].droppable:
                item.absorb(self._items.pop())
                dropped += 1
            self._items.append(item)
            while len(self._items) > self.capacity:
                i = next((k for k, x in enumerate(self._items) if not isinstance(x, TrackingFailure)), None)
                if i is None or i == len(self._items) - 1:
                    break
                old = self._items[i]
                del self._items[i]
                self._items[i].absorb(old)
                dropped += 1
            self.dropped += dropped
            self._cond.notify()
            return dropped

    def get(self, timeout: float | None = None):
        """The oldest waiting item, or None after ``timeout`` seconds without one."""
        with self._cond:
            if not self._items and not self._cond.wait_for(lambda: bool(self._items), timeout):
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def wait_room(self, timeout: float) -> bool:
        """Wait until fewer than ``capacity`` frames wait (back-pressure for sources that must not drop)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._items) < self.capacity, timeout)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
