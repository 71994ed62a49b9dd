"""`python -m local.emulators.gateway` as a real process on a free port, in front of the real handler
and the test stack's dynalite, called with requests."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests
from http_harness import Sender, new_id, path

from functions import contracts, tokens
from local.paths import REPO_ROOT
from local.stack.process import free_port


class Gateway:
    def __init__(self, settings, log_path, *, local_mode=True, web_dir=None, default_route=False):
        if not local_mode:   # outside local mode the built-in secrets are refused (tests/security)
            settings = dataclasses.replace(settings, jwt_secret="gateway-test-jwt-secret-" + "x" * 24,
                                           delivery_secret="gateway-test-delivery-secret-" + "y" * 24)
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **settings.to_env(), "TIDINGS_LOCAL_MODE": "true" if local_mode else "false"}
        argv = [sys.executable, "-m", "local.emulators.gateway", "--port", str(self.port)]
        if web_dir is not None:
            argv += ["--web-dir", str(web_dir)]
        if default_route:
            argv.append("--default-route")
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, f"gateway exited: {log_path.read_text()}"
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"gateway not ready: {log_path.read_text()}"
            time.sleep(0.1)
        self.session = requests.Session()

    def token(self, user, role="customer"):
        return tokens.mint(self.settings, user, role)

    def call(self, method, url, user=None, role="customer", **kwargs):
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user, role)}"
        return self.session.request(method, self.url + "/api" + url, headers=headers, timeout=30, **kwargs)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def gw(_session_stack, tmp_path_factory):
    gateway = Gateway(_session_stack.settings, tmp_path_factory.mktemp("gateway") / "gateway.log")
    yield gateway
    gateway.close()


@pytest.fixture
def room(gw, settings):
    """(room id, owner, other member) made through the gateway."""
    alice, bob = new_id("alice"), new_id("bob")
    answer = gw.call("POST", "/rooms", alice, json={"name": "gw room", "members": [{"userId": bob, "role": "groomer"}]})
    assert answer.status_code == 201, answer.text
    return answer.json()["roomId"], alice, bob


def test_authorizer_refusals(gw, settings):
    now = int(time.time())
    claims = {"sub": "alice", "role": "customer", "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
              "iat": now, "exp": now + 600}
    refused = {
        "no token": {},
        "not a jwt": {"Authorization": "Bearer nope"},
        "expired": {"Authorization": "Bearer " + tokens.mint(settings, "alice", "customer", ttl_s=60, now=now - 7200)},
        "alg none": {"Authorization": "Bearer " + jwt.encode(claims, None, algorithm="none")},
        "wrong audience": {"Authorization": "Bearer " + jwt.encode({**claims, "aud": "other"}, settings.jwt_secret,
                                                                   algorithm="HS256")},
        "wrong issuer": {"Authorization": "Bearer " + jwt.encode({**claims, "iss": "other"}, settings.jwt_secret,
                                                                 algorithm="HS256")},
        "wrong key": {"Authorization": "Bearer " + jwt.encode(claims, "x" * 40, algorithm="HS256")},
    }
    for what, headers in refused.items():
        answer = requests.get(gw.url + "/api/me", headers=headers, timeout=10)
        assert answer.status_code == 401, what
        assert answer.json() == {"message": "Unauthorized"}, what
    answer = requests.get(gw.url + "/api/me", headers={"Authorization": "Bearer " + gw.token("alice")}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"userId": "alice", "role": "customer"}
    assert answer.headers["apigw-requestid"]


def test_route_happy_paths(gw, room, settings, ddb):
    room_id, alice, bob = room
    carol = new_id("carol")
    assert gw.call("GET", "/me", bob, "groomer").json() == {"userId": bob, "role": "groomer"}
    got = gw.call("GET", path("rooms", room_id), bob, "groomer")
    assert got.status_code == 200 and {m["userId"] for m in got.json()["members"]} == {alice, bob}
    added = gw.call("POST", path("rooms", room_id, "members"), bob, "groomer",
                    json={"userId": carol, "role": "customer"})
    assert added.status_code == 201 and added.json()["userId"] == carol
    Sender(settings, ddb).send(room_id, bob, 3, role="groomer")
    listed = gw.call("GET", "/rooms", carol).json()["rooms"]
    assert [(r["roomId"], r["lastSeq"], r["unread"]) for r in listed] == [(room_id, 3, 3)]
    history = gw.call("GET", path("rooms", room_id, "messages"), carol, params={"after": 0})
    assert [m["seq"] for m in history.json()["items"]] == [1, 2, 3]
    marked = gw.call("PUT", path("rooms", room_id, "read"), carol, json={"seq": 2})
    assert marked.status_code == 200 and marked.json()["unread"] == 1
    reads = gw.call("GET", path("rooms", room_id, "read"), alice).json()["reads"]
    assert {r["userId"]: r["readSeq"] for r in reads} == {alice: 0, bob: 0, carol: 2}
    presence = gw.call("GET", path("rooms", room_id, "presence"), alice)
    assert presence.status_code == 200 and presence.json() == {"roomId": room_id, "online": []}
    left = gw.call("DELETE", path("rooms", room_id, "members", carol), carol)
    assert left.status_code == 200 and left.json()["removed"] is True
    assert gw.call("GET", path("rooms", room_id), carol).status_code == 403


def test_bad_input_over_http(gw, room):
    room_id, alice, _bob = room
    cases = [
        ("POST", "/rooms", {"data": b"{not json", "headers": {"content-type": "application/json"}}, 400,
         contracts.ERR_BAD_FRAME),
        ("POST", "/rooms", {"json": {"name": 3}}, 400, contracts.ERR_BAD_REQUEST),
        ("PUT", path("rooms", room_id, "read"), {"json": {"seq": "x"}}, 400, contracts.ERR_BAD_REQUEST),
        ("GET", path("rooms", room_id, "messages"), {"params": {"limit": "many"}}, 400, contracts.ERR_BAD_REQUEST),
        ("GET", "/rooms/bad%20room", {}, 400, contracts.ERR_BAD_REQUEST),
        ("GET", path("rooms", new_id("room")), {}, 404, contracts.ERR_UNKNOWN_ROOM),
    ]
    for method, url, kwargs, status, code in cases:
        answer = gw.call(method, url, alice, **kwargs)
        assert answer.status_code == status, (method, url, answer.text)
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"]["code"] == code, answer.text
    assert gw.call("GET", path("rooms", room_id), new_id("eve")).status_code == 403
    for method, url in (("GET", "/nowhere"), ("PATCH", path("rooms", room_id))):  # no such route
        answer = gw.call(method, url, alice)
        assert answer.status_code == 404 and answer.json() == {"message": "Not Found"}


def test_pagination_both_ways_through_250(gw, room, settings, ddb):
    room_id, alice, bob = room
    Sender(settings, ddb).send(room_id, bob, 250, role="groomer")
    url = path("rooms", room_id, "messages")
    seen, params = [], {"after": 0, "limit": 30}
    while True:
        page = gw.call("GET", url, alice, params=params).json()
        seen += [m["seq"] for m in page["items"]]
        if not page["nextCursor"]:
            break
        params = {"cursor": page["nextCursor"], "limit": 30}
    assert seen == list(range(1, 251))
    seen, params = [], {"limit": 30}
    while True:
        page = gw.call("GET", url, alice, params=params).json()
        seen = [m["seq"] for m in page["items"]] + seen
        if not page["prevCursor"]:
            break
        params = {"cursor": page["prevCursor"], "limit": 30}
    assert seen == list(range(1, 251))


def test_read_marks_never_move_back_and_unread(gw, room, settings, ddb):
    room_id, alice, bob = room
    sender = Sender(settings, ddb)
    sender.send(room_id, bob, 20, role="groomer")
    read = path("rooms", room_id, "read")
    assert gw.call("PUT", read, alice, json={"seq": 15}).json()["readSeq"] == 15
    back = gw.call("PUT", read, alice, json={"seq": 5}).json()
    assert back["readSeq"] == 15 and back["moved"] is False and back["unread"] == 5
    ahead = gw.call("PUT", read, alice, json={"seq": 99}).json()
    assert ahead["readSeq"] == 20 and ahead["unread"] == 0
    sender.send(room_id, bob, 7, role="groomer")
    summary = gw.call("GET", "/rooms", alice).json()["rooms"][0]
    assert (summary["lastSeq"], summary["readSeq"], summary["unread"]) == (27, 20, 7)


def test_a_stalled_request_does_not_block_others(gw, room):
    """A client that sends half a body holds its request open; others are still served."""
    room_id, alice, _bob = room
    stalled = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    try:
        stalled.sendall(b"PUT /api" + path("rooms", room_id, "read").encode() + b" HTTP/1.1\r\nHost: x\r\n"
                        b"Authorization: Bearer " + gw.token(alice).encode() + b"\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"seq\"")
        started = time.monotonic()
        assert gw.call("GET", "/me", alice).status_code == 200
        assert time.monotonic() - started < 5
    finally:
        stalled.close()


def test_concurrent_requests(gw, room):
    room_id, alice, _bob = room
    url = path("rooms", room_id)
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda _: requests.get(
            gw.url + "/api" + url, headers={"Authorization": "Bearer " + gw.token(alice)}, timeout=30).status_code,
            range(200)))
    assert statuses == [200] * 200


def test_cors_and_health(gw):
    pre = requests.options(gw.url + "/api/rooms", headers={
        "Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"}, timeout=10)
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "authorization" in pre.headers["access-control-allow-headers"]
    answer = gw.call("GET", "/me", "alice", headers={"Origin": "http://localhost:5173"})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert requests.get(gw.url + "/healthz", timeout=10).json() == {"status": "ok"}


def test_dev_login_in_local_mode(gw):
    user = new_id("dev")
    answer = requests.post(gw.url + "/dev/login", json={"userId": user, "role": "groomer"}, timeout=10)
    assert answer.status_code == 200
    token = answer.json()["token"]
    me = requests.get(gw.url + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.json() == {"userId": user, "role": "groomer"}
    for bad in ({"userId": "bad id"}, {"userId": user, "role": "king"}, []):
        assert requests.post(gw.url + "/dev/login", json=bad, timeout=10).status_code == 400
    assert requests.get(gw.url + "/dev/login", timeout=10).status_code == 405


def test_not_local_mode_no_dev_login_static_files_default_route(settings, tmp_path):
    web = tmp_path / "web"
    (web / "app").mkdir(parents=True)
    (web / "index.html").write_text("<h1>tidings</h1>")
    (web / "app" / "main.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("no")
    gateway = Gateway(settings, tmp_path / "gateway.log", local_mode=False, web_dir=web, default_route=True)
    try:
        answer = requests.post(gateway.url + "/dev/login", json={"userId": "alice", "role": "customer"}, timeout=10)
        assert answer.status_code == 404
        index = requests.get(gateway.url + "/", timeout=10)
        assert index.status_code == 200 and index.text == "<h1>tidings</h1>"
        assert "text/html" in index.headers["content-type"]
        script = requests.get(gateway.url + "/app/main.js", timeout=10)
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert requests.get(gateway.url + "/../secret.txt", timeout=10).status_code == 404
        assert requests.get(gateway.url + "/app/%2e%2e/%2e%2e/secret.txt", timeout=10).status_code == 400
        assert requests.get(gateway.url + "/missing.css", timeout=10).status_code == 404
        assert requests.get(gateway.url + "/api/me", timeout=10).status_code == 401
        # with a $default route the function answers paths and methods it does not serve
        nowhere = gateway.call("GET", "/nowhere", "alice")
        assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == contracts.ERR_NOT_FOUND
        patch = gateway.call("PATCH", "/rooms/r1", "alice")
        assert patch.status_code == 405 and patch.headers["allow"] == "GET"
        assert patch.json()["error"]["code"] == contracts.ERR_BAD_REQUEST
    finally:
        gateway.close()
