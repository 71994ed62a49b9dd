"""Helpers for the push tests (import as `from push_harness import ...`): the phone / browser
side of the local push gateway and its log."""

from __future__ import annotations

import time

import requests


class PushGateway:
    """The phone / browser side of the local push gateway, and what it recorded."""

    def __init__(self, url: str, vapid_key: str | None):
        self.url, self.vapid_key = url, vapid_key

    def install(self, service: str, app_id: str = "app.tidings.test") -> dict:
        body = {"service": service, "appId": app_id}
        if service == "webpush":
            body["applicationServerKey"] = self.vapid_key
        response = requests.post(f"{self.url}/_devices", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def uninstall(self, key: str) -> None:
        requests.delete(f"{self.url}/_devices/{key}", timeout=5).raise_for_status()

    def fault(self, service: str, status: int, count: int = 1, retry_after: float | None = None) -> None:
        requests.post(f"{self.url}/_faults", json={"service": service, "status": status, "count": count,
                                                   "retryAfter": retry_after}, timeout=5).raise_for_status()

    def log(self, device: str | None = None, delivered: bool | None = True) -> list[dict]:
        params = {"device": device} if device else {}
        entries = requests.get(f"{self.url}/_log", params=params, timeout=5).json()["deliveries"]
        return [e for e in entries if delivered is None or e["delivered"] == delivered]

    def wait_log(self, device: str, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            entries = self.log(device)
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.1)


def webpush_key(subscription_endpoint: str) -> str:
    return subscription_endpoint.rsplit("/", 1)[1]
