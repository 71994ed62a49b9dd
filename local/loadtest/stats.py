"""Counting and latency histograms that are cheap to record and cheap to ship between processes.

`LogHistogram` keeps latencies in fixed log-spaced buckets (HDR-style): 64 buckets per
doubling, so any percentile it reports is within about 1.1 % of the true sample, from 1 µs
to hours, in a sparse dict of a few hundred entries at most. Histograms from several
generator processes (or several seconds) merge by adding counts, which is what lets a
worker send one small dict per second instead of every raw sample.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

SUB_BUCKETS = 64            # buckets per power of two: resolution 2**(1/64) - 1 ≈ 1.09 %
_SCALE = SUB_BUCKETS
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def bucket_of(seconds: float) -> int:
    us = seconds * 1e6
    if us < 1.0:
        return 0
    return int(math.log2(us) * _SCALE)


def bucket_value(index: int) -> float:
    """The middle of a bucket, in seconds (geometric middle)."""
    return 2.0 ** ((index + 0.5) / _SCALE) / 1e6


class LogHistogram:
    __slots__ = ("counts", "n", "total", "max", "min")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.total = 0.0
        self.max = 0.0
        self.min = math.inf

    def record(self, seconds: float) -> None:
        if seconds < 0.0:       # a clock step; never happens with one clock, but stay sane
            seconds = 0.0
        us = seconds * 1e6
        index = int(math.log2(us) * _SCALE) if us >= 1.0 else 0
        counts = self.counts
        counts[index] = counts.get(index, 0) + 1
        self.n += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds
        if seconds < self.min:
            self.min = seconds

    def merge(self, other: "LogHistogram | Mapping") -> "LogHistogram":
        if isinstance(other, Mapping):
            other = LogHistogram.from_dict(other)
        counts = self.counts
        for index, count in other.counts.items():
            counts[index] = counts.get(index, 0) + count
        self.n += other.n
        self.total += other.total
        self.max = max(self.max, other.max)
        self.min = min(self.min, other.min)
        return self

    def percentile(self, q: float) -> float | None:
        """The q-th percentile in seconds (None when empty). Never above the true max."""
        if not self.n:
            return None
        rank = max(1, math.ceil(self.n * q / 100.0))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(bucket_value(index), self.max)
        return self.max

    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def summary(self, percentiles: Iterable[float] = PERCENTILES) -> dict:
        """{count, mean, p50, p90, p99, p99.9, max, min} in milliseconds (None when empty)."""
        out: dict = {"count": self.n}
        ms = lambda s: None if s is None else round(s * 1000.0, 3)  # noqa: E731
        out["mean_ms"] = ms(self.mean())
        for q in percentiles:
            label = f"p{q:g}"
            out[f"{label}_ms"] = ms(self.percentile(q))
        out["max_ms"] = ms(self.max if self.n else None)
        out["min_ms"] = ms(self.min if self.n else None)
        return out

    def to_dict(self) -> dict:
        return {"c": self.counts, "n": self.n, "t": self.total, "max": self.max,
                "min": self.min if self.n else 0.0}

    @classmethod
    def from_dict(cls, data: Mapping) -> "LogHistogram":
        hist = cls()
        hist.counts = {int(k): int(v) for k, v in data.get("c", {}).items()}
        hist.n = int(data.get("n", 0))
        hist.total = float(data.get("t", 0.0))
        hist.max = float(data.get("max", 0.0))
        hist.min = float(data.get("min", 0.0)) if hist.n else math.inf
        return hist

    def __len__(self) -> int:
        return self.n


class Counters(dict):
    """A dict of named counts that adds up (`c.add("errors.rate_limited")`)."""

    def add(self, name: str, count: int = 1) -> None:
        self[name] = self.get(name, 0) + count

    def merge(self, other: Mapping[str, int]) -> "Counters":
        for name, count in other.items():
            self[name] = self.get(name, 0) + count
        return self


class Second:
    """What happened during one second of the run (relative to the common start time)."""

    __slots__ = ("counts", "ack", "delivery", "subscribe")

    def __init__(self) -> None:
        self.counts = Counters()
        self.ack = LogHistogram()
        self.delivery = LogHistogram()
        self.subscribe = LogHistogram()   # connect started -> subscription confirmed

    def to_dict(self) -> dict:
        return {"counts": dict(self.counts), "ack": self.ack.to_dict(), "delivery": self.delivery.to_dict(),
                "subscribe": self.subscribe.to_dict()}

    def merge(self, data: Mapping) -> None:
        self.counts.merge(data.get("counts", {}))
        self.ack.merge(data.get("ack", {}))
        self.delivery.merge(data.get("delivery", {}))
        self.subscribe.merge(data.get("subscribe", {}))
