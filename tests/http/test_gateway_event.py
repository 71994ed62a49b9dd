"""local/emulators/gateway.py in process: the exact v2 event, the authorizer, response mapping.
No stack needed: the handler is a stand-in that records the event."""

import base64
import io
import json
import time

import jwt
import orjson
import pytest
from http_harness import RECORDED

from functions import tokens
from functions.settings import Settings
from local.emulators.gateway import Gateway, authorize, build_event, claim_text, map_response

SETTINGS = Settings(local_mode=True)


def environ(method="GET", uri="/api/me", headers=None, body=b"", content_type=None):
    env = {"REQUEST_METHOD": method, "RAW_URI": uri, "PATH_INFO": uri.split("?")[0],
           "QUERY_STRING": uri.partition("?")[2], "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080",
           "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.1.2.3", "wsgi.url_scheme": "http",
           "wsgi.input": io.BytesIO(body), "HTTP_HOST": "localhost:8080"}
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    if content_type:
        env["CONTENT_TYPE"] = content_type
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


class Recorder:
    def __init__(self, result=None):
        self.events, self.contexts = [], []
        self.result = result if result is not None else {"statusCode": 200, "headers": {"content-type":
                                                         "application/json"}, "body": "{}"}

    def __call__(self, event, context):
        self.events.append(event)
        self.contexts.append(context)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def call(app, env):
    out = {}

    def start_response(status, headers):
        out["status"], out["headers"] = int(status.split()[0]), headers

    body = b"".join(app(env, start_response))
    return out["status"], dict(out["headers"]), body


def bearer(user="alice", role="customer", **extra):
    claims = {"sub": user, "role": role, "iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience,
              "iat": int(time.time()), "exp": int(time.time()) + 600, **extra}
    return "Bearer " + jwt.encode(claims, SETTINGS.jwt_secret, algorithm="HS256")


