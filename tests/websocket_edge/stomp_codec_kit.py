"""Helpers of the STOMP codec tests: the frames of a parse, one frame, a feed in pieces."""

from __future__ import annotations



from websocket_edge import stomp as s
from websocket_edge.stomp import Frame


def frames_of(items):
    return [item for item in items if isinstance(item, Frame)]


def one(data, **limits):
    items = frames_of(s.parse(data, **limits))
    assert len(items) == 1
    return items[0]


def feed_all(parser, data, size=1):
    out = []
    for i in range(0, len(data), size):
        out += parser.feed(data[i:i + size])
    return out
