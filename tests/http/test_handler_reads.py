"""Read marks, unread counts, presence and /me through the handler."""

import threading
import time

from http_harness import path

from functions import contracts
from functions.connections import Connections


def test_read_mark_moves_forward_only_and_clamps(client, sender, uid):
    alice, bob = uid("alice"), uid("bob")
    room_id = client.room(alice, {bob: "groomer"})
    read = path("rooms", room_id, "read")
    sender.send(room_id, bob, 10, role="groomer")
    status, body = client.call("PUT", read, user=alice, body={"seq": 4})
    assert status == 200
    assert body == {"roomId": room_id, "userId": alice, "readSeq": 4, "lastSeq": 10, "unread": 6, "moved": True}
    status, body = client.call("PUT", read, user=alice, body={"seq": 2})
    assert status == 200 and body["readSeq"] == 4 and body["moved"] is False and body["unread"] == 6
    status, body = client.call("PUT", read, user=alice, body={"seq": 1000})
    assert body["readSeq"] == 10 and body["unread"] == 0  # clamped to the room's lastSeq
    sender.send(room_id, bob, 3, role="groomer")
    status, body = client.call("PUT", read, user=alice, body={"seq": 0})
    assert body["readSeq"] == 10 and body["unread"] == 3 and body["lastSeq"] == 13
    status, body = client.call("GET", read, user=bob, role="groomer")
    assert status == 200 and body["lastSeq"] == 13
    assert {r["userId"]: r["readSeq"] for r in body["reads"]} == {alice: 10, bob: 0}
    assert [r for r in body["reads"] if r["userId"] == alice][0]["readAt"] > 0


def test_read_mark_bad_input_and_access(client, sender, uid):
    alice = uid("alice")
    room_id = client.room(alice)
    read = path("rooms", room_id, "read")
    for body in ({}, {"seq": -1}, {"seq": "3"}, {"seq": 1.5}, {"seq": True}, {"seq": None}, {"seq": 2 ** 60},
                 {"seq": 1, "x": 2}):
        status, answer = client.call("PUT", read, user=alice, body=body)
        assert status == 400 and answer["error"]["code"] == contracts.ERR_BAD_REQUEST, body
    assert client.call("PUT", read, user=alice, raw_body="seq=3")[1]["error"]["code"] == contracts.ERR_BAD_FRAME
    assert client.call("PUT", read, user=uid("eve"), body={"seq": 1})[0] == 403
    assert client.call("GET", read, user=uid("eve"))[0] == 403
    assert client.call("PUT", path("rooms", uid("room"), "read"), user=alice, body={"seq": 1})[0] == 404
    status, body = client.call("PUT", read, user=alice, body={"seq": 5})
    assert status == 200 and body["readSeq"] == 0 and body["lastSeq"] == 0 and body["moved"] is False


def test_concurrent_read_marks_never_move_back(client, sender, uid):
    alice = uid("alice")
    room_id = client.room(alice)
    sender.send(room_id, alice, 60)
    read = path("rooms", room_id, "read")
    errors = []

    def mark(seqs):
        for seq in seqs:
            status, body = client.call("PUT", read, user=alice, body={"seq": seq})
            if status != 200:
                errors.append(body)

    threads = [threading.Thread(target=mark, args=(range(start, 61, 4),)) for start in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert client.call("GET", read, user=alice)[1]["reads"][0]["readSeq"] == 60


def test_unread_is_right_while_messages_arrive(client, sender, uid):
    """A sender appends 200 messages in small batches while the reader keeps marking what
    it has seen and listing its rooms: unread never goes negative or above what exists,
    marks never pass lastSeq, and once sending stops, unread = lastSeq - readSeq exactly."""
    alice, bob = uid("alice"), uid("bob")
    room_id = client.room(alice, {bob: "groomer"})
    done = threading.Event()

    def send():
        try:
            for _ in range(40):
                sender.send(room_id, bob, 5, role="groomer", batch=5)
        finally:
            done.set()

    thread = threading.Thread(target=send)
    thread.start()
    observed = []
    while not done.is_set():
        status, rooms = client.call("GET", "/rooms", user=alice)
        assert status == 200
        summary = rooms["rooms"][0]
        assert 0 <= summary["unread"] <= summary["lastSeq"]
        assert summary["unread"] == summary["lastSeq"] - summary["readSeq"]
        status, mark = client.call("PUT", path("rooms", room_id, "read"), user=alice,
                                   body={"seq": summary["lastSeq"] + 3})  # ahead of what exists
        assert status == 200 and mark["readSeq"] <= mark["lastSeq"]
        observed.append(mark["readSeq"])
    thread.join()
    assert observed == sorted(observed)  # never moved back
    _, rooms = client.call("GET", "/rooms", user=alice)
    summary = rooms["rooms"][0]
    assert summary["lastSeq"] == 200 and summary["unread"] == 200 - summary["readSeq"] == 200 - observed[-1]
    _, bob_rooms = client.call("GET", "/rooms", user=bob, role="groomer")
    assert bob_rooms["rooms"][0]["unread"] == 200


def test_presence_from_live_subscriptions(client, settings, ddb, uid):
    alice, bob, carol = uid("alice"), uid("bob"), uid("carol")
    room_id = client.room(alice, {bob: "groomer", carol: "customer"})
    now = time.time()
    connections = Connections(settings, ddb, clock=lambda: now + 3600)
    connections.subscribe(room_id, uid("c"), bob, "groomer", "http://edge")
    connections.subscribe(room_id, uid("c"), bob, "groomer", "http://edge")
    expired = Connections(settings, ddb, clock=lambda: now - 10 * settings.connection_ttl_s)
    expired.subscribe(room_id, uid("c"), carol, "customer", "http://edge")
    status, body = client.call("GET", path("rooms", room_id, "presence"), user=alice)
    # the API reads with the real clock: bob's entries expire in an hour, carol's long ago
    assert status == 200 and body == {"roomId": room_id, "online": [bob]}
    assert client.call("GET", path("rooms", room_id, "presence"), user=uid("eve"))[0] == 403


def test_me(client, uid):
    alice = uid("alice")
    assert client.call("GET", "/me", user=alice, role="groomer") == (200, {"userId": alice, "role": "groomer"})
