"""The delivery API: internal port + secret only, 410 for strangers, batches in order, GET, DELETE."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from edge_harness import read_until_close, recv_json, recv_until, uid
from functions import contracts


def _message(room: str, seq: int, body: str = "hi") -> dict:
    return {"type": contracts.EVENT_MESSAGE, "room": room, "seq": seq, "messageId": contracts.message_id(room, seq),
            "clientMsgId": f"c{seq}", "senderId": "bob", "senderRole": "groomer", "body": body, "sentAt": 1}


@pytest.fixture
def subscribed(edge, room_with, connection_id_of):
    """(ws, connection id, room): a client subscribed to a room of its own."""
    user = uid("u")
    room = room_with(user)
    ws = edge.connect(user)
    ws.send(orjson.dumps({"type": "subscribe", "room": room}).decode())
    assert recv_until(ws, lambda f: f["type"] == "subscribed")[0]["room"] == room
    yield ws, connection_id_of(user), room
    ws.close()


def test_secret_required(edge):
    response = edge.delivery("GET", "/whatever", secret=False)
    assert response.status_code == 403
    response = edge.delivery("GET", "/whatever", headers={contracts.DELIVERY_SECRET_HEADER: "wrong"}, secret=False)
    assert response.status_code == 403
    assert edge.delivery("POST", "", json={"items": []}, secret=False).status_code == 403


def test_not_on_the_public_port(edge):
    assert edge.delivery("GET", "/whatever", port="public").status_code == 404
    assert edge.delivery("POST", "", json={"items": []}, port="public").status_code == 404


def test_unknown_connection_410(edge):
    for method in ("GET", "POST", "DELETE"):
        response = edge.delivery(method, "/" + uid("nobody"), data=b'{"type":"error"}')
        assert response.status_code == 410
        assert response.json() == {"message": "Gone"}


def test_get_shape(edge, connection_id_of):
    user = uid("u")
    ws = edge.connect(user, header=["User-Agent: edge-tests/1.0"])
    try:
        response = edge.delivery("GET", f"/{connection_id_of(user)}")
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"connectedAt", "identity", "lastActiveAt"}
        assert body["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "edge-tests/1.0"}
        for key in ("connectedAt", "lastActiveAt"):
            assert dt.datetime.fromisoformat(body[key].replace("Z", "+00:00")).tzinfo is not None
    finally:
        ws.close()


def test_single_post_event_and_raw_text(edge, subscribed):
    ws, connection_id, room = subscribed
    event = _message(room, 1, "single")
    assert edge.delivery("POST", f"/{connection_id}", data=orjson.dumps(event)).status_code == 200
    assert recv_json(ws) == event
    assert edge.delivery("POST", f"/{connection_id}", data=b"plain words").status_code == 200
    ws.settimeout(5)
    assert ws.recv() == "plain words"
    error = contracts.error_event("forbidden", "not a member", "c9")
    assert edge.delivery("POST", f"/{connection_id}", data=orjson.dumps(error)).status_code == 200
    assert recv_json(ws) == error


def test_single_post_over_limit_413(edge, subscribed):
    _, connection_id, _ = subscribed
    response = edge.delivery("POST", f"/{connection_id}", data=b"x" * (contracts.MAX_DELIVERY_DATA_BYTES + 1))
    assert response.status_code == 413


def test_batch_reaches_the_client_in_order(edge, subscribed):
    ws, connection_id, room = subscribed
    stranger = uid("gone")
    items = [([connection_id, stranger], _message(room, seq, f"m{seq}")) for seq in range(1, 41)]
    items.insert(10, ([connection_id], {"type": "typing", "room": room, "userId": "bob", "role": "groomer", "at": 1}))
    response = edge.delivery("POST", "", data=contracts.delivery_batch(items))
    assert response.status_code == 200
    assert response.json() == {"results": {connection_id: 200, stranger: 410}}
    received = [recv_json(ws) for _ in items]
    assert received == [data for _, data in items]


def test_duplicates_and_old_seqs_are_dropped(edge, subscribed):
    ws, connection_id, room = subscribed
    items = [([connection_id], _message(room, seq)) for seq in (1, 2, 2, 1, 3)]
    assert edge.delivery("POST", "", data=contracts.delivery_batch(items)).json()["results"][connection_id] == 200
    assert [recv_json(ws)["seq"] for _ in range(3)] == [1, 2, 3]
    ws.send('{"type":"ping"}')
    assert recv_json(ws) == {"type": "pong"}   # nothing else was queued before it


def test_events_for_rooms_not_subscribed_are_not_shown(edge, subscribed):
    ws, connection_id, room = subscribed
    other = uid("room")
    items = [([connection_id], _message(other, 1)), ([connection_id], _message(room, 1))]
    edge.delivery("POST", "", data=contracts.delivery_batch(items))
    assert recv_json(ws)["room"] == room


def test_bad_batches_400(edge):
    for body in (b"not json", b"[]", b'{"items": 3}', b'{"items": [{"connectionIds": "abc", "data": {}}]}',
                 b'{"items": [{"connectionIds": ["a"], "data": 5}]}'):
        assert edge.delivery("POST", "", data=body).status_code == 400, body


def test_delete_closes(edge, connection_id_of):
    user = uid("u")
    ws = edge.connect(user)
    connection_id = connection_id_of(user)
    assert edge.delivery("DELETE", f"/{connection_id}").status_code == 204
    _, code, _ = read_until_close(ws)
    assert code == 1000
    assert edge.delivery("GET", f"/{connection_id}").status_code == 410
    ws.close()


def test_slow_consumer_closed_1013_not_dropped(make_edge, room_with, connection_id_of):
    edge = make_edge(outbound_queue_size=16)
    user = uid("u")
    room = room_with(user)
    ws = edge.connect(user)
    try:
        ws.send(orjson.dumps({"type": "subscribe", "room": room}).decode())
        recv_until(ws, lambda f: f["type"] == "subscribed")
        connection_id = connection_id_of(user)
        items = [([connection_id], _message(room, seq, "b" * 1000)) for seq in range(1, 101)]
        results = edge.delivery("POST", "", data=contracts.delivery_batch(items)).json()["results"]
        assert results[connection_id] in (429, 410)
        frames, code, _ = read_until_close(ws, timeout=15)
        assert code == 1013
        # what did arrive is a gapless prefix: nothing silently skipped in the middle
        seqs = [f["seq"] for f in frames if f.get("type") == "message"]
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        ws.close()


def test_metrics_and_health(edge):
    import requests
    assert requests.get(f"{edge.public_url}/healthz", timeout=5).json()["status"] == "ok"
    assert requests.get(f"{edge.internal_url}/healthz", timeout=5).json()["status"] == "ok"
    assert requests.get(f"{edge.public_url}/metrics", timeout=5).status_code == 404   # internal only
    text = requests.get(f"{edge.internal_url}/metrics", timeout=5).text
    for name in ("tidings_edge_connections", "tidings_edge_frames_in_total", "tidings_edge_produce_seconds",
                 "tidings_edge_errors_total", "tidings_edge_deliveries_total"):
        assert name in text


def test_delivered_messages_feed_the_delivery_latency_histogram(edge, subscribed):
    import time

    import requests

    ws, connection_id, room = subscribed
    message = {**_message(room, 1), "sentAt": int(time.time() * 1000) - 150}   # taken 150 ms ago
    assert edge.delivery("POST", "", data=contracts.delivery_batch([([connection_id], message)])).status_code == 200
    assert recv_json(ws)["seq"] == 1
    text = requests.get(f"{edge.internal_url}/metrics", timeout=5).text
    counts = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith("tidings_edge_delivery_latency_seconds_bucket")}
    assert counts['tidings_edge_delivery_latency_seconds_bucket{le="0.1"}'] == 0
    assert counts['tidings_edge_delivery_latency_seconds_bucket{le="0.2"}'] == 1
