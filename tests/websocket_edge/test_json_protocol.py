"""The JSON protocol: frames decoded into actions, actions and events rendered as frames."""

from __future__ import annotations

import orjson

from functions import contracts
from websocket_edge.json_protocol import JsonProtocol
from websocket_edge.protocol import Invalid, Ping, Send, ServerEvent, Subscribe, Typing, Unsubscribe


def test_json_decode_actions():
    p = JsonProtocol()
    assert p.decode('{"type":"send","room":"r","clientMsgId":"c","body":"b","senderId":"x"}') == [Send("r", "c", "b")]
    assert p.decode('{"type":"subscribe","room":"r","afterSeq":5}') == [Subscribe("r", 5)]
    assert p.decode('{"type":"subscribe","room":"r"}') == [Subscribe("r", None)]
    assert p.decode('{"type":"unsubscribe","room":"r"}') == [Unsubscribe("r")]
    assert p.decode('{"type":"typing","room":"r"}') == [Typing("r")]
    assert p.decode(b'{"type":"ping"}') == [Ping()]
    (bad,) = p.decode('{"type":"subscribe","room":"r","afterSeq":true}')
    assert isinstance(bad, Invalid) and bad.code == contracts.ERR_BAD_REQUEST


def test_json_render():
    p = JsonProtocol()
    assert orjson.loads(p.render_ack(Send("r", "c", "b"), 1, 7)[0]) == {
        "type": "ack", "clientMsgId": "c", "room": "r", "partition": 1, "offset": 7}
    assert orjson.loads(p.render_error("forbidden", "no", "r")[0]) == {
        "type": "error", "code": "forbidden", "message": "no", "ref": "r"}
    assert orjson.loads(p.render_subscribed(Subscribe("r", 3), 9)[0]) == {"type": "subscribed", "room": "r", "lastSeq": 9}
    assert orjson.loads(p.render_subscribed(Subscribe("r"), None)[0]) == {"type": "subscribed", "room": "r"}
    event = ServerEvent({"type": "typing", "room": "r"})
    assert p.render_event(event) == [event.json_bytes] and p.render_event(event)[0] is event.json_bytes
    assert p.heartbeat() is None
