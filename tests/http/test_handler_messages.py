"""History pages through the handler: both directions, cursors, no depth limit."""

import pytest
from http_harness import path

from functions import contracts
from functions.http.messages import encode_cursor


@pytest.fixture
def room250(client, sender, uid):
    alice, bob = uid("alice"), uid("bob")
    room_id = client.room(alice, {bob: "groomer"})
    assert sender.send(room_id, bob, 250, role="groomer") == 250
    return room_id, alice


def _walk(client, room_id, user, first_query, key):
    seen, pages = [], 0
    status, page = client.call("GET", path("rooms", room_id, "messages"), user=user, query=first_query)
    while True:
        assert status == 200, page
        seqs = [m["seq"] for m in page["items"]]
        assert seqs == sorted(seqs)
        seen.append(seqs)
        pages += 1
        if page[key] is None:
            return seen
        status, page = client.call("GET", path("rooms", room_id, "messages"), user=user,
                                   query={"cursor": page[key], "limit": first_query.get("limit", "50")})


def test_forward_through_250(client, room250):
    room_id, alice = room250
    pages = _walk(client, room_id, alice, {"after": "0", "limit": "40"}, "nextCursor")
    assert [s for p in pages for s in p] == list(range(1, 251))
    assert [len(p) for p in pages] == [40] * 6 + [10]


def test_backward_through_250(client, room250):
    room_id, alice = room250
    pages = _walk(client, room_id, alice, {"limit": "40"}, "prevCursor")
    assert pages[0] == list(range(211, 251))  # no bounds: the latest page
    assert [s for p in reversed(pages) for s in p] == list(range(1, 251))


def test_cursors_both_ways_from_the_middle(client, room250):
    room_id, alice = room250
    url = path("rooms", room_id, "messages")
    status, page = client.call("GET", url, user=alice, query={"before": "101", "limit": "20"})
    assert [m["seq"] for m in page["items"]] == list(range(81, 101))
    assert page["nextCursor"] and page["prevCursor"] and page["lastSeq"] == 250
    _, newer = client.call("GET", url, user=alice, query={"cursor": page["nextCursor"], "limit": "20"})
    assert [m["seq"] for m in newer["items"]] == list(range(101, 121))
    _, older = client.call("GET", url, user=alice, query={"cursor": page["prevCursor"], "limit": "20"})
    assert [m["seq"] for m in older["items"]] == list(range(61, 81))
    _, back = client.call("GET", url, user=alice, query={"cursor": newer["prevCursor"], "limit": "20"})
    assert [m["seq"] for m in back["items"]] == list(range(81, 101))
    message = page["items"][0]
    assert message["messageId"] == contracts.message_id(room_id, 81) and message["body"] == "message 81"
    assert set(message) == {"roomId", "seq", "messageId", "clientMsgId", "senderId", "senderRole", "body",
                            "sentAt", "storedAt"}


def test_range_pages_forward_inside_bounds(client, room250):
    room_id, alice = room250
    pages = _walk(client, room_id, alice, {"after": "10", "before": "31", "limit": "8"}, "nextCursor")
    assert [s for p in pages for s in p] == list(range(11, 31))


def test_ends_and_empty_room(client, room250, uid):
    room_id, alice = room250
    url = path("rooms", room_id, "messages")
    _, first = client.call("GET", url, user=alice, query={"after": "0", "limit": "5"})
    assert first["prevCursor"] is None and first["nextCursor"]
    _, tail = client.call("GET", url, user=alice, query={"after": "245"})
    assert [m["seq"] for m in tail["items"]] == list(range(246, 251)) and tail["nextCursor"] is None
    _, beyond = client.call("GET", url, user=alice, query={"after": "250"})
    assert beyond["items"] == [] and beyond["nextCursor"] is None and beyond["prevCursor"]
    _, start = client.call("GET", url, user=alice, query={"before": "1"})
    assert start["items"] == [] and start["prevCursor"] is None and start["nextCursor"]
    empty_room = client.room(alice)
    status, empty = client.call("GET", path("rooms", empty_room, "messages"), user=alice)
    assert status == 200 and empty["items"] == [] and empty["nextCursor"] is None and empty["prevCursor"] is None
    _, default = client.call("GET", url, user=alice)
    assert len(default["items"]) == 50


def test_history_bad_input_and_access(client, room250, uid):
    room_id, alice = room250
    url = path("rooms", room_id, "messages")
    for query in ({"limit": "0"}, {"limit": "201"}, {"limit": "x"}, {"after": "-1"}, {"before": "1.5"},
                  {"after": "1,2"}, {"after": ""}, {"cursor": "nope"}, {"cursor": ""},
                  {"cursor": encode_cursor(uid("room"), after=3)},      # another room's cursor
                  {"cursor": encode_cursor(room_id, after=3), "after": "1"},
                  {"after": "99999999999999999999"}):
        status, body = client.call("GET", url, user=alice, query=query)
        assert status == 400 and body["error"]["code"] == contracts.ERR_BAD_REQUEST, (query, body)
    assert client.call("GET", url, user=uid("eve"))[0] == 403
    assert client.call("GET", path("rooms", uid("room"), "messages"), user=alice)[0] == 404
