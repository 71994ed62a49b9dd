"""Bad input never crashes the Kafka record parser: hypothesis over record values and keys.

Every input gets an answer of the documented kind (a parsed record, a record with an error,
or `Unparseable`), never another exception or a hang. (The JSON protocol's half:
tests/websocket_edge/test_json_protocol_fuzz.py.)
"""

from __future__ import annotations

import base64

import orjson
from hypothesis import given, settings, strategies as st

from functions import contracts
from functions.chat_worker import Unparseable, parse
from functions.events import KafkaEvent, KafkaRecord

from strategies import json_values  # tests/strategies.py


def _record(value: bytes | str, key: bytes | None) -> KafkaRecord:
    raw = {"topic": "tidings.chat", "partition": 0, "offset": 1, "timestamp": 0, "timestampType": "CREATE_TIME",
           "value": value if isinstance(value, str) else base64.b64encode(value).decode(), "headers": []}
    if key is not None:
        raw["key"] = base64.b64encode(key).decode()
    return KafkaEvent({"eventSource": "SelfManagedKafka", "bootstrapServers": "x",
                       "records": {"tidings.chat-0": [raw]}}).records.__iter__().__next__()


@settings(max_examples=400, deadline=200)
@given(st.binary(max_size=300) | st.text(max_size=100), st.none() | st.binary(max_size=40))
def test_record_parser_survives_any_value(value, key):
    try:
        rec = parse(_record(value, key))
    except Unparseable:
        return
    assert rec.error is None or rec.error[0] == contracts.ERR_BAD_REQUEST


@settings(max_examples=600, deadline=200)
@given(st.dictionaries(st.sampled_from(contracts.RECORD_FIELDS + ("state", "extra")), json_values, max_size=12),
       st.none() | st.text(max_size=20))
def test_record_parser_refuses_bad_fields_clearly(fields, key):
    try:
        rec = parse(_record(orjson.dumps(fields), key.encode() if key is not None else None))
    except Unparseable:
        raise AssertionError("a JSON object is always parseable: bad fields are a bad_request")
    if rec.error is not None:
        assert rec.error[0] == contracts.ERR_BAD_REQUEST and rec.error[1]
