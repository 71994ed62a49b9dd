"""Web Push: RFC 8030 delivery to the subscription's endpoint, the payload encrypted per
RFC 8291 (aes128gcm, by pywebpush / http_ece) to the browser's p256dh key and auth secret,
and a VAPID (RFC 8292) JWT from py-vapid. `Topic` collapses a room's pending pushes.

Dead: 404 or 410. The endpoint's host is checked again before each send (it is a URL a
client gave): only the push services in TIDINGS_PUSH_WEBPUSH_HOSTS are ever called.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Mapping
from urllib.parse import urlsplit

import requests
from py_vapid import Vapid02
from pywebpush import WebPusher

from functions.push.devices import InvalidDevice, check_endpoint
from functions.push.sending import Notification, Outcome, Result, by_status
from functions.settings import Settings

TTL_S = 24 * 3600
VAPID_EXP_S = 12 * 3600           # RFC 8292: at most 24 h
VAPID_RENEW_S = 6 * 3600


def payload(n: Notification) -> dict:
    return {"title": n.title, "body": n.body, "badge": n.badge, "tag": n.collapse_key, "data": n.data()}


class WebPushSender:
    def __init__(self, settings: Settings, keys: Mapping[str, str], session: requests.Session | None = None,
                 clock=time.time):
        self.settings = settings
        self.vapid = Vapid02.from_pem(keys["vapidPrivateKey"].encode())
        self.subject = keys["subject"]
        self.session = session or requests.Session()
        self.clock = clock
        self._lock = threading.Lock()
        self._signed: dict[str, tuple[str, float]] = {}   # audience -> (Authorization, signed at)

    def authorization(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            now = self.clock()
            cached = self._signed.get(audience)
            if cached is None or now - cached[1] > VAPID_RENEW_S:
                claims = {"sub": self.subject, "aud": audience, "exp": int(now) + VAPID_EXP_S}
                cached = self._signed[audience] = (self.vapid.sign(claims)["Authorization"], now)
            return cached[0]

    def attempt(self, device: Mapping[str, Any], n: Notification) -> Result:
        subscription = device["subscription"]
        try:
            check_endpoint(subscription["endpoint"], self.settings)
        except InvalidDevice as exc:
            return Result(Outcome.FAILED, None, str(exc))
        headers = {"authorization": self.authorization(subscription["endpoint"]), "urgency": "high",
                   "topic": n.topic}
        try:
            response = WebPusher(subscription, requests_session=self.session).send(
                data=json.dumps(payload(n)), headers=headers, ttl=TTL_S, content_encoding="aes128gcm",
                timeout=self.settings.push_timeout_s)
        except requests.RequestException as exc:
            return Result(Outcome.RETRY_LATER, None, f"unreachable: {type(exc).__name__}")
        if response.status_code in (404, 410):
            return Result(Outcome.DEAD, response.status_code, "subscription gone")
        return by_status(response.status_code, response.headers, response.text[:200])
