"""The STOMP handshake's terms: version, subprotocol and heart-beat negotiation."""

from __future__ import annotations

import pytest

from websocket_edge import stomp_handshake as h
from websocket_edge.stomp import StompError


@pytest.mark.parametrize("accept, subprotocol, expected", [
    (None, None, "1.0"),                       # no accept-version: a 1.0 client
    ("1.0,1.1,1.2", None, "1.2"),
    ("1.1", None, "1.1"),
    ("1.0, 1.1", None, "1.1"),
    ("1.1,2.0,1.0", None, "1.1"),
    ("1.2,junk", None, "1.2"),
    ("1.0,1.1,1.2", "v11.stomp", "1.1"),       # the handshake's subprotocol restricts
    ("1.0,1.1,1.2", "v10.stomp, v11.stomp", "1.1"),
    ("1.0,1.1,1.2", "stomp", "1.2"),           # plain "stomp" restricts nothing
    ("1.0,1.1,1.2", "", "1.2"),
])
def test_negotiate_version(accept, subprotocol, expected):
    assert h.negotiate_version(accept, subprotocol) == expected


@pytest.mark.parametrize("accept, subprotocol", [("2.0", None), ("", None), ("1.1", "v12.stomp"), (None, "v12.stomp")])
def test_negotiate_version_fails_when_nothing_is_common(accept, subprotocol):
    with pytest.raises(StompError, match="Supported protocol versions are 1.0 1.1 1.2"):
        h.negotiate_version(accept, subprotocol)


def test_select_subprotocol():
    assert h.select_subprotocol("v10.stomp, v11.stomp, v12.stomp") == "v12.stomp"
    assert h.select_subprotocol(["v11.stomp", "v10.stomp"]) == "v11.stomp"
    assert h.select_subprotocol("stomp") == "stomp"
    assert h.select_subprotocol("json, chat") is None
    assert h.select_subprotocol(None) is None


@pytest.mark.parametrize("client, server, expected", [
    (None, (10000, 10000), (0, 0)),
    ("0,0", (10000, 10000), (0, 0)),
    ("1000,5000", (10000, 10000), (10000, 10000)),  # the max of the two wishes
    ("20000,30000", (10000, 10000), (30000, 20000)),
    ("0,5000", (2000, 3000), (5000, 0)),             # client cannot send: expect nothing
    ("5000,0", (2000, 3000), (0, 5000)),             # client wants nothing: send nothing
    ("5000,5000", (0, 0), (0, 0)),                   # server neither sends nor expects
    (" 100 , 200 ", (1, 1), (200, 100)),
])
def test_negotiate_heartbeat(client, server, expected):
    assert h.negotiate_heartbeat(client, *server) == expected


@pytest.mark.parametrize("bad", ["", "10", "a,b", "1,2,3", "-1,0", "1;2", "1.5,2", "99999999999,1", "²,1"])
def test_negotiate_heartbeat_rejects_malformed_headers(bad):
    with pytest.raises(StompError, match="heart-beat"):
        h.negotiate_heartbeat(bad, 1000, 1000)
