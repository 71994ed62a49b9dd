"""The three senders against the local push gateway, which checks them with real crypto as
the services do: FCM's OAuth2 token and messages:send, APNs over HTTP/2 with an ES256
provider token, Web Push encrypted (aes128gcm) with a VAPID JWT. Plus the outcomes: dead
tokens, 429/5xx retried honouring Retry-After, anything else a failure."""

from __future__ import annotations

import dataclasses

import pytest
from push_harness import webpush_key
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from functions.push import credentials
from functions.push.apns import ApnsSender
from functions.push.fcm import FcmSender
from functions.push.sending import Notification, Outcome, with_retries
from functions.push.webpush import WebPushSender

N = Notification("room-senders", 7, "room-senders:7", "ann", "Grooming", "ann: see you at 3", 4)


@pytest.fixture
def keys(settings):
    return credentials.load(settings)


def device(push_gateway, service: str, app_id: str = "app.tidings.test") -> dict:
    made = push_gateway.install(service, app_id)
    if service == "webpush":
        return {"platform": service, "appId": app_id, "subscription": made, "key": webpush_key(made["endpoint"])}
    return {"platform": service, "appId": app_id, "token": made["token"], "key": made["token"]}


def test_fcm_token_exchange_send_and_dead_token(settings, keys, push_gateway):
    sender, phone = FcmSender(settings, keys["fcm"]), device(push_gateway, "fcm")
    assert sender.attempt(phone, N).outcome is Outcome.SENT
    [entry] = push_gateway.log(phone["key"])
    message = entry["payload"]
    assert message["notification"] == {"title": "Grooming", "body": "ann: see you at 3"}
    assert message["android"]["collapse_key"] == "room-senders" and message["android"]["notification"]["tag"] == "room-senders"
    assert message["data"] == {"roomId": "room-senders", "seq": "7", "messageId": "room-senders:7", "senderId": "ann"}
    push_gateway.uninstall(phone["key"])
    result = sender.attempt(phone, N)
    assert (result.outcome, result.status, result.reason) == (Outcome.DEAD, 404, "UNREGISTERED")
    # A token the gateway never issued: INVALID_ARGUMENT, a failure (logged), not a dead token.
    assert sender.attempt({"token": "x" * 40}, N).outcome is Outcome.FAILED


def test_fcm_refuses_an_assertion_signed_with_another_key(settings, keys, push_gateway):
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    result = FcmSender(settings, {**keys["fcm"], "private_key": forged}).attempt(device(push_gateway, "fcm"), N)
    assert result.outcome is Outcome.FAILED and "invalid_grant" in result.reason


def test_apns_over_http2_with_collapse_id_and_dead_token(settings, keys, push_gateway):
    sender, phone = ApnsSender(settings, keys["apns"]), device(push_gateway, "apns", "app.tidings.ios")
    assert sender.attempt(phone, N).outcome is Outcome.SENT
    [entry] = push_gateway.log(phone["key"])
    assert entry["httpVersion"] == "2"
    assert entry["headers"]["apns-push-type"] == "alert" and entry["headers"]["apns-topic"] == "app.tidings.ios"
    assert entry["headers"]["apns-collapse-id"] == "room-senders"
    assert entry["payload"]["aps"]["badge"] == 4 and entry["payload"]["aps"]["thread-id"] == "room-senders"
    assert sender.attempt({**phone, "appId": "app.other"}, N).reason == "DeviceTokenNotForTopic"
    push_gateway.uninstall(phone["key"])
    assert sender.attempt(phone, N).outcome is Outcome.DEAD


def test_apns_refuses_a_token_signed_with_another_key(settings, keys, push_gateway):
    forged = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    result = ApnsSender(settings, {**keys["apns"], "privateKey": forged}).attempt(device(push_gateway, "apns"), N)
    assert (result.outcome, result.status, result.reason) == (Outcome.FAILED, 403, "InvalidProviderToken")


def test_webpush_is_encrypted_to_the_subscription_and_vapid_signed(settings, keys, push_gateway):
    sender, browser = WebPushSender(settings, keys["webpush"]), device(push_gateway, "webpush", "web")
    assert sender.attempt(browser, N).outcome is Outcome.SENT
    [entry] = push_gateway.log(browser["key"])
    # The gateway decrypted it with the subscription's private key: the plaintext is ours.
    assert entry["payload"] == {"title": "Grooming", "body": "ann: see you at 3", "badge": 4, "tag": "room-senders",
                                "data": N.data()}
    assert entry["headers"]["topic"] == N.topic and int(entry["headers"]["ttl"]) > 0
    push_gateway.uninstall(browser["key"])
    assert sender.attempt(browser, N).outcome is Outcome.DEAD


def test_webpush_refuses_another_vapid_key(settings, keys, push_gateway):
    forged = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    result = WebPushSender(settings, {**keys["webpush"], "vapidPrivateKey": forged}).attempt(
        device(push_gateway, "webpush"), N)
    assert (result.outcome, result.status) == (Outcome.FAILED, 403)


def test_webpush_never_posts_outside_the_push_services(settings, keys):
    sender = WebPushSender(dataclasses.replace(settings, push_webpush_hosts=("push.example",)), keys["webpush"])
    result = sender.attempt({"subscription": {"endpoint": "http://127.0.0.1:1/internal", "keys": {}}}, N)
    assert result.outcome is Outcome.FAILED and "not a known push service" in result.reason


@pytest.mark.parametrize("service", ["fcm", "apns", "webpush"])
def test_429_and_5xx_are_retried_honouring_retry_after(settings, keys, push_gateway, service):
    sender = {"fcm": lambda: FcmSender(settings, keys["fcm"]), "apns": lambda: ApnsSender(settings, keys["apns"]),
              "webpush": lambda: WebPushSender(settings, keys["webpush"])}[service]()
    phone = device(push_gateway, service)
    push_gateway.fault(service, 429, count=1, retry_after=1)
    push_gateway.fault(service, 503, count=2, retry_after=1)  # replaces: two 503s, each "wait 1 s"
    slept = []
    result = with_retries(lambda: sender.attempt(phone, N), max_attempts=3, cap_s=30, sleep=slept.append)
    assert result.outcome is Outcome.SENT and slept == [1.0, 1.0]
    assert [e["status"] // 100 for e in push_gateway.log(phone["key"], delivered=None)] == [5, 5, 2]
    # Asked to wait longer than the cap: no thread waits, the batch is retried later.
    push_gateway.fault(service, 429, count=1, retry_after=3600)
    slept.clear()
    result = with_retries(lambda: sender.attempt(phone, N), max_attempts=3, cap_s=30, sleep=slept.append)
    assert (result.outcome, result.status, result.retry_after, slept) == (Outcome.RETRY_LATER, 429, 3600.0, [])


def test_unreachable_service_is_retry_later(settings, keys):
    dead = dataclasses.replace(settings, push_fcm_url="http://127.0.0.1:9", push_fcm_token_url="http://127.0.0.1:9/t",
                               push_apns_url="http://127.0.0.1:9")
    assert FcmSender(dead, keys["fcm"]).attempt({"token": "t" * 40}, N).outcome is Outcome.RETRY_LATER
    assert ApnsSender(dead, keys["apns"]).attempt({"token": "ab" * 32, "appId": "a"}, N).outcome is Outcome.RETRY_LATER
