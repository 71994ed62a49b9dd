"""Bad input never crashes the JSON protocol: hypothesis over frames.

Every input gets an answer of the documented kind (an action or an `Invalid`), never another
exception or a hang. (The Kafka record parser's half: tests/functions/test_record_parser_fuzz.py.)
"""

from __future__ import annotations

import orjson
from hypothesis import given, settings, strategies as st

from functions import contracts
from websocket_edge.json_protocol import JsonProtocol
from websocket_edge.protocol import Invalid, Ping, Send, Subscribe, Typing, Unsubscribe

from strategies import json_values  # tests/strategies.py

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
