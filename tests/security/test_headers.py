"""Class: headers (and what answers on which port).

Findings: the web page and its scripts had no Content-Security-Policy, nosniff or framing
protection; `GET /%00` on the gateway was a 500; `/metrics` was served on the public edge
port; after a worker refusal the STOMP ERROR was not followed by a close until the client
sent again.
"""

from __future__ import annotations

import requests

from security_harness import raw_http
from stomp_wire import StompWire


def test_the_page_and_its_scripts_carry_protective_headers(ports):
    base = f"http://127.0.0.1:{ports['gateway']}"
    for path in ("/", "/index.html", "/js/app.js", "/js/live.js", "/app.css"):
        headers = requests.get(base + path, timeout=10).headers
        policy = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, path
        assert "object-src 'none'" in policy and "base-uri 'none'" in policy, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path
    assert requests.get(base + "/api/me", timeout=10).headers["x-content-type-options"] == "nosniff"


def test_a_nul_in_the_path_is_a_400_not_a_500(ports):
    reply = raw_http(ports["gateway"], "GET", "/%00")
    assert reply.status == 400
    assert b"Traceback" not in reply.body and b"Internal" not in reply.body


def test_metrics_are_on_the_internal_port_only(ports):
    assert raw_http(ports["edge-a"], "GET", "/metrics").status == 404
    internal = raw_http(ports["edge-a-internal"], "GET", "/metrics")
    assert internal.status == 200 and b"tidings_edge_connections" in internal.body


def test_a_worker_refusal_ends_the_stomp_connection_without_waiting_for_the_client(ws_url, new_user, new_room):
    """A SEND to a room of others is accepted by Kafka (RECEIPT), then refused by the worker;
    the ERROR it becomes must be followed by the close at once."""
    owner, stranger = new_user(), new_user()
    room = new_room(owner)
    client = StompWire(ws_url("edge-a"), stranger.token)
    try:
        assert client.send_message(room, "let me in", "m-1").command == "RECEIPT"
        error = client.next_frame(timeout=15)
        assert error.command == "ERROR" and error.get("message") == "forbidden"
        assert client.closed_within(10)   # no frame from the client in between
    finally:
        client.close()
