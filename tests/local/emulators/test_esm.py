"""The ESM's failure handling (retries, bisect, partial batches, dead letters), one unit at a time.

The end-to-end path with a real broker lives in tests/e2e; here the handler and the
dead-letter sink are plain functions so each rule can be shown precisely.
"""

import base64
import dataclasses

import pytest
from botocore.exceptions import EndpointConnectionError

from functions.settings import Settings
from local.emulators.esm import EventSourceMapping, StopRequested, is_transient
from local.emulators.esm_event import build_event, failed_from


@dataclasses.dataclass(eq=False)
class Msg:
    _partition: int
    _offset: int
    _value: bytes = b"{}"
    _key: bytes | None = b"room-1"
    _ts: int = 1_700_000_000_000

    def topic(self): return "tidings.chat"
    def partition(self): return self._partition
    def offset(self): return self._offset
    def value(self): return self._value
    def key(self): return self._key
    def headers(self): return [("tidings-schema", b"1")]
    def timestamp(self): return (1, self._ts)
    def error(self): return None


class Recorder(EventSourceMapping):
    def __init__(self, handler, **overrides):
        settings = dataclasses.replace(Settings(), **overrides)
        super().__init__(settings, handler, sleep=lambda s: None, consumer=object(), dlq=object())
        self.dead = []

    def dead_letter(self, records, condition, error, attempts):
        self.dead.extend((m.partition(), m.offset(), condition, attempts) for m in records)


def offsets(event):
    return [r["offset"] for recs in event["records"].values() for r in recs]


def test_event_has_lambdas_exact_shape():
    event = build_event([Msg(0, 5, b'{"a":1}'), Msg(2, 7, _key=None)], "127.0.0.1:9092")
    assert event["eventSource"] == "SelfManagedKafka"
    assert event["bootstrapServers"] == "127.0.0.1:9092"
    assert set(event["records"]) == {"tidings.chat-0", "tidings.chat-2"}
    rec = event["records"]["tidings.chat-0"][0]
    assert rec["partition"] == 0 and rec["offset"] == 5 and rec["timestampType"] == "CREATE_TIME"
    assert base64.b64decode(rec["value"]) == b'{"a":1}'
    assert base64.b64decode(rec["key"]) == b"room-1"
    assert rec["headers"] == [{"tidings-schema": [ord("1")]}]
    assert "key" not in event["records"]["tidings.chat-2"][0]


def test_partial_failure_retries_from_lowest_failed_offset_of_that_partition():
    batch = [Msg(0, 1), Msg(0, 2), Msg(0, 3), Msg(1, 1)]
    response = {"batchItemFailures": [{"itemIdentifier": {"partition": "tidings.chat-0", "offset": 2}}]}
    assert [(m.partition(), m.offset()) for m in failed_from(response, batch)] == [(0, 2), (0, 3)]
    unknown = {"batchItemFailures": [{"itemIdentifier": {"partition": "tidings.chat-0", "offset": 99}}]}
    assert failed_from(unknown, batch) == batch
    assert failed_from(None, batch) == [] and failed_from({"batchItemFailures": []}, batch) == []


def test_poison_record_is_bisected_out_and_dead_lettered_after_bounded_retries():
    calls = []

    def handler(event, context):
        calls.append(offsets(event))
        if 3 in offsets(event):
            raise ValueError("poison")

    esm = Recorder(handler, max_retry_attempts=2, bisect_on_error=True)
    esm.handle([Msg(0, o) for o in range(1, 7)])
    assert esm.dead == [(0, 3, "RetriesExhausted", 3)]
    handled = {o for call in calls if 3 not in call for o in call}
    assert handled == {1, 2, 4, 5, 6}            # every other record got through
    assert calls.count([3]) == 3                  # first try + 2 retries, then the DLQ


def test_without_bisect_the_whole_batch_is_retried_then_dead_lettered():
    esm = Recorder(lambda e, c: (_ for _ in ()).throw(RuntimeError("boom")), max_retry_attempts=1,
                   bisect_on_error=False)
    esm.handle([Msg(0, 1), Msg(0, 2)])
    assert esm.dead == [(0, 1, "RetriesExhausted", 2), (0, 2, "RetriesExhausted", 2)]


def test_infrastructure_errors_are_retried_without_limit_and_never_dead_lettered():
    failures = {"left": 25}

    def handler(event, context):
        if failures["left"]:
            failures["left"] -= 1
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    esm = Recorder(handler, max_retry_attempts=1)
    esm.handle([Msg(0, 1)])
    assert esm.dead == [] and failures["left"] == 0


def test_a_stop_during_a_store_outage_leaves_the_batch_uncommitted_not_dead_lettered():
    def unreachable(event, context):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    esm = Recorder(unreachable)
    esm.stopping.set()
    with pytest.raises(StopRequested):
        esm.handle([Msg(0, 1), Msg(0, 2)])
    assert esm.dead == []


def test_order_is_kept_across_bisected_halves():
    seen = []

    def handler(event, context):
        if len(offsets(event)) > 2:
            raise ValueError("too big to succeed")
        seen.extend(offsets(event))

    esm = Recorder(handler, max_retry_attempts=0, bisect_on_error=True)
    esm.handle([Msg(0, o) for o in range(8)])
    assert seen == list(range(8)) and esm.dead == []


@pytest.mark.parametrize("exc,expected", [
    (EndpointConnectionError(endpoint_url="x"), True),
    (ConnectionRefusedError(), True),
    (ValueError("bad record"), False),
])
def test_transient_classification(exc, expected):
    assert is_transient(exc) is expected
