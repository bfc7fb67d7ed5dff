"""The live engine's hand-overs: what test_engine.py's mailbox tests leave out (back-pressure, lossless
queueing, failures that are never dropped)."""

from __future__ import annotations

import threading

from livenessapp.mailboxes import LatestMailbox, TrackedMailbox, TrackingFailure
from livenessapp.results import EngineError


class _Item:
    def __init__(self, name, sample=False):
        self.name, self.droppable, self.reset_buffer = name, not sample, False

    def absorb(self, dropped):
        self.reset_buffer = True


def test_latest_mailbox_waits_for_the_reader():
    box = LatestMailbox()
    assert box.wait_empty(0.01) and box.get(0.01) is None
    assert not box.put("a") and len(box) == 1
    assert not box.wait_empty(0.01)  # unread: a lossless source waits here instead of dropping
    reader = threading.Timer(0.05, box.get)
    reader.start()
    assert box.wait_empty(2.0) and len(box) == 0 and box.put_count == 1 and box.dropped == 0
    reader.join()


def test_tracked_mailbox_keep_all_queues_everything_and_wait_room_is_the_back_pressure():
    box = TrackedMailbox(capacity=2)
    for name in "abc":
        assert box.put(_Item(name), keep_all=True) == 0
    assert len(box) == 3 and box.dropped == 0 and not box.wait_room(0.01)
    assert [box.get(0.1).name for _ in range(2)] == ["a", "b"] and box.wait_room(0.01)


def test_tracking_failures_are_never_dropped():
    box = TrackedMailbox(capacity=1)
    failures = [TrackingFailure(EngineError(f"frame {i} failed", kind="internal")) for i in range(2)]
    for f in failures:
        box.put(f)
    box.put(_Item("s", sample=True))
    assert box.dropped == 0
    assert [box.get(0.1) for _ in range(3)][:2] == failures
