"""The local push gateway's ASGI app: FCM, APNs and Web Push at their real paths, plus the
phone/browser side and the log that tests and `invoke push-log` read.

    POST /token                                  FCM's OAuth2 token endpoint (service-account JWT)
    POST /v1/projects/{project}/messages:send    FCM HTTP v1
    POST /3/device/{token}                       APNs (HTTP/2 only, as the real one)
    POST /wp/{id}                                a Web Push subscription's endpoint
    POST /_devices {service, appId | applicationServerKey}  a new app install / browser subscription
    DELETE /_devices/{token or id}               uninstall: the service calls it dead from now on
    POST /_faults {service, status, count, retryAfter}      the next `count` requests get `status`
    GET /_log[?service=&device=&since=]          what was received, and the answer given
    GET /healthz

Installs and the log are kept in the state directory, so a restart (an outage test) keeps them;
issued FCM access tokens are not (the sender gets a 401 and fetches a new one, as from Google).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from local.emulators.push_gateway import checks
from local.emulators.push_gateway.checks import Reject

SERVICES = ("fcm", "apns", "webpush")
MAX_BODY = 64 * 1024


def _pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class State:
    """Installs, faults, issued tokens and the delivery log (thread-safe, persisted)."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.devices_path, self.log_path = self.dir / "gateway-devices.json", self.dir / "deliveries.jsonl"
        self.lock = threading.Lock()
        self.devices: dict[str, dict] = json.loads(self.devices_path.read_text()) if self.devices_path.exists() else {}
        self.log: list[dict] = [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()] \
            if self.log_path.exists() else []
        self.faults: dict[str, dict] = {}
        self.access_tokens: dict[str, float] = {}

    def save_devices(self) -> None:
        tmp = self.devices_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.devices))
        tmp.replace(self.devices_path)

    def record(self, entry: dict) -> dict:
        with self.lock:
            entry = {"seq": len(self.log) + 1, "at": int(time.time() * 1000), **entry}
            self.log.append(entry)
            with self.log_path.open("a") as f:
                f.write(json.dumps(entry) + "\n")
        return entry

    def take_fault(self, service: str) -> dict | None:
        with self.lock:
            fault = self.faults.get(service)
            if not fault or fault["count"] <= 0:
                return None
            fault["count"] -= 1
            return fault


