"""A partition's lane: batches in order, by size or window, independent of other lanes."""

import threading
import time

from local.emulators.esm_lanes import Lane


class R(int):
    """A record at this offset."""

    def offset(self):
        return int(self)


def rs(*offsets):
    return [R(o) for o in offsets]


class Handled:
    def __init__(self, gate: threading.Event | None = None):
        self.batches: list[list] = []
        self.gate = gate
        self.changed = threading.Condition()
        self.entered = threading.Event()    # the lane took a batch and called the handler

    def __call__(self, batch):
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        with self.changed:
            self.batches.append(list(batch))
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[list]:
        with self.changed:
            assert self.changed.wait_for(lambda: sum(map(len, self.batches)) >= count, timeout), self.batches
            return self.batches


def test_window_zero_takes_what_is_queued_and_batches_grow_while_the_lane_is_busy():
    gate = threading.Event()
    handled = Handled(gate)
    lane = Lane("p0", handled, batch_size=3, window_s=0)
    lane.put(rs(0))
    assert handled.entered.wait(5)  # the lane took [0] and is blocked in the handler
    lane.put(rs(1, 2, 3, 4))
    gate.set()
    assert handled.wait_for(5) == [[0], [1, 2, 3], [4]]   # in order, never above batch_size
    deadline = time.monotonic() + 5
    while (done := lane.take_done()) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert done == 5 and lane.take_done() is None       # reported once, for the consumer to commit
    lane.close()


def test_a_window_waits_for_a_full_batch_or_the_window():
    handled = Handled()
    lane = Lane("p0", handled, batch_size=3, window_s=0.3)
    started = time.monotonic()
    lane.put(rs(0, 1))
    assert handled.wait_for(2) == [[0, 1]]
    assert time.monotonic() - started >= 0.25     # held for the window: not a full batch
    lane.put(rs(2, 3, 4))
    assert handled.wait_for(5) == [[0, 1], [2, 3, 4]]   # a full batch goes at once
    lane.close()


def test_a_slow_lane_does_not_hold_up_another():
    gate = threading.Event()
    slow, fast = Handled(gate), Handled()
    a, b = Lane("p0", slow, batch_size=10, window_s=0), Lane("p1", fast, batch_size=10, window_s=0)
    a.put(rs(0))
    b.put(rs(0, 1))
    assert fast.wait_for(2) == [[0, 1]] and slow.batches == []
    gate.set()
    assert slow.wait_for(1) == [[0]]
    a.close()
    b.close()


def test_close_lets_the_batch_in_hand_finish_and_drops_the_queue():
    gate = threading.Event()
    handled = Handled(gate)
    lane = Lane("p0", handled, batch_size=1, window_s=0)
    lane.put(rs(0, 1, 2))
    assert handled.entered.wait(5)      # the lane took [0] and is blocked in the handler
    threading.Timer(0.1, gate.set).start()
    lane.close()                        # returns once [0] is handled; 1 and 2 stay uncommitted
    assert handled.batches == [[0]] and lane.queued == 0 and lane.take_done() == 1


def test_a_batch_that_fails_stops_the_lane_and_keeps_the_error():
    def boom(batch):
        raise RuntimeError("dead-letter topic unreachable")

    lane = Lane("p0", boom, batch_size=5, window_s=0)
    lane.put(rs(0, 1))
    deadline = time.monotonic() + 5
    while lane.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert isinstance(lane.error, RuntimeError) and lane.queued == 0 and lane.take_done() is None
    lane.close()


def test_a_draining_close_handles_what_is_queued_at_once():
    handled = Handled()
    lane = Lane("p0", handled, batch_size=2, window_s=30)   # a window far longer than the test
    lane.put(rs(0, 1, 2))
    assert handled.wait_for(2) == [[0, 1]]                  # a full batch goes at once
    lane.close(drain=True)                                  # [2] would wait 30 s for company
    assert handled.batches == [[0, 1], [2]] and lane.take_done() == 3
