"""One lane per partition: its records in offset order, handled a batch at a time on the
lane's own thread, as Lambda's Kafka pollers do per partition.

The consumer thread only fetches and hands records to their lane; a lane never waits for
another partition's batch, so a slow batch in one partition delays only that partition
(rooms live in one partition each, so partitions are independent). A lane reports how far
it got (`take_done`); the consumer thread commits, as librdkafka's synchronous commit is not
to be called from another thread while one polls (it was seen to hang).

Batching follows the ESM's rules: a batch is handed over when it reaches `batch_size`, or
`window_s` after its first record arrived; a window of 0 takes whatever is queued as soon as
the lane is free, so batches stay small when idle and grow by themselves under load.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable, Sequence

log = logging.getLogger("tidings.esm")


class Lane:
    def __init__(self, name: str, handle_batch: Callable[[Sequence], None], *, batch_size: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.handle_batch = handle_batch
        self.batch_size = batch_size
        self.window_s = window_s
        self.clock = clock
        self.error: BaseException | None = None     # a batch that could not be handled nor parked
        self._queue: deque = deque()
        self._first_at = 0.0                        # when the oldest queued record arrived
        self._cond = threading.Condition()
        self._closed = False
        self._draining = False                      # closing, but handle what is queued first
        self._done: int | None = None               # next offset to commit, once handled
        self._thread = threading.Thread(target=self._run, name=f"esm-lane-{name}", daemon=True)
        self._thread.start()

    def put(self, records: Sequence) -> None:
        with self._cond:
            if not self._queue:
                self._first_at = self.clock()
            self._queue.extend(records)
            self._cond.notify()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def take_done(self) -> int | None:
        """The offset after the last handled record, if it moved since the last call."""
        with self._cond:
            done, self._done = self._done, None
            return done

    def close(self, drain: bool = False, timeout: float | None = None) -> None:
        """Let the batch in hand finish. With `drain`, also handle what is queued, at once
        (a graceful stop: what was fetched is handled and committed). Without, drop it: it
        is not committed, so the partition's next owner consumes it again (a rebalance)."""
        with self._cond:
            if drain:
                self._draining = True
            else:
                self._closed = True
                self._queue.clear()
            self._cond.notify_all()
        self._thread.join(timeout)

    def _take(self) -> list | None:
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._queue:
                    left = self._first_at + self.window_s - self.clock()
                    if len(self._queue) >= self.batch_size or left <= 0 or self._draining:
                        break
                    self._cond.wait(left)
                elif self._draining:
                    return None
                else:
                    self._cond.wait()
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._first_at = self.clock()   # what stays queued has waited at least this long
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self.handle_batch(batch)
                with self._cond:
                    self._done = batch[-1].offset() + 1
            except BaseException as exc:   # the runner stops; the batch was not committed
                log.exception("lane %s stopped", self.name)
                self.error = exc
                with self._cond:
                    self._closed = True
                    self._queue.clear()
                return
