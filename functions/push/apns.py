"""APNs: HTTP/2 (httpx with h2), token-based auth with an ES256 provider JWT (PyJWT), and the
headers APNs reads: apns-push-type, apns-topic (the app's bundle id = the device's appId),
apns-collapse-id (one notification per room), apns-priority, apns-expiration.

Dead: 410 (reason Unregistered). An ExpiredProviderToken makes a new JWT and tries once more.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Mapping

import httpx
import jwt

from functions.push.sending import Notification, Outcome, Result, by_status
from functions.settings import Settings

# APNs refuses tokens older than an hour and throttles ones renewed more often than every 20 min.
TOKEN_REFRESH_S = 40 * 60
EXPIRATION_S = 24 * 3600


def payload(n: Notification) -> dict:
    return {"aps": {"alert": {"title": n.title, "body": n.body}, "badge": n.badge, "sound": "default",
                    "thread-id": n.room_id}, **n.data()}


class ApnsSender:
    def __init__(self, settings: Settings, key: Mapping[str, str], client: httpx.Client | None = None,
                 clock=time.time):
        self.key_id, self.team_id, self.private_key = key["keyId"], key["teamId"], key["privateKey"]
        self.url = settings.push_apns_url.rstrip("/")
        # http1=False: HTTP/2 only, by ALPN over TLS, or with prior knowledge on plain http (locally).
        self.client = client or httpx.Client(http1=False, http2=True, timeout=settings.push_timeout_s)
        self.clock = clock
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None

    def provider_token(self, renew: bool = False) -> str:
        with self._lock:
            now = self.clock()
            if renew or self._token is None or now - self._token[1] > TOKEN_REFRESH_S:
                token = jwt.encode({"iss": self.team_id, "iat": int(now)}, self.private_key, algorithm="ES256",
                                   headers={"kid": self.key_id})
                self._token = (token, now)
            return self._token[0]

    def attempt(self, device: Mapping[str, Any], n: Notification) -> Result:
        headers = {"apns-push-type": "alert", "apns-topic": device["appId"], "apns-collapse-id": n.collapse_key,
                   "apns-priority": "10", "apns-expiration": str(int(self.clock()) + EXPIRATION_S)}
        url = f"{self.url}/3/device/{device['token']}"
        try:
            response = self._post(url, headers, n, renew=False)
            if response.status_code == 403 and _reason(response) == "ExpiredProviderToken":
                response = self._post(url, headers, n, renew=True)
        except httpx.HTTPError as exc:
            return Result(Outcome.RETRY_LATER, None, f"unreachable: {type(exc).__name__}")
        reason = _reason(response)
        if response.status_code == 410:
            return Result(Outcome.DEAD, 410, reason or "Unregistered")
        return by_status(response.status_code, response.headers, reason)

    def _post(self, url: str, headers: dict, n: Notification, renew: bool) -> httpx.Response:
        auth = {"authorization": f"bearer {self.provider_token(renew)}"}
        return self.client.post(url, json=payload(n), headers={**headers, **auth})


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("reason") or "") if isinstance(body, dict) else ""
