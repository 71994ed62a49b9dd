"""Class: token transport.

Findings: the web client took its edges from `?edges=` and connected there with
`?access_token=<token>`, so a link could send a user's token to any host; and a token was only
accepted in the upgrade request, which pushes browsers to put it in the URL (access logs,
proxies, history), while Spring STOMP clients send it in CONNECT and got 401.

Now the token may come in the first frame (STOMP CONNECT `Authorization: Bearer` or
`passcode`, JSON `{"type":"auth","token"}`); until then a socket may send nothing else, has
`auth_timeout_s` to do it and counts against per-address and total caps. The web client
takes its edges from the server (/config.json) and sends its token in CONNECT.
"""

from __future__ import annotations

import time

import pytest
import requests
import websocket

from local.demo.client import ChatClient, ConnectionClosed
from stomp_wire import StompWire


def test_stomp_clients_that_log_in_with_connect_headers_chat_across_two_edges(ws_url, new_user, new_room):
    customer, groomer = new_user("customer"), new_user("groomer")
    room = new_room(customer, groomer)
    c = StompWire(ws_url("edge-a"), customer.token, how="authorization")
    g = StompWire(ws_url("edge-b"), groomer.token, how="passcode")
    try:
        assert c.connected.command == "CONNECTED" and g.connected.command == "CONNECTED"
        assert c.subscribe(room).command == "RECEIPT" and g.subscribe(room).command == "RECEIPT"
        assert c.send_message(room, "hello from a", "m-1").command == "RECEIPT"
        got = g.next_message()
        assert b'"senderId":"%s"' % customer.id.encode() in got.body and b"hello from a" in got.body
        assert b"hello from a" in c.next_message().body   # the sender sees its own message too
        assert g.send_message(room, "hello from b", "m-2").command == "RECEIPT"
        got = c.next_message()
        assert b'"senderId":"%s"' % groomer.id.encode() in got.body and b"hello from b" in got.body
    finally:
        c.close()
        g.close()


def test_a_json_client_may_send_its_token_in_the_first_frame(ws_url, new_user, new_room):
    user = new_user()
    room = new_room(user)
    client = ChatClient(ws_url("edge-b"), user.token, auth="frame")
    try:
        assert client.frames[0]["type"] == "authenticated" and client.frames[0]["userId"] == user.id
        assert client.subscribe(room)["type"] == "subscribed"
        assert client.send_and_ack(room, "hi")["type"] == "ack"
        assert client.wait_messages(room, 1)[0]["senderId"] == user.id
    finally:
        client.close()


@pytest.mark.parametrize("first", [
    '{"type":"subscribe","room":"r1"}',
    '{"type":"auth","token":"not.a.jwt"}',
    '{"type":"auth"}',
    "not json",
])
def test_an_unauthenticated_json_socket_may_only_authenticate(ws_url, first):
    client = ChatClient(ws_url("edge-a"))
    try:
        client.send_raw(first)
        error = client.wait_for(lambda f: f["type"] == "error")
        assert error["code"] in ("unauthorized", "bad_frame")
        with pytest.raises(ConnectionClosed) as closed:
            client.drain(10)
        assert closed.value.code in (1008, 1002)
    finally:
        client.close()


def test_an_unauthenticated_stomp_socket_gets_error_and_close(ws_url, new_user, new_room):
    user = new_user()
    room = new_room(user)
    for first in ("SUBSCRIBE", "CONNECT-without-token", "CONNECT-with-bad-token"):
        client = StompWire(ws_url("edge-b"), None, connect=False)
        try:
            if first == "SUBSCRIBE":
                client.send("SUBSCRIBE", {"id": "0", "destination": f"/sub/chat/{room}"})
            elif first == "CONNECT-without-token":
                client.send("CONNECT", {"accept-version": "1.2", "host": "x"})
            else:
                client.send("CONNECT", {"accept-version": "1.2", "host": "x", "Authorization": "Bearer a.b.c"})
            error = client.next_frame()
            assert error.command == "ERROR", first
            assert client.closed_within(10), first
        finally:
            client.close()


def test_an_idle_unauthenticated_socket_is_closed_after_the_deadline(make_edge):
    edge = make_edge(auth_timeout_s=1.0)
    client = ChatClient(f"ws://127.0.0.1:{edge.public_port}/ws")
    try:
        error = client.wait_for(lambda f: f["type"] == "error", timeout=15)
        assert error["code"] == "unauthorized"
        with pytest.raises(ConnectionClosed) as closed:
            client.drain(15)
        assert closed.value.code == 1008
    finally:
        client.close()


def test_unauthenticated_sockets_are_capped_per_address_and_in_total(make_edge, new_user):
    edge = make_edge(max_unauthenticated_per_address=2, max_unauthenticated=3, auth_timeout_s=30.0)
    url = f"ws://127.0.0.1:{edge.public_port}/ws"
    waiting = [websocket.create_connection(url, timeout=10) for _ in range(2)]
    try:
        time.sleep(0.3)   # the sessions have started and are counted
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, timeout=10)
        assert refused.value.status_code == 429
        # a socket that shows its token at the handshake is not held up by the cap
        user = new_user()
        ok = ChatClient(url, user.token)
        ok.close()
        # after one authenticates, there is room for one more unauthenticated socket
        waiting[0].send('{"type":"auth","token":"%s"}' % user.token)
        assert '"authenticated"' in waiting[0].recv()
        time.sleep(0.2)
        waiting.append(websocket.create_connection(url, timeout=10))
    finally:
        for ws in waiting:
            ws.close()


def test_the_web_client_gets_its_edges_from_the_server(ports):
    base = f"http://127.0.0.1:{ports['gateway']}"
    config = requests.get(f"{base}/config.json", timeout=10).json()
    assert config["edges"] == [f"ws://127.0.0.1:{ports['edge-a']}/ws", f"ws://127.0.0.1:{ports['edge-b']}/ws"]
    # the query string changes nothing the server says
    assert requests.get(f"{base}/config.json?edges=ws://attacker:9999/ws", timeout=10).json() == config
    policy = requests.get(f"{base}/?edges=ws://attacker:9999/ws", timeout=10).headers["content-security-policy"]
    assert "attacker" not in policy and f"ws://127.0.0.1:{ports['edge-a']}" in policy


def test_the_web_client_never_puts_a_token_in_a_url(run_node_test):
    """local/web/js: readConfig ignores ?edges=, Live connects with the token in CONNECT only."""
    run_node_test("token_transport.test.mjs")


def test_the_handshake_token_still_works_in_a_header_and_in_the_query(ws_url, new_user):
    user = new_user()
    for auth in ("header", "query"):
        client = ChatClient(ws_url("edge-a"), user.token, auth=auth)
        try:
            client.send_json({"type": "ping"})
            assert client.wait_for(lambda f: f["type"] == "pong")
        finally:
            client.close()
