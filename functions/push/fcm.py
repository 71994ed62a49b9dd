"""FCM HTTP v1: a service-account JWT is exchanged for an OAuth2 access token (google-auth
does both, and refreshes it before it expires), then `POST {fcm}/v1/projects/{id}/messages:send`.

Dead: 404, or the FcmError detail `UNREGISTERED`. 401 once: the token is fetched again.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

import requests
from google.auth import exceptions as google_exceptions
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import service_account

from functions.push.sending import Notification, Outcome, Result, by_status
from functions.settings import Settings

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


def fcm_error_code(body: Any) -> str:
    """The FcmError errorCode (e.g. UNREGISTERED) of an error answer, or its status."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and detail.get("errorCode"):
            return str(detail["errorCode"])
    return str(error.get("status") or "")


def message(token: str, n: Notification) -> dict:
    return {"message": {
        "token": token,
        "notification": {"title": n.title, "body": n.body},
        "data": n.data(),
        "android": {"collapse_key": n.collapse_key, "priority": "high",
                    "notification": {"tag": n.collapse_key, "notification_count": n.badge}},
        "apns": {"headers": {"apns-collapse-id": n.collapse_key},
                 "payload": {"aps": {"badge": n.badge, "thread-id": n.room_id}}},
    }}


class FcmSender:
    def __init__(self, settings: Settings, account: Mapping[str, Any], session: requests.Session | None = None):
        # The token endpoint is a setting, not the JSON's token_uri: locally it is the gateway's.
        info = {**account, "token_uri": settings.push_fcm_token_url}
        self.credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        self.url = f"{settings.push_fcm_url.rstrip('/')}/v1/projects/{account['project_id']}/messages:send"
        self.session = session or requests.Session()
        self.timeout = settings.push_timeout_s
        self._lock = threading.Lock()

    def _token(self, stale: str | None = None) -> str:
        with self._lock:  # one refresh for all the threads that found the token stale
            if not self.credentials.valid or self.credentials.token == stale:
                self.credentials.refresh(GoogleRequest(self.session))
            return self.credentials.token

    def attempt(self, device: Mapping[str, Any], n: Notification) -> Result:
        body = message(device["token"], n)
        try:
            token = self._token()
            response = self.session.post(self.url, json=body, timeout=self.timeout,
                                         headers={"authorization": f"Bearer {token}"})
            if response.status_code == 401:   # revoked or from before a restart: fetch anew, once
                response = self.session.post(self.url, json=body, timeout=self.timeout,
                                             headers={"authorization": f"Bearer {self._token(stale=token)}"})
        except (requests.RequestException, google_exceptions.TransportError) as exc:
            return Result(Outcome.RETRY_LATER, None, f"unreachable: {type(exc).__name__}")
        except google_exceptions.RefreshError as exc:
            # The token endpoint answered, but no: 5xx is worth waiting for, a refused grant not.
            retryable = getattr(exc, "retryable", False)
            return Result(Outcome.RETRY_LATER if retryable else Outcome.FAILED, None, f"token refused: {exc}"[:300])
        try:
            answer = response.json()
        except ValueError:
            answer = None
        code = fcm_error_code(answer)
        if response.status_code == 404 or code == "UNREGISTERED":
            return Result(Outcome.DEAD, response.status_code, code or "NOT_FOUND")
        return by_status(response.status_code, response.headers, code)
