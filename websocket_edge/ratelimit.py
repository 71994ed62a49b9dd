"""A token bucket per connection: `rate` tokens a second, at most `burst` saved up."""

from __future__ import annotations

import time
from typing import Callable


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp", "clock", "refused_in_a_row")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.burst = float(max(1, burst))
        self.tokens = self.burst
        self.clock = clock
        self.stamp = clock()
        self.refused_in_a_row = 0   # sustained abuse shows here

    def take(self, cost: float = 1.0) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            self.refused_in_a_row = 0
            return True
        self.refused_in_a_row += 1
        return False
