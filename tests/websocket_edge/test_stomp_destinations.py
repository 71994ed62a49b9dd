"""The STOMP destinations of the old clients and the rooms they name."""

from __future__ import annotations

from websocket_edge import stomp_destinations as d


def test_destinations():
    assert d.parse_send_destination("/pub/chat/send/room-1") == "room-1"
    assert d.parse_subscribe_destination("/sub/chat/room_1.a:b") == "room_1.a:b"
    assert d.subscribe_destination("room-1") == "/sub/chat/room-1"
    assert d.parse_subscribe_destination(d.subscribe_destination("r9")) == "r9"
    for bad in [None, "", "/pub/chat/send/", "/pub/chat/send/a/b", "/pub/chat/send/a b", "/sub/chat/r1",
                "pub/chat/send/r1", "/pub/chat/send/r1\n", "/pub/chat/send/" + "x" * 129]:
        assert d.parse_send_destination(bad) is None, bad
    for bad in [None, "/sub/chat/", "/sub/chat/send/r1", "/pub/chat/send/r1", "/sub/chat/ä"]:
        assert d.parse_subscribe_destination(bad) is None, bad
