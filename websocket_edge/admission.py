"""Backpressure: while the chat worker lags, an edge lets new sends into Kafka only as fast as
the worker drains them, so deliveries stay timely and acks get slower instead.

The signal is the pipeline's own (websocket_edge/pipeline_lag.py): the backlog's delay, lag
divided by the drain rate (a backlog under MIN_LAG records never counts: a worker that is
restarting, or between two readings, is not behind). Past `TIDINGS_BACKPRESSURE_DELAY_S` the
edge admits sends at
`ADMIT_FRACTION` of the drain rate, times its own share of what all edges produce (every edge
computes the same from Kafka, so together they admit a little less than the worker drains
and the backlog shrinks). Below half that delay, sends go straight through again.

A send waits in its session's reader greenlet, in arrival order across the edge, for at most
`TIDINGS_BACKPRESSURE_MAX_HOLD_S`: a worker that is not slow but down would otherwise hold
everything, and then holding helps nobody (the messages wait in Kafka, durably). The ack still
comes only from Kafka's delivery report; it just comes later.

Clients are told how many unacknowledged sends they may have out: `window` (JSON `flow`
event, STOMP CONNECTED header). A client that honours it keeps its own queue instead of
stuffing the edge's. The open window shrinks as the edge's connections grow, so that together
they never have more than `TIDINGS_FLOW_BUDGET` sends out: a burst from thousands of clients
at once (before any lag reading) is then at most the budget deep, not thousands of windows.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Callable

import gevent
from gevent.event import Event

from functions.settings import Settings
from websocket_edge.pipeline_lag import LagReading

log = logging.getLogger("tidings.edge.admission")

ADMIT_FRACTION = 0.9     # of the drain rate, while the backlog is too long
MIN_RATE = 20.0          # sends a second an edge always admits
MIN_LAG = 1000           # records: a backlog smaller than this is never worth holding sends for
BURST_S = 0.2            # tokens saved up, in seconds of the current rate


class Admission:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic,
                 on_window: Callable[[int], None] | None = None):
        self.delay_s = settings.backpressure_delay_s
        self.max_hold_s = settings.backpressure_max_hold_s
        self.max_window = settings.flow_window
        self.budget = settings.flow_budget
        self.connections = 0
        self._clock = clock
        self._on_window = on_window
        self.rate: float | None = None         # sends a second; None: no limit
        self.window = self.open_window
        self._produced = 0                     # this edge's sends since the last reading
        self._last_at: float | None = None
        self._tokens = 0.0
        self._filled_at = clock()
        self._waiters: deque[Event] = deque()
        self._pump = None
        self.held = 0                          # sends that had to wait (for metrics)

    # --- the control loop (called with every lag reading) ------------------------------------
    def on_reading(self, reading: LagReading) -> None:
        if self.delay_s <= 0:
            return
        elapsed = (reading.at - self._last_at) if self._last_at is not None else 0.0
        mine = self._produced / elapsed if elapsed > 0 else 0.0
        self._last_at, self._produced = reading.at, 0
        delay = reading.delay_s if reading.lag >= MIN_LAG else 0.0
        if delay > self.delay_s:
            share = min(1.0, mine / reading.ingest_per_s) if reading.ingest_per_s > 0 else 1.0
            self._set(max(MIN_RATE, ADMIT_FRACTION * reading.drain_per_s * share))
        elif delay < self.delay_s / 2:
            self._set(None)

    @property
    def open_window(self) -> int:
        """The window while sends go straight through: the budget shared by the connections."""
        if self.budget <= 0:
            return self.max_window
        return max(1, min(self.max_window, self.budget // max(1, self.connections)))

    def set_connections(self, count: int) -> None:
        """The edge's number of connections changed (the hub's size)."""
        self.connections = count
        self._set_window()

    def _set_window(self) -> None:
        window = self.open_window if self.rate is None else 1
        if window != self.window:
            self.window = window
            if self._on_window is not None:
                self._on_window(window)

    def _set(self, rate: float | None) -> None:
        if (rate is None) != (self.rate is None):
            log.info("backpressure %s", "off" if rate is None else f"on: {rate:.0f} sends/s")
        self.rate = rate
        self._set_window()
        if rate is None:
            while self._waiters:   # let everyone through
                self._waiters.popleft().set()

    def release_all(self) -> None:
        """Let every held send go on at once (the edge is stopping: they get their answer now)."""
        self.delay_s = 0
        self._set(None)

    # --- sends -----------------------------------------------------------------------------------
    def admit(self) -> float:
        """Wait (cooperatively) until this send may go to Kafka; the seconds it waited."""
        self._produced += 1
        if self.rate is None:
            return 0.0
        if not self._waiters and self._take():
            return 0.0
        started = self._clock()
        ticket = Event()
        self._waiters.append(ticket)
        self.held += 1
        if self._pump is None or self._pump.dead:
            self._pump = gevent.spawn(self._release)
        ticket.wait(self.max_hold_s)
        if not ticket.is_set():   # held long enough: the worker is stalled, not slow
            try:
                self._waiters.remove(ticket)
            except ValueError:
                pass
        return self._clock() - started

    def _take(self) -> bool:
        rate = self.rate
        if rate is None:
            return True
        now = self._clock()
        self._tokens = min(max(1.0, rate * BURST_S), self._tokens + (now - self._filled_at) * rate)
        self._filled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _release(self) -> None:
        """Hand out tokens to the waiting sends, oldest first, at the current rate."""
        while self._waiters:
            if self._take():
                self._waiters.popleft().set()
                continue
            rate = self.rate
            gevent.sleep(0.0 if rate is None else min(0.05, 1.0 / rate))
