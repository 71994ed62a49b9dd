"""Upgrades are decided BEFORE the 101: refusals are plain HTTP answers and no socket opens."""

from __future__ import annotations

import base64
import time

import jwt
import orjson
import pytest
import websocket

from edge_harness import APP_ORIGIN, raw_upgrade, uid


def _status(edge, token=None, **kwargs):
    headers = kwargs.pop("headers", {"Origin": APP_ORIGIN})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return raw_upgrade(edge.public_port, headers=headers, **kwargs)


def _refused(result, status):
    code, headers, body, closed = result
    assert code == status, (code, body)
    assert closed, "the server must close the connection after refusing"
    assert headers.get("connection", "").lower() == "close"
    assert int(headers["content-length"]) == len(body)
    return orjson.loads(body) if body.startswith(b"{") else body


def test_good_token_upgrades(edge):
    code, headers, _, _ = _status(edge, edge.token(uid("u")))
    assert code == 101
    assert "sec-websocket-protocol" not in headers   # none offered: JSON, nothing echoed


def test_missing_token_upgrades_and_the_first_frame_must_carry_it(edge):
    """No token at the handshake: the socket opens, its first frame must authenticate
    (tests/security/test_token_transport.py has the rest); a bad one is still a 401 here."""
    code, _, _, _ = _status(edge)
    assert code == 101
    ws = websocket.create_connection(edge.ws_url(), origin=APP_ORIGIN, timeout=10)
    try:
        ws.send('{"type":"subscribe","room":"r1"}')
        assert orjson.loads(ws.recv())["code"] == "unauthorized"
    finally:
        ws.close()


def test_bad_token_401(edge):
    _refused(_status(edge, "not.a.token"), 401)
    wrong_key = jwt.encode({"sub": "eve", "role": "customer", "iss": edge.settings.jwt_issuer,
                            "aud": edge.settings.jwt_audience, "iat": int(time.time()),
                            "exp": int(time.time()) + 60}, "another-secret-that-is-long-enough-0123456789")
    _refused(_status(edge, wrong_key), 401)


def test_expired_token_401(edge):
    now = int(time.time())
    expired = jwt.encode({"sub": "eve", "role": "customer", "iss": edge.settings.jwt_issuer,
                          "aud": edge.settings.jwt_audience, "iat": now - 7200, "exp": now - 3600},
                         edge.settings.jwt_secret)
    body = _refused(_status(edge, expired), 401)
    assert "expired" in body["message"]


def test_alg_none_token_401(edge):
    def b64(obj):
        return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()
    now = int(time.time())
    unsigned = b64({"alg": "none", "typ": "JWT"}) + "." + b64(
        {"sub": "eve", "role": "admin", "iss": edge.settings.jwt_issuer, "aud": edge.settings.jwt_audience,
         "iat": now, "exp": now + 600}) + "."
    _refused(_status(edge, unsigned), 401)


def test_token_in_query_param_and_not_logged(edge):
    token = edge.token(uid("u"))
    code, _, _, _ = raw_upgrade(edge.public_port, path=f"/ws?access_token={token}",
                                headers={"Origin": APP_ORIGIN})
    assert code == 101
    deadline = time.monotonic() + 5
    while "access_token=***" not in edge.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "access_token=***" in edge.log()
    assert token not in edge.log()


def test_bad_origin_403(edge):
    token = edge.token(uid("u"))
    body = _refused(_status(edge, token, headers={"Origin": "https://evil.example"}), 403)
    assert body["code"] == "forbidden"

def test_missing_origin_with_an_allow_list(make_edge):
    # A native client sends no Origin: let through by default (the token still decides)...
    edge = make_edge(allowed_origins=("https://app.example",))
    assert _status(edge, edge.token(uid("u")), headers={})[0] == 101
    # ...and refused when the deployment wants browsers only.
    strict = make_edge(allowed_origins=("https://app.example",), allow_missing_origin=False)
    _refused(_status(strict, strict.token(uid("u")), headers={}), 403)


def test_wildcard_allows_missing_origin(make_edge):
    edge = make_edge(allowed_origins=("*",))
    code, _, _, _ = _status(edge, edge.token(uid("u")), headers={})
    assert code == 101


def test_unsupported_subprotocol_400(edge):
    body = _refused(_status(edge, edge.token(uid("u")),
                            headers={"Origin": APP_ORIGIN, "Sec-WebSocket-Protocol": "mqtt, v12.stomp.evil"}), 400)
    assert "subprotocol" in body["message"]


def test_subprotocol_chosen_and_echoed(edge):
    ws = edge.connect(uid("u"), subprotocols=["chat.v9", "tidings.json"])
    try:
        assert ws.getsubprotocol() == "tidings.json"
        assert ws.getheaders()["sec-websocket-protocol"] == "tidings.json"
    finally:
        ws.close()


def test_websocket_client_sees_status(edge):
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(edge.ws_url("garbage"), origin=APP_ORIGIN, timeout=5)
    assert info.value.status_code == 401


def test_bad_key_400_not_500(edge):
    token = edge.token(uid("u"))
    _refused(_status(edge, token, key="!!!not-base64!!!"), 400)
    _refused(_status(edge, token, key=base64.b64encode(b"short").decode()), 400)


def test_missing_version_426_with_body(edge):
    body = _refused(_status(edge, edge.token(uid("u")), version=None), 426)
    assert body["code"] == "bad_request"


def test_no_upgrade_on_internal_port(edge):
    code, _, _, closed = raw_upgrade(edge.internal_port, headers={
        "Origin": APP_ORIGIN, "Authorization": f"Bearer {edge.token(uid('u'))}"})
    assert code == 404 and closed


def test_too_many_connections_per_user_429(make_edge):
    edge = make_edge(max_connections_per_user=2)
    user = uid("u")
    sockets = [edge.connect(user), edge.connect(user)]
    try:
        _refused(_status(edge, edge.token(user)), 429)
    finally:
        for ws in sockets:
            ws.close()


def test_http_10_upgrade_400_not_402(edge):
    body = _refused(_status(edge, edge.token(uid("u")), http="HTTP/1.0"), 400)
    assert body["code"] == "bad_request"
