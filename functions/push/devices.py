"""The device registry: which app installs (FCM / APNs tokens, Web Push subscriptions) a user has.

A device's id is a digest of its platform and token (a Web Push subscription's endpoint), so
registering the same install again updates one item, and an install that signs in as
another user moves to that user (a shared phone must not get the previous user's pushes).
Every read and delete is by the caller: a device id of another user is "not found".

The checks here are what the HTTP API answers 400 for; a Web Push endpoint is a URL the
notifier will POST to, so only https URLs on the push services' hosts are accepted
(`TIDINGS_PUSH_WEBPUSH_HOSTS`; plain http only in local mode, for the local gateway).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec

from functions import tables
from functions.settings import Settings
from functions.store import Store, now_ms, to_item

PLATFORMS = ("fcm", "apns", "webpush")
MAX_DEVICES_PER_USER = 20          # beyond it the least recently registered is dropped
MAX_ENDPOINT_CHARS = 2048
FCM_TOKEN_RE = re.compile(r"^[A-Za-z0-9_:.\-]{20,4096}$")
APNS_TOKEN_RE = re.compile(r"^(?:[0-9a-fA-F]{2}){32,100}$")
APP_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,255}$")
DEVICE_ID_RE = re.compile(r"^d[0-9a-f]{32}$")


class InvalidDevice(ValueError):
    """What a client registered is malformed; the message says what is wrong."""


def device_id(platform: str, token: str) -> str:
    return "d" + hashlib.blake2b(f"{platform}|{token}".encode(), digest_size=16).hexdigest()


def b64url_decode(value: str) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+={0,2}", value):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """host ("name" or "name:port") against patterns: exact, or "*.suffix" for subdomains."""
    host = host.lower()
    for pattern in (p.lower() for p in allowed):
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
            return True
        if host == pattern:
            return True
    return False


def check_endpoint(endpoint: Any, settings: Settings) -> str:
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= MAX_ENDPOINT_CHARS:
        raise InvalidDevice(f"subscription.endpoint must be a URL of at most {MAX_ENDPOINT_CHARS} characters")
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if settings.local_mode else ("https",)
    if parts.scheme not in schemes or not parts.netloc or parts.username or parts.password:
        raise InvalidDevice(f"subscription.endpoint must be an {' or '.join(schemes)} URL")
    if not host_allowed(parts.netloc, settings.push_webpush_hosts):
        raise InvalidDevice(f"subscription.endpoint host {parts.netloc[:100]!r} is not a known push service")
    return endpoint


def check_subscription(sub: Any, settings: Settings) -> dict:
    """A PushSubscription's JSON (endpoint, keys.p256dh, keys.auth): the keys must be a real
    P-256 public key and a 16-byte auth secret, or nothing could be encrypted to it."""
    if not isinstance(sub, Mapping):
        raise InvalidDevice("subscription must be an object {endpoint, keys: {p256dh, auth}}")
    unknown = sorted(set(sub) - {"endpoint", "keys", "expirationTime"})
    if unknown:
        raise InvalidDevice(f"subscription has unknown field(s): {', '.join(unknown)[:200]}")
    endpoint = check_endpoint(sub.get("endpoint"), settings)
    keys = sub.get("keys")
    if not isinstance(keys, Mapping) or set(keys) != {"p256dh", "auth"}:
        raise InvalidDevice("subscription.keys must be {p256dh, auth}")
    try:
        p256dh = b64url_decode(keys["p256dh"])
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
        if len(p256dh) != 65:
            raise ValueError("not an uncompressed point")
    except (ValueError, TypeError, binascii.Error):
        raise InvalidDevice("subscription.keys.p256dh must be a base64url uncompressed P-256 public key") from None
    try:
        auth = b64url_decode(keys["auth"])
    except (ValueError, binascii.Error):
        auth = b""
    if len(auth) != 16:
        raise InvalidDevice("subscription.keys.auth must be 16 bytes, base64url")
    expiration = sub.get("expirationTime")
    if expiration is not None and (isinstance(expiration, bool) or not isinstance(expiration, int)):
        raise InvalidDevice("subscription.expirationTime must be null or ms since the epoch")
    return {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


def parse_registration(body: Mapping[str, Any], settings: Settings) -> dict:
    """{platform, token | subscription, appId} -> the fields of a device item. InvalidDevice."""
    platform = body.get("platform")
    if platform not in PLATFORMS:
        raise InvalidDevice(f"platform must be one of {', '.join(PLATFORMS)}, got {str(platform)[:40]!r}")
    app_id = body.get("appId")
    if not isinstance(app_id, str) or not APP_ID_RE.match(app_id):
        raise InvalidDevice(f"appId must match {APP_ID_RE.pattern} (the app's package name or bundle id)")
    if platform == "webpush":
        if "token" in body:
            raise InvalidDevice("a webpush device has a subscription, not a token")
        subscription = check_subscription(body.get("subscription"), settings)
        return {"platform": platform, "appId": app_id, "subscription": subscription,
                "token": subscription["endpoint"]}
    if "subscription" in body:
        raise InvalidDevice(f"an {platform} device has a token, not a subscription")
    token = body.get("token")
    pattern = FCM_TOKEN_RE if platform == "fcm" else APNS_TOKEN_RE
    if not isinstance(token, str) or not pattern.match(token):
        what = "an FCM registration token" if platform == "fcm" else "an APNs device token (hex)"
        raise InvalidDevice(f"token must be {what}")
    return {"platform": platform, "appId": app_id, "token": token}


def public_view(item: Mapping[str, Any]) -> dict:
    """What a user sees of their device: never the token (it addresses their phone)."""
    return {"deviceId": item["deviceId"], "platform": item["platform"], "appId": item.get("appId"),
            "createdAt": item.get("createdAt"), "updatedAt": item.get("updatedAt")}


class Devices:
    def __init__(self, settings: Settings, client=None, *, clock_ms=now_ms):
        self.store = Store(settings, client)
        self.client = self.store.client
        self.table = self.store.name(tables.DEVICES)
        self.clock_ms = clock_ms

    def register(self, user_id: str, fields: Mapping[str, Any]) -> tuple[dict, bool]:
        """Store (or take over) the device for the user. Returns (item, created)."""
        device = device_id(fields["platform"], fields["token"])
        now = self.clock_ms()
        item = {**fields, "deviceId": device, "userId": user_id, "createdAt": now, "updatedAt": now}
        old = self.client.put_item(TableName=self.table, Item=to_item(item), ReturnValues="ALL_OLD")
        previous = old.get("Attributes")
        if previous and previous.get("userId", {}).get("S") == user_id:
            created_at = int(previous["createdAt"]["N"])
            self.client.update_item(TableName=self.table, Key=to_item({"deviceId": device}),
                                    UpdateExpression="SET createdAt = :c",
                                    ExpressionAttributeValues=to_item({":c": created_at}))
            item["createdAt"] = created_at
        self._trim(user_id)
        return item, not previous or previous.get("userId", {}).get("S") != user_id

    def _trim(self, user_id: str) -> None:
        mine = self.of_user(user_id)
        if len(mine) > MAX_DEVICES_PER_USER:
            oldest = sorted(mine, key=lambda d: d.get("updatedAt") or 0)[:len(mine) - MAX_DEVICES_PER_USER]
            for item in oldest:
                self.delete(user_id, item["deviceId"])

    def of_user(self, user_id: str) -> list[dict]:
        """The user's devices (full items, tokens included: for the notifier), by id."""
        return list(self.store.query(tables.DEVICES, index="by_user", KeyConditionExpression="userId = :u",
                                     ExpressionAttributeValues={":u": user_id}))

    def delete(self, user_id: str, device: str) -> bool:
        """Delete the user's device; False if there is none of that id for this user."""
        try:
            self.client.delete_item(TableName=self.table, Key=to_item({"deviceId": device}),
                                    ConditionExpression="userId = :u",
                                    ExpressionAttributeValues=to_item({":u": user_id}))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def forget(self, item: Mapping[str, Any]) -> bool:
        """Delete a device a push service called dead, unless it was registered again since
        (same id, newer updatedAt: the app got the token anew, so it may well work)."""
        try:
            self.client.delete_item(TableName=self.table, Key=to_item({"deviceId": item["deviceId"]}),
                                    ConditionExpression="userId = :u AND updatedAt = :t",
                                    ExpressionAttributeValues=to_item({":u": item["userId"],
                                                                      ":t": item.get("updatedAt") or 0}))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