def test_event_has_the_exact_v2_shape():
    rec = Recorder()
    app = Gateway(SETTINGS, handler=rec, web_dir=None)
    env = environ("PUT", "/api/rooms/r%2D1/read?limit=5&tag=a&tag=b&empty=&sp=a%20b",
                  headers={"Authorization": bearer(scope="chat.read chat.write", groups=["a", "b"]),
                           "User-Agent": "ua/1", "Cookie": "a=1; b=2", "X-Custom": "x,y"},
                  body=b'{"seq": 3}', content_type="application/json")
    status, _headers, _body = call(app, env)
    assert status == 200
    event = rec.events[0]
    expected_keys = set(RECORDED) - {"stageVariables"} | {"body"}
    assert set(event) == expected_keys
    assert set(event["requestContext"]) == set(RECORDED["requestContext"])
    assert set(event["requestContext"]["http"]) == set(RECORDED["requestContext"]["http"])
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "PUT /rooms/{roomId}/read"
    assert event["rawPath"] == "/rooms/r%2D1/read" and event["pathParameters"] == {"roomId": "r-1"}
    assert event["rawQueryString"] == "limit=5&tag=a&tag=b&empty=&sp=a%20b"
    assert event["queryStringParameters"] == {"limit": "5", "tag": "a,b", "empty": "", "sp": "a b"}
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["headers"]["user-agent"] == "ua/1" and event["headers"]["x-custom"] == "x,y"
    assert event["headers"]["content-type"] == "application/json" and event["headers"]["x-forwarded-for"] == "10.1.2.3"
    assert all(name == name.lower() for name in event["headers"])
    assert event["body"] == '{"seq": 3}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["stage"] == "$default" and ctx["domainName"] == "localhost" and ctx["domainPrefix"] == "localhost"
    assert ctx["http"] == {"method": "PUT", "path": "/rooms/r%2D1/read", "protocol": "HTTP/1.1",
                           "sourceIp": "10.1.2.3", "userAgent": "ua/1"}
    assert abs(ctx["timeEpoch"] - time.time() * 1000) < 5000
    assert time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ctx["timeEpoch"] / 1000)) == ctx["time"]
    claims = ctx["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "alice" and claims["role"] == "customer"
    assert claims["groups"] == "[a b]" and isinstance(claims["exp"], str) and claims["exp"].isdigit()
    assert ctx["authorizer"]["jwt"]["scopes"] == ["chat.read", "chat.write"]
    assert rec.contexts[0].function_name == "tidings-http-api"
    assert rec.contexts[0].get_remaining_time_in_millis() > 0


def test_event_optional_keys_left_out():
    rec = Recorder()
    call(Gateway(SETTINGS, handler=rec, web_dir=None), environ("GET", "/api/me", headers={
        "Authorization": bearer()}))
    event = rec.events[0]
    assert event["routeKey"] == "GET /me" and event["rawPath"] == "/me" and event["rawQueryString"] == ""
    for key in ("cookies", "queryStringParameters", "pathParameters", "body", "stageVariables"):
        assert key not in event
    assert event["isBase64Encoded"] is False and event["requestContext"]["authorizer"]["jwt"]["scopes"] is None


def test_no_route_is_api_gateways_404_unless_a_default_route():
    rec = Recorder()
    app = Gateway(SETTINGS, handler=rec, web_dir=None)
    for method, uri in (("GET", "/api/nowhere"), ("PATCH", "/api/rooms/r1"), ("GET", "/api")):
        status, _, body = call(app, environ(method, uri, headers={"Authorization": bearer()}))
        assert status == 404 and orjson.loads(body) == {"message": "Not Found"}
    assert call(app, environ("GET", "/api/nowhere"))[0] == 404  # before the authorizer, as API Gateway
    assert not rec.events
    catch_all = Gateway(SETTINGS, handler=rec, web_dir=None, default_route=True)
    call(catch_all, environ("GET", "/api/nowhere", headers={"Authorization": bearer()}))
    call(catch_all, environ("GET", "/api", headers={"Authorization": bearer()}))
    assert [(e["routeKey"], e["rawPath"]) for e in rec.events] == [("$default", "/nowhere"), ("$default", "/")]
    assert "pathParameters" not in rec.events[0]
    assert call(catch_all, environ("GET", "/api/nowhere"))[0] == 401


def test_binary_body_is_base64():
    rec = Recorder()
    raw = bytes(range(256))
    call(Gateway(SETTINGS, handler=rec, web_dir=None), environ("POST", "/api/rooms", headers={
        "Authorization": bearer()}, body=raw, content_type="application/octet-stream"))
    call(Gateway(SETTINGS, handler=rec, web_dir=None), environ("POST", "/api/rooms", headers={
        "Authorization": bearer()}, body=b"\xff\xfe", content_type="application/json"))
    assert rec.events[0]["isBase64Encoded"] is True and base64.b64decode(rec.events[0]["body"]) == raw
    assert rec.events[1]["isBase64Encoded"] is True  # not UTF-8


def test_authorizer():
    now = int(time.time())
    base = {"sub": "alice", "role": "customer", "iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience,
            "iat": now, "exp": now + 600}
    good = jwt.encode(base, SETTINGS.jwt_secret, algorithm="HS256")
    assert authorize(SETTINGS, "Bearer " + good)[0]["sub"] == "alice"
    assert authorize(SETTINGS, "bearer " + good) is not None
    assert authorize(SETTINGS, good) is not None  # API Gateway takes the token without the prefix too
    refused = [
        None, "", "Bearer", "Bearer x.y.z", "Basic YWxpY2U6cHc=",
        "Bearer " + tokens.mint(SETTINGS, "alice", "customer", ttl_s=60, now=now - 3600),          # expired
        "Bearer " + jwt.encode(base, None, algorithm="none"),                                    # alg none
        "Bearer " + jwt.encode({**base, "aud": "someone-else"}, SETTINGS.jwt_secret, algorithm="HS256"),
        "Bearer " + jwt.encode({**base, "iss": "evil"}, SETTINGS.jwt_secret, algorithm="HS256"),
        "Bearer " + jwt.encode(base, "another-secret-another-secret-0123456789", algorithm="HS256"),
        "Bearer " + jwt.encode({k: v for k, v in base.items() if k != "exp"}, SETTINGS.jwt_secret, algorithm="HS256"),
    ]
    for header in refused:
        assert authorize(SETTINGS, header) is None, header


def test_unauthorized_never_reaches_the_function():
    rec = Recorder()
    status, headers, body = call(Gateway(SETTINGS, handler=rec, web_dir=None), environ("GET", "/api/me"))
    assert status == 401 and orjson.loads(body) == {"message": "Unauthorized"} and not rec.events
    assert headers["content-type"] == "application/json"


def test_claim_text():
    assert claim_text("a") == "a" and claim_text(5) == "5" and claim_text(True) == "true"
    assert claim_text(["x", 1]) == "[x 1]" and claim_text({"a": 1}) == '{"a":1}'


@pytest.mark.parametrize("result, status, body, ctype", [
    ({"statusCode": 201, "headers": {"Content-Type": "application/json", "X-A": "1"}, "body": '{"a":1}'},
     201, b'{"a":1}', "application/json"),
    ({"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True},
     200, b"\x00\x01", None),
    ({"message": "hi"}, 200, b'{"message":"hi"}', "application/json"),   # 2.0 inference rule
    ("Hello", 200, b"Hello", "application/json"),
    ([1, 2], 200, b"[1,2]", "application/json"),
    ({"statusCode": "200", "body": "x"}, 500, b'{"message":"Internal Server Error"}', "application/json"),
    ({"statusCode": 204}, 204, b"", None),
])
def test_map_response(result, status, body, ctype):
    got_status, headers, got_body = map_response(result)
    assert (got_status, got_body) == (status, body)
    assert dict(headers).get("content-type") == ctype


def test_response_cookies_and_function_errors():
    rec = Recorder({"statusCode": 200, "body": "ok", "cookies": ["a=1; Path=/", "b=2"]})
    env = environ("GET", "/api/me", headers={"Authorization": bearer()})
    out = {}
    body = b"".join(Gateway(SETTINGS, handler=rec, web_dir=None)(
        env, lambda s, h: out.update(status=s, headers=h)))
    assert [v for k, v in out["headers"] if k == "set-cookie"] == ["a=1; Path=/", "b=2"] and body == b"ok"
    failing = Gateway(SETTINGS, handler=Recorder(RuntimeError("boom")), web_dir=None)
    status, _, body = call(failing, environ("GET", "/api/me", headers={"Authorization": bearer()}))
    assert status == 500 and json.loads(body) == {"message": "Internal Server Error"}


def test_body_over_the_limit():
    rec = Recorder()
    status, _, body = call(Gateway(SETTINGS, handler=rec, web_dir=None, max_body_bytes=10), environ(
        "POST", "/api/rooms", headers={"Authorization": bearer()}, body=b"x" * 11, content_type="text/plain"))
    assert status == 413 and not rec.events


def test_build_event_is_pure():
    env = environ("GET", "/api/me")
    one = build_event(env, raw_path="/me", raw_query="", body=b"", claims={"sub": "a"}, scopes=None,
                      request_id="r", now_ms=1583348638390)
    assert one["requestContext"]["time"] == "04/Mar/2020:19:03:58 +0000"
    assert one == build_event(env, raw_path="/me", raw_query="", body=b"", claims={"sub": "a"}, scopes=None,
                              request_id="r", now_ms=1583348638390)
