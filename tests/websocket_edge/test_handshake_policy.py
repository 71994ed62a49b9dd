"""The handshake policy, pure: subprotocol choice, origins, where a token may travel, the
refusals before 101, the delivery secret. (With real sockets: test_handshake.py.)"""

from __future__ import annotations

import time

import pytest

from functions.settings import Settings
from functions.tokens import Identity, TokenError
from websocket_edge import handshake as hs

SETTINGS = Settings(allowed_origins=("https://app.example",))


@pytest.mark.parametrize("header,expected", [
    (None, ("tidings.json", None)),
    ("", ("tidings.json", None)),
    ("tidings.json", ("tidings.json", "tidings.json")),
    ("v10.stomp, v11.stomp, v12.stomp", ("v12.stomp", "v12.stomp")),
    ("tidings.json, v11.stomp", ("v11.stomp", "v11.stomp")),
    ("v12.stomp.evil", (None, None)),
    ("mqtt", (None, None)),
])
def test_choose_subprotocol(header, expected):
    assert hs.choose_subprotocol(header) == expected


def test_choose_subprotocol_among_supported_only():
    assert hs.choose_subprotocol("v12.stomp, tidings.json", ["tidings.json"]) == ("tidings.json", "tidings.json")
    assert hs.choose_subprotocol("v12.stomp", ["tidings.json"]) == (None, None)


def test_origin_allowed():
    allowed = ("https://app.example",)
    assert hs.origin_allowed("https://app.example", allowed)
    assert hs.origin_allowed("HTTPS://APP.EXAMPLE/", allowed)
    assert not hs.origin_allowed("https://app.example.evil", allowed)
    assert not hs.origin_allowed(None, allowed)
    assert hs.origin_allowed(None, allowed, allow_missing=True)
    assert not hs.origin_allowed("https://evil.example", allowed, allow_missing=True)
    assert hs.origin_allowed(None, ("*",)) and hs.origin_allowed("https://x", ("*",))


def test_extract_token_and_redact():
    assert hs.extract_token({"HTTP_AUTHORIZATION": "Bearer abc"}) == "abc"
    assert hs.extract_token({"HTTP_AUTHORIZATION": "Basic abc", "QUERY_STRING": "access_token=q"}) == "q"
    assert hs.extract_token({"QUERY_STRING": "x=1&access_token=t.k.n"}) == "t.k.n"
    assert hs.extract_token({}) is None
    assert hs.redact_query("x=1&access_token=secret&y=2") == "x=1&access_token=***&y=2"


def _environ(**extra):
    env = {"PATH_INFO": "/ws", "SERVER_PORT": "8001", "HTTP_ORIGIN": "https://app.example",
           "HTTP_AUTHORIZATION": "Bearer good"}
    env.update(extra)
    return env


def _verify(settings, token):
    if token != "good":
        raise TokenError("invalid token")
    return Identity("alice", "customer", time.time() + 60)


@pytest.mark.parametrize("changes,status", [
    ({"PATH_INFO": "/other"}, 404),
    ({"SERVER_PORT": str(SETTINGS.edge_internal_port)}, 404),
    ({"HTTP_ORIGIN": "https://evil"}, 403),
    ({"HTTP_SEC_WEBSOCKET_PROTOCOL": "mqtt"}, 400),
    ({"HTTP_AUTHORIZATION": "Bearer bad"}, 401),
])
def test_handshake_refusals(changes, status):
    decision = hs.Handshake(SETTINGS, verify=_verify).evaluate(_environ(**changes))
    assert isinstance(decision, hs.Reject) and decision.status_code == status


def test_handshake_accepts_and_limits():
    decision = hs.Handshake(SETTINGS, verify=_verify).evaluate(_environ())
    assert isinstance(decision, hs.Accept) and decision.identity.user_id == "alice"
    full = hs.Handshake(SETTINGS, verify=_verify, connections_of=lambda u: SETTINGS.max_connections_per_user)
    assert full.evaluate(_environ()).status_code == 429
    closing = hs.Handshake(SETTINGS, verify=_verify, shutting_down=lambda: True)
    assert closing.evaluate(_environ()).status_code == 503


def test_delivery_secret_compare():
    assert hs.delivery_secret_ok(SETTINGS, SETTINGS.delivery_secret)
    assert not hs.delivery_secret_ok(SETTINGS, None)
    assert not hs.delivery_secret_ok(SETTINGS, SETTINGS.delivery_secret + "x")
    assert not hs.delivery_secret_ok(SETTINGS, "ünïcode")
