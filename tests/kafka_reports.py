"""What librdkafka hands a delivery callback or an error callback, for the stand-in clients of
the producer unit tests (tests/websocket_edge/test_producer_unit.py, tests/functions/test_record_producer.py)."""

from __future__ import annotations


class Msg:
    """A delivered record, as a delivery report names it."""

    def __init__(self, partition, offset):
        self._p, self._o = partition, offset

    def partition(self):
        return self._p

    def offset(self):
        return self._o


class Err:
    """A KafkaError: its text, and whether it is fatal (then not retriable)."""

    def __init__(self, text, fatal=False):
        self.text, self._fatal = text, fatal

    def fatal(self):
        return self._fatal

    def retriable(self):
        return not self._fatal

    def __str__(self):
        return self.text
