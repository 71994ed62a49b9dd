"""Bad input never crashes: hypothesis over the JSON protocol and the Kafka record parser.

Every input gets an answer of the documented kind (an action or an `Invalid`; a parsed
record, a record with an error, or `Unparseable`), never another exception or a hang.
"""

from __future__ import annotations

import base64

import orjson
from hypothesis import given, settings, strategies as st

from functions import contracts
from functions.chat_worker import Unparseable, parse
from functions.events import KafkaEvent, KafkaRecord
from websocket_edge.json_protocol import JsonProtocol
from websocket_edge.protocol import Invalid, Ping, Send, Subscribe, Typing, Unsubscribe

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20)

frame_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["send", "subscribe", "unsubscribe", "typing", "ping", "dance", 7, None])},
    optional={"room": json_values | st.from_regex(contracts.ROOM_ID.regex, fullmatch=True),
              "clientMsgId": json_values | st.from_regex(contracts.CLIENT_MSG_ID.regex, fullmatch=True),
              "body": json_values | st.text(max_size=200),
              "afterSeq": json_values, "senderId": json_values})

ACTIONS = (Send, Subscribe, Unsubscribe, Typing, Ping, Invalid)


@settings(max_examples=400, deadline=200)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_json_protocol_survives_any_bytes(raw):
    actions = JsonProtocol().decode(raw)
    assert actions and all(isinstance(a, ACTIONS) for a in actions)


@settings(max_examples=600, deadline=200)
@given(frame_like)
def test_json_protocol_answers_every_shape_with_an_action_or_a_clear_error(frame):
    (action,) = JsonProtocol().decode(orjson.dumps(frame))
    assert isinstance(action, ACTIONS)
    if isinstance(action, Invalid):
        assert action.code in (contracts.ERR_BAD_FRAME, contracts.ERR_BAD_REQUEST, contracts.ERR_UNKNOWN_TYPE,
                               contracts.ERR_TOO_LARGE) and action.message
    if isinstance(action, Send):   # what passes is valid by the contracts
        assert contracts.ROOM_ID.valid(action.room) and contracts.CLIENT_MSG_ID.valid(action.client_msg_id)
        assert 0 < len(action.body) <= contracts.MAX_BODY_CHARS


def test_numbers_beyond_64_bits_get_a_clear_error():
    (action,) = JsonProtocol().decode('{"type":"subscribe","room":"r1","afterSeq":123456789012345678901234567890}')
    assert isinstance(action, Invalid) and action.code in (contracts.ERR_BAD_FRAME, contracts.ERR_BAD_REQUEST)


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
