"""The device registry and room mutes through the HTTP API handler: ownership, takeover, and a
clear 400/403/404 for every kind of bad input."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from http_harness import new_id, path

from functions import contracts

APNS_TOKEN = "ab" * 32
FCM_TOKEN = "fcm-token:" + "x" * 40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subscription(endpoint: str) -> dict:
    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": b64(key), "auth": b64(b"a" * 16)}}


@pytest.fixture
def endpoint(settings):
    return f"http://{settings.push_webpush_hosts[0]}/wp/{new_id('sub')}"


def test_register_list_delete_and_ownership(client, uid, endpoint):
    alice, bob = uid("alice"), uid("bob")
    status, fcm = client.call("PUT", "/devices", user=alice, body={"platform": "fcm", "token": FCM_TOKEN + alice,
                                                                  "appId": "app.tidings"})
    assert status == 201 and fcm["platform"] == "fcm" and "token" not in fcm
    status, again = client.call("PUT", "/devices", user=alice, body={"platform": "fcm", "token": FCM_TOKEN + alice,
                                                                    "appId": "app.tidings"})
    assert status == 200 and again["deviceId"] == fcm["deviceId"] and again["createdAt"] == fcm["createdAt"]
    status, web = client.call("PUT", "/devices", user=alice, body={"platform": "webpush", "appId": "web",
                                                                  "subscription": subscription(endpoint)})
    assert status == 201
    status, listed = client.call("GET", "/devices", user=alice)
    assert status == 200 and {d["deviceId"] for d in listed["devices"]} == {fcm["deviceId"], web["deviceId"]}
    assert all(set(d) == {"deviceId", "platform", "appId", "createdAt", "updatedAt"} for d in listed["devices"])
    # Another user can neither see nor delete them: the id is "not found" to them.
    assert client.call("GET", "/devices", user=bob)[1] == {"devices": []}
    status, body = client.call("DELETE", path("devices", fcm["deviceId"]), user=bob)
    assert status == 404 and body["error"]["code"] == contracts.ERR_NOT_FOUND
    assert client.call("DELETE", path("devices", fcm["deviceId"]), user=alice) == (
        200, {"deviceId": fcm["deviceId"], "deleted": True})
    assert client.call("DELETE", path("devices", fcm["deviceId"]), user=alice)[0] == 404
    assert [d["deviceId"] for d in client.call("GET", "/devices", user=alice)[1]["devices"]] == [web["deviceId"]]


def test_a_token_registered_by_another_user_moves_to_them(client, uid):
    alice, bob = uid("alice"), uid("bob")
    body = {"platform": "apns", "token": APNS_TOKEN.replace("ab", "cd", 1) + "", "appId": "app.tidings"}
    body["token"] = (uid("t").encode().hex() + "00" * 32)[:64]
    _, mine = client.call("PUT", "/devices", user=alice, body=body)
    status, theirs = client.call("PUT", "/devices", user=bob, body=body)
    assert status == 201 and theirs["deviceId"] == mine["deviceId"]
    assert client.call("GET", "/devices", user=alice)[1]["devices"] == []
    assert [d["deviceId"] for d in client.call("GET", "/devices", user=bob)[1]["devices"]] == [mine["deviceId"]]


def bad_registrations(endpoint: str, settings) -> list[tuple[dict, str]]:
    good = subscription(endpoint)
    not_on_curve = b64(b"\x04" + b"\x01" * 64)
    return [
        ({"platform": "carrier-pigeon", "token": FCM_TOKEN, "appId": "a"}, "platform must be one of"),
        ({"token": FCM_TOKEN, "appId": "a"}, "platform must be one of"),
        ({"platform": "fcm", "appId": "a"}, "token must be an FCM"),
        ({"platform": "fcm", "token": "short", "appId": "a"}, "token must be an FCM"),
        ({"platform": "apns", "token": "zz" * 32, "appId": "a"}, "APNs device token"),
        ({"platform": "apns", "token": APNS_TOKEN}, "appId must match"),
        ({"platform": "apns", "token": APNS_TOKEN, "appId": "bad app id"}, "appId must match"),
        ({"platform": "fcm", "token": FCM_TOKEN, "appId": "a", "subscription": good}, "has a token"),
        ({"platform": "webpush", "appId": "w"}, "subscription must be an object"),
        ({"platform": "webpush", "appId": "w", "subscription": "https://x"}, "subscription must be an object"),
        ({"platform": "webpush", "appId": "w", "token": FCM_TOKEN, "subscription": good}, "not a token"),
        ({"platform": "webpush", "appId": "w", "subscription": {**good, "keys": {"p256dh": good["keys"]["p256dh"]}}},
         "keys must be {p256dh, auth}"),
        ({"platform": "webpush", "appId": "w", "subscription": {**good, "keys": {**good["keys"], "p256dh": not_on_curve}}},
         "P-256 public key"),
        ({"platform": "webpush", "appId": "w", "subscription": {**good, "keys": {**good["keys"], "p256dh": "!!"}}},
         "P-256 public key"),
        ({"platform": "webpush", "appId": "w", "subscription": {**good, "keys": {**good["keys"], "auth": b64(b"x")}}},
         "16 bytes"),
        ({"platform": "webpush", "appId": "w", "subscription": {**good, "endpoint": "https://evil.example/wp/1"}},
         "not a known push service"),
        ({"platform": "webpush", "appId": "w", "subscription": {**good, "endpoint": "ftp://x/y"}}, "URL"),
        ({"platform": "webpush", "appId": "w", "subscription": {**good, "endpoint": 5}}, "URL"),
        ({"platform": "webpush", "appId": "w", "subscription": {**good, "extra": 1}}, "unknown field"),
        ({"platform": "webpush", "appId": "w", "subscription": {**good, "expirationTime": "soon"}}, "expirationTime"),
        ({"platform": "fcm", "token": FCM_TOKEN, "appId": "a", "owner": "bob"}, "unknown field"),
    ]


def test_bad_registrations_get_a_clear_400(client, uid, endpoint, settings):
    alice = uid("alice")
    for body, says in bad_registrations(endpoint, settings):
        status, answer = client.call("PUT", "/devices", user=alice, body=body)
        assert status == 400, (body, answer)
        assert answer["error"]["code"] == contracts.ERR_BAD_REQUEST and says in answer["error"]["message"], (body, answer)
    assert client.call("PUT", "/devices", user=alice, raw_body="{")[1]["error"]["code"] == contracts.ERR_BAD_FRAME
    status, answer = client.call("DELETE", path("devices", "not-an-id"), user=alice)
    assert status == 400 and "deviceId" in answer["error"]["message"]
    assert client.call("GET", "/devices", user=alice)[1] == {"devices": []}
    assert client.call("GET", "/devices", user=None)[0] == 401


def test_mute_and_unmute(client, uid):
    alice, bob = uid("alice"), uid("bob")
    room_id = client.room(alice, {bob: "groomer"})
    until = int(time.time() * 1000) + 3_600_000
    status, body = client.call("PUT", path("rooms", room_id, "mute"), user=bob, role="groomer", body={"until": until})
    assert status == 200 and body == {"roomId": room_id, "userId": bob, "mutedUntil": until, "muted": True}
    status, body = client.call("PUT", path("rooms", room_id, "mute"), user=bob, role="groomer", body={"until": None})
    assert status == 200 and body["muted"] is False and body["mutedUntil"] == 0
    for bad in ({}, {"until": "tomorrow"}, {"until": -1}, {"until": 1.5}, {"until": True}, {"until": 1, "x": 1}):
        status, answer = client.call("PUT", path("rooms", room_id, "mute"), user=bob, role="groomer", body=bad)
        assert status == 400 and answer["error"]["code"] == contracts.ERR_BAD_REQUEST, bad
    assert client.call("PUT", path("rooms", room_id, "mute"), user=uid("eve"), body={"until": until})[0] == 403
    assert client.call("PUT", path("rooms", new_id("room"), "mute"), user=alice, body={"until": until})[0] == 404


def test_push_config_names_the_vapid_key(client, settings):
    status, body = client.call("GET", "/push/config", user="alice")
    assert status == 200 and body == {"platforms": ["fcm", "apns", "webpush"],
                                      "vapidPublicKey": settings.push_vapid_public_key}