class Gateway:
    def __init__(self, config: dict, state_dir: Path, base_url: str):
        self.config = config            # gateway.json from local.stack.push_keys
        self.base_url = base_url.rstrip("/")
        self.state = State(state_dir)

    # --- ASGI plumbing ----------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if len(body) > MAX_BODY:
                return await self._reply(send, 413, {"error": "too large"})
            if not event.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            status, answer, extra = self.route(scope["method"], scope["path"], scope.get("query_string", b""),
                                               headers, body, scope.get("http_version", "1.1"))
        except Reject as exc:
            status, answer, extra = exc.status, exc.body, exc.headers
        await self._reply(send, status, answer, extra)

    @staticmethod
    async def _reply(send, status: int, body: Any, headers: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        raw = [(b"content-type", b"application/json")] + [(k.encode(), str(v).encode())
                                                          for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": data})

    def route(self, method: str, path: str, query: bytes, headers: dict, body: bytes, http_version: str):
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "GET" and path == "/healthz":
            return 200, {"status": "ok"}, {}
        if method == "POST" and path == "/token":
            return self.fcm_token(dict(parse_qsl(body.decode("utf-8", "replace"))))
        if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "projects"] and parts[3] == "messages:send":
            return self.service("fcm", _fcm_token(body), lambda: self.fcm_send(parts[2], headers, body))
        if method == "POST" and len(parts) == 3 and parts[:2] == ["3", "device"]:
            return self.service("apns", parts[2], lambda: self.apns_send(parts[2], headers, body, http_version))
        if method == "POST" and len(parts) == 2 and parts[0] == "wp":
            return self.service("webpush", parts[1], lambda: self.webpush_send(parts[1], headers, body))
        if path == "/_devices" and method == "POST":
            return 201, self.install(_json(body)), {}
        if len(parts) == 2 and parts[0] == "_devices" and method == "DELETE":
            return self.uninstall(parts[1])
        if path == "/_faults" and method == "POST":
            return self.set_fault(_json(body))
        if path == "/_log" and method == "GET":
            return 200, {"deliveries": self.deliveries(dict(parse_qsl(query.decode())))}, {}
        return 404, {"error": f"no route {method} {path}"}, {}

    # --- the services -----------------------------------------------------------------------
    def service(self, name: str, device: str, handle) -> tuple[int, Any, dict]:
        """A fault set for the service answers first; then the service's own checks. Either
        way the request and the answer go into the log."""
        entry: dict = {"service": name, "device": device}
        fault = self.state.take_fault(name)
        try:
            if fault:
                retry = {"retry-after": str(fault["retryAfter"])} if fault.get("retryAfter") is not None else {}
                raise Reject(fault["status"], {"error": "injected fault"}, retry)
            status, answer, extra, details = handle()
            entry.update(details)
        except Reject as exc:
            status, answer, extra = exc.status, exc.body, exc.headers
            entry["reason"] = answer.get("reason") if isinstance(answer, dict) else None
        entry.update(status=status, delivered=200 <= status < 300)
        self.state.record(entry)
        return status, answer, extra

    def fcm_token(self, form: dict) -> tuple[int, Any, dict]:
        checks.check_token_request(form, self.config["fcm"], checks.GOOGLE_TOKEN_AUDIENCE)
        token = "ya29.local-" + secrets.token_urlsafe(24)
        self.state.access_tokens[token] = time.time() + 3600
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}, {}

    def fcm_send(self, project: str, headers: dict, body: bytes):
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        if self.state.access_tokens.get(token, 0) < time.time():
            raise checks.fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if project != self.config["fcm"]["projectId"]:
            raise checks.fcm_error(403, "PERMISSION_DENIED", f"no access to project {project}")
        message = checks.check_fcm_message(_json(body))
        device = self._device("fcm", message["token"])
        if device is None:
            raise checks.fcm_error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token",
                                   "INVALID_ARGUMENT")
        if not device["alive"]:
            raise checks.fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        name = f"projects/{project}/messages/{secrets.token_hex(8)}"
        return 200, {"name": name}, {}, {"device": message["token"], "appId": device["appId"], "payload": message}

    def apns_send(self, token: str, headers: dict, body: bytes, http_version: str):
        if http_version != "2":
            raise Reject(505, {"reason": "APNs speaks HTTP/2 only"})
        checks.check_apns_request(headers, self.config["apns"])
        payload = checks.check_apns_payload(body)
        device = self._device("apns", token)
        if device is None:
            raise checks.apns_reject(400, "BadDeviceToken")
        if headers["apns-topic"] != device["appId"]:
            raise checks.apns_reject(400, "DeviceTokenNotForTopic")
        if not device["alive"]:
            raise Reject(410, {"reason": "Unregistered", "timestamp": device["goneAt"]})
        apns_id = headers.get("apns-id") or secrets.token_hex(16)
        return 200, None, {"apns-id": apns_id}, {
            "appId": device["appId"], "payload": payload, "httpVersion": http_version,
            "headers": {k: headers[k] for k in ("apns-push-type", "apns-collapse-id", "apns-topic", "apns-priority",
                                                "apns-expiration") if k in headers}}

    def webpush_send(self, sub_id: str, headers: dict, body: bytes):
        device = self._device("webpush", sub_id)
        if device is None:
            raise Reject(404, {"error": "no such subscription"})
        if not device["alive"]:
            raise Reject(410, {"error": "subscription expired or unsubscribed"})
        checks.check_webpush_headers(headers)
        checks.check_vapid(headers.get("authorization", ""), self.base_url, device.get("applicationServerKey"))
        key = serialization.load_pem_private_key(device["privateKey"].encode(), None)
        plain = checks.decrypt_webpush(body, key, checks.b64url_decode(device["auth"]))
        try:
            payload = json.loads(plain)
        except ValueError:
            payload = plain.decode("utf-8", "replace")
        return 201, None, {"location": f"{self.base_url}/wp/{sub_id}/m/{secrets.token_hex(6)}"}, {
            "appId": device["appId"], "payload": payload,
            "headers": {k: headers[k] for k in ("ttl", "topic", "urgency") if k in headers}}

    # --- the phone / browser side ------------------------------------------------------------
    def _device(self, service: str, key: str) -> dict | None:
        device = self.state.devices.get(key)
        return device if device and device["service"] == service else None

    def install(self, req: Any) -> dict:
        service = req.get("service") if isinstance(req, dict) else None
        if service not in SERVICES:
            raise Reject(400, {"error": f"service must be one of {', '.join(SERVICES)}"})
        app_id = str(req.get("appId") or "app.tidings.local")
        with self.state.lock:
            if service == "fcm":
                key = secrets.token_urlsafe(16) + ":APA91b" + secrets.token_urlsafe(100)
                out = {"token": key}
                self.state.devices[key] = {"service": service, "appId": app_id, "alive": True}
            elif service == "apns":
                key = secrets.token_hex(32)
                out = {"token": key}
                self.state.devices[key] = {"service": service, "appId": app_id, "alive": True}
            else:
                private = ec.generate_private_key(ec.SECP256R1())
                key, auth = secrets.token_urlsafe(16), secrets.token_bytes(16)
                public = private.public_key().public_bytes(serialization.Encoding.X962,
                                                           serialization.PublicFormat.UncompressedPoint)
                out = {"endpoint": f"{self.base_url}/wp/{key}", "expirationTime": None,
                       "keys": {"p256dh": _b64(public), "auth": _b64(auth)}}
                self.state.devices[key] = {"service": service, "appId": app_id, "alive": True,
                                           "privateKey": _pem(private), "auth": _b64(auth),
                                           "applicationServerKey": req.get("applicationServerKey")}
            self.state.save_devices()
        return out

    def uninstall(self, key: str) -> tuple[int, Any, dict]:
        with self.state.lock:
            device = self.state.devices.get(key)
            if device is None:
                return 404, {"error": "no such device"}, {}
            device.update(alive=False, goneAt=int(time.time() * 1000))
            self.state.save_devices()
        return 204, None, {}

    def set_fault(self, req: Any) -> tuple[int, Any, dict]:
        if not isinstance(req, dict) or req.get("service") not in SERVICES or not isinstance(req.get("status"), int):
            raise Reject(400, {"error": "{service, status, count?, retryAfter?} required"})
        fault = {"status": req["status"], "count": int(req.get("count", 1)), "retryAfter": req.get("retryAfter")}
        with self.state.lock:
            self.state.faults[req["service"]] = fault
        return 200, fault, {}

    def deliveries(self, query: dict) -> list[dict]:
        since = int(query.get("since", 0))
        with self.state.lock:
            return [e for e in self.state.log if e["seq"] > since
                    and query.get("service") in (None, e["service"]) and query.get("device") in (None, e["device"])]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise Reject(400, {"error": "body is not JSON"}) from None


def _fcm_token(body: bytes) -> str:
    """The target token of an FCM request, for the log (also of a refused one)."""
    try:
        return str(json.loads(body)["message"]["token"])
    except (ValueError, KeyError, TypeError):
        return ""


def _b64(data: bytes) -> str:
    return checks.base64.urlsafe_b64encode(data).rstrip(b"=").decode()
