"""Routing, identity and bad input: always a JSON 4xx, never a 500 (hypothesis)."""

import json
from urllib.parse import quote

import orjson
import pytest
from http_harness import path, v2_event
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from functions import contracts
from functions.http.api import ROUTES, match_route

FUZZ = hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
ids = st.text(max_size=140) | st.from_regex(contracts.ROOM_ID.regex, fullmatch=True)


def _check_error_shape(response):
    assert response["statusCode"] < 500, response
    assert response["headers"]["content-type"] == "application/json"
    body = orjson.loads(response["body"])
    if response["statusCode"] >= 400:
        assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
        assert body["error"]["code"] in {v for k, v in vars(contracts).items() if k.startswith("ERR_")}
    return body


def test_route_matching_table():
    assert match_route("GET", "/rooms/r1/messages")[0].key == "GET /rooms/{roomId}/messages"
    assert match_route("DELETE", "/rooms/r1/members/u%40x")[1] == {"roomId": "r1", "userId": "u@x"}
    assert match_route("PATCH", "/rooms/r1") == (None, ["GET"])
    assert match_route("GET", "/nope") == (None, [])
    assert match_route("GET", "/rooms/") == (None, []) and match_route("GET", "/rooms//read") == (None, [])
    assert match_route("DELETE", "/devices/d%2F1")[1] == {"deviceId": "d/1"}
    assert match_route("PUT", "/rooms/r1/mute")[0].key == "PUT /rooms/{roomId}/mute"
    assert sorted(match_route("POST", "/devices")[1]) == ["GET", "PUT"]
    assert match_route("GET", f"/rooms/r1/attachments/{'a' * 32}")[1] == {"roomId": "r1", "attId": "a" * 32}
    assert sorted(match_route("PUT", "/rooms/r1/attachments")[1]) == ["POST"]
    assert match_route("PATCH", "/rooms/r1/messages/7")[1] == {"roomId": "r1", "seq": "7"}
    assert sorted(match_route("PUT", "/rooms/r1/messages/7")[1]) == ["DELETE", "PATCH"]
    assert match_route("POST", "/rooms/r1/messages/7/reactions")[0].key == "POST /rooms/{roomId}/messages/{seq}/reactions"
    # 10 chat, 5 push (issue 15), 2 attachments and 3 message changes (issue 16)
    assert len({r.key for r in ROUTES}) == len(ROUTES) == 20


def test_missing_or_bad_claims_is_401(api, uid):
    for event in (v2_event("GET", "/me", user=None), v2_event("GET", "/me", user="bad user"),
                  v2_event("GET", "/me", user=uid("u"), role="emperor")):
        response = api.handle(event, None)
        assert response["statusCode"] == 401
        assert orjson.loads(response["body"])["error"]["code"] == contracts.ERR_UNAUTHORIZED
    event = v2_event("GET", "/me", user=uid("u"))
    del event["requestContext"]["authorizer"]["jwt"]["claims"]["role"]
    assert api.handle(event, None)["statusCode"] == 401


def test_unknown_route_404_and_wrong_method_405(api, client, uid):
    status, body = client.call("GET", "/nowhere", user=uid("u"))
    assert status == 404 and body["error"]["code"] == contracts.ERR_NOT_FOUND
    response = api.handle(v2_event("PATCH", "/rooms/r1", user=uid("u")), None)
    assert response["statusCode"] == 405 and response["headers"]["allow"] == "GET"
    response = api.handle(v2_event("DELETE", "/rooms", user=uid("u")), None)
    assert response["statusCode"] == 405 and response["headers"]["allow"] == "GET, POST"
    # a known routeKey without its pathParameters (a misconfigured integration)
    event = v2_event("GET", "/rooms/r1", user=uid("u"), path_parameters={})
    assert api.handle(event, None)["statusCode"] == 400
    # routing by rawPath when API Gateway sends the catch-all route
    alice = uid("alice")
    room_id = client.room(alice)
    status, body = client.call("GET", path("rooms", room_id), user=alice, route_key="$default")
    assert status == 200 and body["roomId"] == room_id


def test_not_an_event(api):
    assert api.handle(["nope"], None)["statusCode"] == 400


def test_bad_base64_body(api, uid):
    event = v2_event("POST", "/rooms", user=uid("u"), raw_body="!!!not base64", base64_body=False)
    event["isBase64Encoded"] = True
    response = api.handle(event, None)
    assert response["statusCode"] == 400


@pytest.fixture
def fuzz_room(client, uid):
    alice = uid("alice")
    return client.room(alice), alice


@FUZZ
@given(body=json_values)
def test_fuzz_json_bodies(api, fuzz_room, body):
    room_id, alice = fuzz_room
    raw = json.dumps(body)  # stdlib: also integers beyond 64 bits
    for method, url in (("POST", "/rooms"), ("POST", path("rooms", room_id, "members")),
                        ("PUT", path("rooms", room_id, "read")), ("PUT", "/devices"),
                        ("PUT", path("rooms", room_id, "mute")), ("PATCH", path("rooms", room_id, "messages", "1")),
                        ("POST", path("rooms", room_id, "messages", "1", "reactions"))):
        _check_error_shape(api.handle(v2_event(method, url, user=alice, raw_body=raw), None))


@FUZZ
@given(raw=st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
       b64=st.booleans())
def test_fuzz_raw_bodies(api, fuzz_room, raw, b64):
    room_id, alice = fuzz_room
    for method, url in (("POST", "/rooms"), ("PUT", path("rooms", room_id, "read"))):
        _check_error_shape(api.handle(v2_event(method, url, user=alice, raw_body=raw, base64_body=b64), None))


@FUZZ
@given(room=ids, user=ids, device=ids, att=ids, seq=ids,
       query=st.dictionaries(st.sampled_from(["after", "before", "limit", "cursor", "clientMsgId", "x"]),
                             st.text(max_size=40), max_size=4))
def test_fuzz_params(api, fuzz_room, room, user, device, att, seq, query):
    _room_id, alice = fuzz_room
    for route in ROUTES:
        params = {"roomId": room, "userId": user, "deviceId": device, "attId": att, "seq": seq}
        url = route.path
        for name, value in params.items():
            url = url.replace("{%s}" % name, quote(value, safe=""))
        # as API Gateway routes it (decoded pathParameters) and through the catch-all route
        for event in (v2_event(route.method, url, user=alice, query=query, route_key=route.key,
                               path_parameters={p: params[p] for p in route.params}),
                      v2_event(route.method, url, user=alice, query=query, route_key="$default")):
            _check_error_shape(api.handle(event, None))


@FUZZ
@given(room=st.from_regex(contracts.ROOM_ID.regex, fullmatch=True), query=st.dictionaries(
    st.sampled_from(["after", "before", "limit"]), st.integers(-5, 400).map(str), max_size=3))
def test_fuzz_history_queries(api, fuzz_room, room, query):
    room_id, alice = fuzz_room
    body = _check_error_shape(api.handle(
        v2_event("GET", path("rooms", room_id, "messages"), user=alice, query=query), None))
    if "items" in body:
        assert body["items"] == []
    _check_error_shape(api.handle(v2_event("GET", path("rooms", room, "messages"), user=alice, query=query), None))
